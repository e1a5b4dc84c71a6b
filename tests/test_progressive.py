"""Canary and blue/green on Kubernetes, end to end through the pipeline: the official client
against the local API server (tests/kube_server.py), the judge fed by the local Prometheus
(tests/prometheus_server.py). Each strategy to completion; a bad canary judged failing and
aborted by itself (after policy allowed it); a person's Abort and Promote through the thread's
buttons; a stalled canary reported; 409s during the switch retried."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.channel import Reply, ReplyKind
from tests.conftest import Harness, make_harness
from tests.kube_server import LocalKube
from tests.prometheus_server import LocalPrometheus
from tests.test_kubernetes_deployer import deployment

NS = "stg"


@dataclass
class Rig:
    kube: LocalKube
    prom: LocalPrometheus
    h: Harness

    def image(self, name: str = "checkout") -> str | None:
        dep = self.kube.objects.get(("deployments", NS, name))
        if dep is None:
            return None
        return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])

    def selector(self) -> dict[str, str]:
        return dict(self.kube.objects[("services", NS, "checkout")]["spec"]["selector"])

    def history_of(self, plural: str, name: str) -> list[dict[str, Any]]:
        kind = {"deployments": "Deployment", "services": "Service"}[plural]
        return [
            o
            for _, _, o in self.kube.history
            if o["kind"] == kind and o["metadata"]["name"] == name
        ]

    def replies(self) -> list[Reply]:
        return [p.reply for p in self.h.channel.posts]

    def button(self, label: str) -> str:
        for reply in reversed(self.replies()):
            for b in reply.buttons:
                if b.label == label:
                    return b.value
        raise AssertionError(f"no {label} button in {[r.text for r in self.replies()]}")


def service() -> dict[str, Any]:
    return {
        "metadata": {"name": "checkout", "namespace": NS},
        "spec": {"selector": {"app": "checkout"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


async def _rig(tmp_path: Path, **settings: Any) -> AsyncIterator[Rig]:
    kube = await LocalKube().start()
    await kube.put("deployments", NS, deployment("checkout", "checkout:1.4.0"))
    kube.objects[("deployments", NS, "checkout")]["metadata"]["namespace"] = NS
    await kube.put("services", NS, service())
    prom = await LocalPrometheus().start()
    controller = asyncio.create_task(kube.run_controller(0.01))
    options: dict[str, Any] = {
        "deploy_target": "kubernetes",
        "kube_host": kube.url,
        "kube_namespaces": {"staging": NS},
        "kube_poll_seconds": 0.02,
        "kube_progress_deadline_seconds": 5,
        "prometheus_url": prom.url,
        "canary_analysis_seconds": 0.05,
        "bluegreen_window_seconds": 0.05,
        "canary_decision_seconds": 2,
        **settings,
    }
    h = make_harness(tmp_path / "home", **options)
    try:
        yield Rig(kube=kube, prom=prom, h=h)
    finally:
        controller.cancel()
        await h.app.close()
        await prom.stop()
        await kube.stop()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for r in _rig(tmp_path):
        yield r


@pytest.fixture
async def slow_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """Steps long enough for a person to click in between."""
    async for r in _rig(tmp_path, canary_analysis_seconds=30, bluegreen_window_seconds=30):
        yield r


async def _until(predicate: Any, seconds: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def test_canary_steps_judged_and_promoted(rig: Rig) -> None:
    await rig.h.say("alice", "/deploy checkout 1.5.0 to staging --strategy canary")
    texts = rig.h.channel.texts()
    assert rig.image() == "checkout:1.5.0", texts
    assert ("deployments", NS, "checkout-canary") not in rig.kube.objects
    # Replica ratio beside 4 stable pods: 1 (20 %), 2 (33 %), 4 (50 %).
    scaled = [o["spec"]["replicas"] for o in rig.history_of("deployments", "checkout-canary")]
    assert [r for i, r in enumerate(scaled) if i == 0 or r != scaled[i - 1]] == [0, 1, 2, 4]
    canary = rig.history_of("deployments", "checkout-canary")[0]
    assert canary["spec"]["selector"]["matchLabels"]["shipmate.dev/track"] == "canary"
    assert canary["spec"]["template"]["metadata"]["labels"]["app"] == "checkout"
    steps = [r for r in rig.replies() if r.text.startswith("Canary at")]
    assert all({b.label for b in r.buttons} == {"Promote", "Abort"} for r in steps)
    verdicts = [r for r in rig.replies() if r.text.startswith("Canary verdict")]
    assert [v.text.split(":")[0] for v in verdicts] == [
        "Canary verdict at 10%",
        "Canary verdict at 25%",
        "Canary verdict at 50%",
    ]
    for v in verdicts:
        assert v.kind is ReplyKind.SUCCESS and "pass" in v.text
        assert dict(v.fields)["success_rate"].startswith("Pass, effect size")
        assert dict(v.fields)["latency_p95"].startswith("Pass, effect size")
    assert any('version="1.5.0"' in q for q in rig.prom.queries)
    assert any('version="1.4.0"' in q for q in rig.prom.queries)
    assert texts[-1].startswith("Done: checkout in staging is on 1.5.0: 3 canary steps passed")


async def test_a_bad_canary_is_aborted_by_itself_after_policy_allows_it(rig: Rig) -> None:
    rig.prom.bad_versions.add("1.6.0")
    await rig.h.say("alice", "/deploy checkout 1.6.0 to staging --strategy canary")
    texts = rig.h.channel.texts()
    verdict = next(r for r in rig.replies() if r.text.startswith("Canary verdict at 10%"))
    assert verdict.kind is ReplyKind.ERROR and "fail" in verdict.text
    fields = dict(verdict.fields)
    assert fields["success_rate"].startswith("Low") and fields["latency_p95"].startswith("High")
    assert any("Policy allows the automatic deploy.abort" in t for t in texts)
    assert texts[-1].startswith("Failed and rolled back: The canary of 1.6.0 was aborted")
    assert rig.image() == "checkout:1.4.0"
    assert ("deployments", NS, "checkout-canary") not in rig.kube.objects
    automatic = [
        r.payload
        for r in rig.h.app.audit.records()
        if r.kind == "decision" and r.actor == "shipmate"
    ]
    assert automatic and automatic[0]["decision"]["rules"] == ["deploy.automatic_rollback"]


async def test_a_person_aborts_a_canary_with_the_button(slow_rig: Rig) -> None:
    rig = slow_rig
    await rig.h.say("alice", "/deploy checkout 1.5.0 to staging --strategy canary", wait=False)
    await _until(lambda: any("Canary at 10%" in t for t in rig.h.channel.texts()))
    await rig.h.say("carol", rig.button("Abort"), wait=False)  # a viewer may not
    await _until(lambda: any(r.kind is ReplyKind.DENIED for r in rig.replies()))
    assert rig.h.app.pipeline.rollouts.active("checkout", "staging") is not None
    await rig.h.say("bob", rig.button("Abort"))
    texts = rig.h.channel.texts()
    assert any(
        t.startswith("Failed and rolled back") and "aborted by bob at 10%" in t for t in texts
    )
    assert rig.image() == "checkout:1.4.0"
    assert ("deployments", NS, "checkout-canary") not in rig.kube.objects
    assert rig.h.app.pipeline.rollouts.active("checkout", "staging") is None


async def test_a_person_promotes_a_canary_with_the_button(slow_rig: Rig) -> None:
    rig = slow_rig
    await rig.h.say("alice", "/deploy checkout 1.5.0 to staging --strategy canary", wait=False)
    await _until(lambda: any("Canary at 10%" in t for t in rig.h.channel.texts()))
    assert rig.button("Promote") == "/promote checkout staging"
    await rig.h.say("bob", rig.button("Promote"))
    texts = rig.h.channel.texts()
    assert any(t.startswith("Done:") and "promoted by bob at 10%" in t for t in texts), texts
    assert rig.image() == "checkout:1.5.0"
    assert ("deployments", NS, "checkout-canary") not in rig.kube.objects


async def test_steering_with_nothing_in_flight_is_an_answer(rig: Rig) -> None:
    await rig.h.say("bob", "/promote checkout staging")
    assert rig.h.channel.kinds() == [ReplyKind.ERROR]
    assert "no canary or blue/green rollout in flight" in rig.h.channel.texts()[0]


async def test_a_stalled_canary_is_reported_and_removed(tmp_path: Path) -> None:
    async for rig in _rig(tmp_path, kube_progress_deadline_seconds=0.5):
        rig.kube.failing_images.add("checkout:1.7.0")
        await rig.h.say("alice", "/deploy checkout 1.7.0 to staging --strategy canary")
        texts = rig.h.channel.texts()
        assert any(t.startswith("The canary stopped: checkout-canary:") for t in texts), texts
        assert texts[-1].startswith("Failed and rolled back")
        assert ("deployments", NS, "checkout-canary") not in rig.kube.objects
        assert rig.image() == "checkout:1.4.0"


async def test_bluegreen_switches_the_selector_and_retires_blue(rig: Rig) -> None:
    rig.kube.conflicts_to_inject = 2  # the Service replaces meet 409s and are retried
    await rig.h.say("alice", "/deploy checkout 1.5.0 to staging --strategy bluegreen")
    texts = rig.h.channel.texts()
    assert texts[-1].startswith("Done: checkout in staging is on 1.5.0"), texts
    selectors = [json.dumps(o["spec"]["selector"]) for o in rig.history_of("services", "checkout")]
    hashes = [json.loads(s).get("pod-template-hash") for s in selectors]
    # pinned to blue, switched to green, restored
    assert hashes[0] is None and hashes[-1] is None
    distinct = [h for i, h in enumerate(hashes) if h and h != hashes[i - 1]]
    assert len(distinct) == 2, selectors
    assert rig.selector() == {"app": "checkout"}
    annotations = rig.kube.objects[("services", NS, "checkout")]["metadata"].get("annotations")
    assert "shipmate.dev/original-selector" not in (annotations or {})
    assert ("deployments", NS, "checkout-green") not in rig.kube.objects
    assert rig.image() == "checkout:1.5.0"
    assert any(t.startswith("Switched traffic to green (1.5.0)") for t in texts)
    health = [r for r in rig.replies() if r.text.startswith("Green")]
    assert [r.text.split(":")[0] for r in health if r.fields] == [
        "Green health before the switch",
        "Green under live traffic",
    ]


async def test_bluegreen_with_an_unhealthy_green_never_switches(rig: Rig) -> None:
    rig.prom.bad_versions.add("1.6.0")
    await rig.h.say("alice", "/deploy checkout 1.6.0 to staging --strategy bluegreen")
    texts = rig.h.channel.texts()
    assert texts[-1].startswith("Failed and rolled back: Green (1.6.0) failed its health check")
    assert not any(t.startswith("Switched traffic") for t in texts)
    assert rig.selector() == {"app": "checkout"}
    assert ("deployments", NS, "checkout-green") not in rig.kube.objects
    assert rig.image() == "checkout:1.4.0"


async def test_bluegreen_rolled_back_by_a_person_in_the_window(slow_rig: Rig) -> None:
    rig = slow_rig
    await rig.h.say("alice", "/deploy checkout 1.5.0 to staging --strategy bluegreen", wait=False)
    await _until(lambda: any(t.startswith("Switched traffic") for t in rig.h.channel.texts()))
    green_hash = rig.selector()["pod-template-hash"]
    assert ("replicasets", NS, f"checkout-green-{green_hash}") in rig.kube.objects
    await rig.h.say("bob", rig.button("Abort"))
    texts = rig.h.channel.texts()
    assert any("was rolled back by bob" in t for t in texts), texts
    assert rig.selector() == {"app": "checkout"}
    assert rig.image() == "checkout:1.4.0"
    assert ("deployments", NS, "checkout-green") not in rig.kube.objects


async def test_runbook_restart_and_scale_act_on_the_cluster(rig: Rig) -> None:
    await rig.h.say(
        "alice", "/runbook run scale-out service=checkout environment=staging replicas=6"
    )
    dep = rig.kube.objects[("deployments", NS, "checkout")]
    assert dep["spec"]["replicas"] == 6
    await rig.h.say("alice", "/runbook run restart-deployment service=checkout environment=staging")
    dep = rig.kube.objects[("deployments", NS, "checkout")]
    annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    texts = rig.h.channel.texts()
    assert any("checkout scaled from 4 to 6 replicas" in t for t in texts), texts
    assert any(t.startswith("2. Rolling restart of checkout: checkout restarted") for t in texts)


async def test_a_rolling_deploy_that_breaches_its_slo_rolls_back(rig: Rig) -> None:
    rig.prom.bad_versions.add("1.6.0")
    await rig.h.say("alice", "/deploy checkout 1.6.0 to staging")
    texts = rig.h.channel.texts()
    assert any(t.startswith("SLO check of 1.6.0: success rate 89.") for t in texts), texts
    assert any("Policy allows the automatic deploy.rollback" in t for t in texts)
    assert texts[-1].startswith(
        "Failed and rolled back: checkout:1.6.0 failed (SLO breached: success rate"
    )
    assert rig.image() == "checkout:1.4.0"
    await rig.h.say("alice", "/deploy checkout 1.5.0 to staging")
    assert rig.image() == "checkout:1.5.0"
    assert any(t.startswith("SLO check of 1.5.0: success rate 99") for t in rig.h.channel.texts())
