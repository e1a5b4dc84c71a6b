"""The Kubernetes deploy target through the official client against a local API server
(tests/kube_server.py): rolling to completion, a stalled rollout rolled back, strategic merge
leaving other containers alone, 409s retried, watch with timeouts and 410, the tripwire."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import watch

from bot.models import Action, Origin, Principal
from tests.kube_server import LocalKube
from tools.guard import WriteOutsideGate, granted
from tools.kubernetes.deployer import KubernetesDeployer

NS = "shop"


def deployment(name: str, image: str, replicas: int = 4) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "ports": [{"containerPort": 8080}],
                            "env": [{"name": "MODE", "value": "live"}],
                        },
                        {"name": "sidecar", "image": "envoy:1.30"},
                    ]
                },
            },
        },
    }


@pytest.fixture
async def kube() -> AsyncIterator[LocalKube]:
    server = await LocalKube().start()
    await server.put("deployments", NS, deployment("checkout", "checkout:1.4.0"))
    controller = asyncio.create_task(server.run_controller(0.01))
    yield server
    controller.cancel()
    await server.stop()


def _deployer(kube: LocalKube) -> KubernetesDeployer:
    return KubernetesDeployer.for_host(
        kube.url, namespace=NS, poll_seconds=0.02, progress_deadline_seconds=10
    )


def _action(name: str, **params: str) -> Action:
    return Action(
        name=name,
        target="checkout/production",
        params={"service": "checkout", "environment": "production", **params},
        requester=Principal(name="alice", roles=("deployer",)),
        origin=Origin(transport="test", channel="#t"),
        correlation_id="c",
        idempotency_key="k",
    )


async def _collect() -> tuple[list[str], Any]:
    said: list[str] = []

    async def progress(text: str) -> None:
        said.append(text)

    return said, progress


async def test_rolling_update_keeps_other_containers(kube: LocalKube) -> None:
    deployer = _deployer(kube)
    said, progress = await _collect()
    with granted("a1"):
        result = await deployer.rollout(_action("deploy.rollout", version="1.5.0"), progress)
    assert result.status == "succeeded", result.summary
    dep = kube.objects[("deployments", NS, "checkout")]
    containers = {c["name"]: c for c in dep["spec"]["template"]["spec"]["containers"]}
    assert containers["checkout"]["image"] == "checkout:1.5.0"
    assert containers["checkout"]["env"] == [{"name": "MODE", "value": "live"}]
    assert containers["checkout"]["ports"] == [{"containerPort": 8080}]
    assert containers["sidecar"]["image"] == "envoy:1.30"
    assert said[0].startswith("Set checkout to checkout:1.5.0")
    assert any("4/4" in s for s in said)
    revisions = sorted(
        o["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        for (p, _, _), o in kube.objects.items()
        if p == "replicasets"
    )
    assert revisions == ["1", "2"]


async def test_a_stalled_rollout_is_reported_and_rolled_back(kube: LocalKube) -> None:
    kube.failing_images.add("checkout:1.6.0")
    said, progress = await _collect()
    with granted("a2"):
        result = await _deployer(kube).rollout(_action("deploy.rollout", version="1.6.0"), progress)
    assert result.status == "rolled_back", result.summary
    assert "ProgressDeadlineExceeded" in result.summary or "timed out" in result.summary
    assert any("stalled" in s for s in said)
    image = kube.objects[("deployments", NS, "checkout")]["spec"]["template"]["spec"]["containers"][
        0
    ]["image"]
    assert image == "checkout:1.4.0"


async def test_conflicts_are_retried_from_a_fresh_read(kube: LocalKube) -> None:
    kube.conflicts_to_inject = 2
    with granted("a3"):
        result = await _deployer(kube).pause(_action("deploy.pause"), (await _collect())[1])
    assert result.status == "succeeded"
    assert kube.objects[("deployments", NS, "checkout")]["spec"]["paused"] is True


async def test_writers_refuse_outside_the_gate(kube: LocalKube) -> None:
    with pytest.raises(WriteOutsideGate):
        await _deployer(kube).rollout(
            _action("deploy.rollout", version="9.9.9"), (await _collect())[1]
        )
    image = kube.objects[("deployments", NS, "checkout")]["spec"]["template"]["spec"]["containers"][
        0
    ]["image"]
    assert image == "checkout:1.4.0"


def _api(kube: LocalKube) -> tuple[k8s.AppsV1Api, k8s.ApiClient]:
    api_client = k8s.ApiClient(k8s.Configuration(host=kube.url))
    return k8s.AppsV1Api(api_client), api_client


async def test_wire_protocol_patches_conflicts_and_watch(kube: LocalKube) -> None:
    apps, _ = _api(kube)
    read = await asyncio.to_thread(apps.read_namespaced_deployment, "checkout", NS)
    stale = read.metadata.resource_version
    await asyncio.to_thread(
        apps.patch_namespaced_deployment,
        "checkout",
        NS,
        {"metadata": {"labels": {"team": "payments"}}},
    )
    read.spec.replicas = 9
    with pytest.raises(k8s.ApiException) as conflict:
        await asyncio.to_thread(apps.replace_namespaced_deployment, "checkout", NS, read)
    assert conflict.value.status == 409
    assert json.loads(conflict.value.body)["reason"] == "Conflict"
    # A JSON patch list goes as application/json-patch+json.
    await asyncio.to_thread(
        apps.patch_namespaced_deployment,
        "checkout",
        NS,
        [{"op": "replace", "path": "/spec/replicas", "value": 6}],
    )
    assert kube.objects[("deployments", NS, "checkout")]["spec"]["replicas"] == 6
    with pytest.raises(k8s.ApiException) as missing:
        await asyncio.to_thread(apps.read_namespaced_deployment, "nope", NS)
    assert missing.value.status == 404

    def watch_events() -> list[str]:
        w = watch.Watch()
        return [
            e["type"]
            for e in w.stream(
                apps.list_namespaced_deployment, NS, resource_version=stale, timeout_seconds=1
            )
        ]

    events = await asyncio.to_thread(watch_events)
    assert "MODIFIED" in events
    kube.compacted_before = 10**9

    def watch_gone() -> None:
        w = watch.Watch()
        for _ in w.stream(
            apps.list_namespaced_deployment, NS, resource_version="1", timeout_seconds=1
        ):
            pass

    with pytest.raises(k8s.ApiException) as gone:
        await asyncio.to_thread(watch_gone)
    assert gone.value.status == 410


async def test_deploy_through_the_pipeline_on_kubernetes(tmp_path: Any) -> None:
    """`/deploy` in chat, approved by on-call, rolled out on the (local) cluster."""
    from tests.conftest import make_harness

    server = await LocalKube().start()
    for namespace in ("prod", "stg"):
        d = deployment("checkout", "registry.local/checkout:1.4.0")
        d["metadata"]["namespace"] = namespace
        await server.put("deployments", namespace, d)
    controller = asyncio.create_task(server.run_controller(0.01))
    h = make_harness(
        tmp_path / "home",
        deploy_target="kubernetes",
        kube_host=server.url,
        kube_namespaces={"production": "prod", "staging": "stg"},
        kube_image_template="registry.local/{service}:{version}",
        kube_poll_seconds=0.02,
        kube_progress_deadline_seconds=10,
    )
    await h.say("carol", "/status checkout")
    assert "checkout   production  1.4.0" in h.channel.texts()[-1]
    assert "health unknown" in h.channel.texts()[-1]
    await h.say("alice", "/deploy checkout 1.5.0 to production")
    await h.say("bob", "approve")
    image = server.objects[("deployments", "prod", "checkout")]["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    assert image == "registry.local/checkout:1.5.0"
    assert (
        server.objects[("deployments", "stg", "checkout")]["spec"]["template"]["spec"][
            "containers"
        ][0]["image"]
        == "registry.local/checkout:1.4.0"
    )
    assert any("Done: checkout is on registry.local/checkout:1.5.0" in t for t in h.channel.texts())
    await h.say("bob", "/rollback checkout production")
    state = await h.app.pipeline.fleet.service("checkout", "production")
    assert state is not None and state.version == "1.4.0"
    controller.cancel()
    await h.app.close()
    await server.stop()
