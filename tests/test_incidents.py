"""Incidents: alert intake (Alertmanager's format, PagerDuty v3 webhooks with their signature
known-answer test, a generic alert), runbooks as validated data, and the whole loop end to end
through the real Slack client libraries against the local Slack (tests/slack_server.py): an
Alertmanager alert posted to `shipmate serve` -> incident declared -> war room created with
on-call invited -> runbook suggested, then run in the room with an on-call approval ->
timeline complete -> resolved -> room archived."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.alerts import AlertError, from_alertmanager, from_generic, from_pagerduty, verify_pagerduty
from bot.compose import App, build
from bot.doors.slack.door import SlackDoor
from bot.incidents import channel_name
from bot.paths import runbooks_dir
from bot.runbooks import RunbookError, holds, load_runbooks, render
from bot.serve import Server
from bot.settings import Settings
from tests.slack_payloads import (
    app_mention,
    button_click,
    form,
    interactive_form,
    signed,
    slash_command,
)
from tests.slack_server import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, LocalSlack, Message

DATA = Path(__file__).parent / "data"
ALERTS = "C0INCIDENTS"


def alertmanager(status: str = "firing", fingerprint: str = "c0ffee01") -> dict[str, Any]:
    """An Alertmanager webhook body in the documented version-4 shape."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="CheckoutErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "shipmate",
        "groupLabels": {"alertname": "CheckoutErrorRate"},
        "commonLabels": {"alertname": "CheckoutErrorRate", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local:9093",
        "notification_reason": "",
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "CheckoutErrorRate",
                    "service": "checkout",
                    "severity": "critical",
                },
                "annotations": {"summary": "checkout 5xx errors above 5%"},
                "startsAt": "2026-12-01T03:12:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.local/graph?g0.expr=rate",
                "fingerprint": fingerprint,
            }
        ],
    }


def reaction_added(user: str, channel: str, ts: str) -> dict[str, Any]:
    """An Events API reaction_added callback, on the recorded app_mention envelope."""
    body = app_mention("x", user, channel)
    body["event"] = {
        "type": "reaction_added",
        "user": user,
        "reaction": "pushpin",
        "item": {"type": "message", "channel": channel, "ts": ts},
        "item_user": "UBOT",
        "event_ts": f"{time.time():.6f}",
    }
    return body


# ---- intake formats ----------------------------------------------------------------------


def test_pagerduty_signature_known_answers() -> None:
    vectors = json.loads((DATA / "pagerduty" / "signature_known_answer.json").read_text())
    for case in vectors["cases"]:
        body = case.get("body_raw", vectors["body_raw"]).encode()
        got = verify_pagerduty([vectors["secret"]], body, case["header"])
        assert got is case["expect_valid"], case["name"]
    # During a rotation either secret may have signed it.
    body = vectors["body_raw"].encode()
    assert verify_pagerduty(["old-secret", vectors["secret"]], body, vectors["cases"][0]["header"])


def test_pagerduty_webhook_reads_as_an_alert() -> None:
    vectors = json.loads((DATA / "pagerduty" / "signature_known_answer.json").read_text())
    alert = from_pagerduty(json.loads(vectors["body_raw"]))
    assert alert is not None
    assert alert.fingerprint == "pd:PGR0VU2" and alert.title == "A little bump in the road"
    assert alert.severity == "sev1" and alert.service == "API Service"  # priority P1
    assert (
        from_pagerduty(
            {
                "event": {
                    "event_type": "service.updated",
                    "resource_type": "service",
                    "data": {"id": "S1"},
                }
            }
        )
        is None
    )
    with pytest.raises(AlertError):
        from_pagerduty({"nope": 1})


def test_alertmanager_and_generic_alerts() -> None:
    (alert,) = from_alertmanager(alertmanager())
    assert alert.fingerprint == "c0ffee01" and alert.service == "checkout"
    assert alert.severity == "sev1" and alert.title == "checkout 5xx errors above 5%"
    assert alert.starts_at == datetime(2026, 12, 1, 3, 12, tzinfo=UTC)
    with pytest.raises(AlertError, match="version 3"):
        from_alertmanager({**alertmanager(), "version": "3"})
    with pytest.raises(AlertError):
        from_alertmanager({"status": "firing"})
    generic = from_generic({"title": "disk full on db-1", "severity": "warning"})
    assert generic.severity == "sev3" and len(generic.fingerprint) == 16
    with pytest.raises(AlertError):
        from_generic({"severity": "warning"})


def test_war_room_names_follow_the_template() -> None:
    day = datetime(2026, 11, 27, tzinfo=UTC)
    name = channel_name("inc-{date}-{service}-{slug}", day, "payments", "Payments latency is HIGH!")
    assert name == "inc-20261127-payments-latency-high"
    assert len(channel_name("inc-{date}-{service}-{slug}", day, None, "x" * 300)) <= 80


# ---- runbooks ------------------------------------------------------------------------------


def test_shipped_runbooks_load_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    books = load_runbooks(runbooks_dir())
    assert len(books) >= 5
    assert {
        "restart-deployment",
        "scale-out",
        "rollback-last-deploy",
        "drain-node",
        "flush-cache",
    } <= set(books)
    (tmp_path / "bad.yaml").write_text("title: t\nsteps:\n  - {name: a, title: A, action: rm.rf}\n")
    with pytest.raises(RunbookError, match=r"bad\.yaml.*not in the Gate's vocabulary"):
        load_runbooks(tmp_path)
    (tmp_path / "bad.yaml").write_text(
        "title: t\nsteps:\n  - {name: a, title: A, action: cache.flush, when: b.x == 1}\n"
    )
    with pytest.raises(RunbookError, match="not run before it"):
        load_runbooks(tmp_path)


def test_when_and_render() -> None:
    results = {"before": {"replicas": 4, "previous_version": "none"}}
    assert holds("before.replicas < {replicas}", results, {"replicas": "6"})
    assert not holds("before.replicas < {replicas}", results, {"replicas": "3"})
    assert not holds("before.previous_version != none", results, {})
    assert render("{service}@{before.replicas}", {"service": "cart"}, results) == "cart@4"
    assert render("{before.version}", {}, {}, keep=True) == "<before.version>"


# ---- end to end through Slack -----------------------------------------------------------------


@dataclass
class Rig:
    slack: LocalSlack
    app: App
    door: SlackDoor
    server: Server
    slack_url: str
    serve_url: str

    async def settle(self) -> None:
        for _ in range(3):
            await self.app.tasks.drain()
            await asyncio.sleep(0.05)

    async def slack_post(self, payload: str) -> int:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                self.slack_url,
                data=payload,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    **signed(payload, SIGNING_SECRET),
                },
            ) as resp,
        ):
            return resp.status

    async def slack_post_json(self, body: dict[str, Any]) -> int:
        raw = json.dumps(body)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                self.slack_url,
                data=raw,
                headers={"Content-Type": "application/json", **signed(raw, SIGNING_SECRET)},
            ) as resp,
        ):
            return resp.status

    async def command(self, command: str, text: str, user: str, channel: str) -> None:
        body = form(slash_command(command, text, user, channel, self.slack.response_url()))
        assert await self.slack_post(body) == 200
        await self.settle()

    async def click(self, message: Message, action: str, value: str, user: str) -> None:
        payload = button_click(action, value, user, message.channel, message.ts, message.thread_ts)
        assert await self.slack_post(interactive_form(payload)) == 200
        await self.settle()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    slack = await LocalSlack().start()
    settings = Settings(
        home=tmp_path / "home",
        sandbox_step_seconds=0,
        policy_reload_seconds=-1,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack.api_url,
        incident_alerts_channel=ALERTS,
        incident_archive_after_seconds=0,
    )
    app = build(settings)
    door = SlackDoor(
        app,
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        app_token=APP_TOKEN,
        api_url=slack.api_url,
    )
    await app.start()
    slack_port = await door.start_http("127.0.0.1", 0)
    server = Server(app.intake("slack"), app.tasks, ["whsec"])
    serve_port = await server.start("127.0.0.1", 0)
    yield Rig(
        slack,
        app,
        door,
        server,
        f"http://127.0.0.1:{slack_port}/slack/events",
        f"http://127.0.0.1:{serve_port}",
    )
    await server.close()
    await door.close()
    await app.close()
    await slack.stop()


async def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url,
            data=json.dumps(body),
            headers={"Content-Type": "application/json", **(headers or {})},
        ) as resp,
    ):
        return resp.status


def _room(slack: LocalSlack) -> tuple[str, dict[str, Any]]:
    (item,) = slack.channels.items()
    return item


async def test_alert_to_archived_war_room(rig: Rig) -> None:
    slack = rig.slack
    assert await _post(f"{rig.serve_url}/alerts/alertmanager", alertmanager()) == 202
    await rig.settle()
    # A second copy of the same alert joins, it does not declare again.
    assert await _post(f"{rig.serve_url}/alerts/alertmanager", alertmanager()) == 202
    await rig.settle()
    room_id, room = _room(slack)
    assert room["name"].startswith("inc-") and "checkout" in room["name"]
    assert {"U0BOB", "U0DAVE"} <= set(room["members"])  # on-call invited
    assert room["topic"].startswith("SEV1 · checkout 5xx errors above 5%")
    in_room = [m for m in slack.posted(room_id)]
    assert any("INC-1 declared by shipmate" in m.text for m in in_room)
    assert room["pins"], "the status message is pinned"
    suggestion = next(m for m in in_room if "Runbooks that may help" in m.text)
    assert "rollback-last-deploy" in suggestion.text
    announced = [m.text for m in slack.posted(ALERTS)]
    assert any("INC-1 declared" in t for t in announced), announced

    # Someone pins a message in the room: it goes into the timeline.
    pinned = next(m for m in in_room if "INC-1 declared by shipmate" in m.text)
    assert await rig.slack_post_json(reaction_added("U0DAVE", room_id, pinned.ts)) == 200
    await rig.settle()

    # The runbook, run in the room by a deployer; its production restart needs on-call.
    await rig.command("/runbook", "run restart-deployment service=checkout", "U0ALICE", room_id)
    approval = next(m for m in slack.posted(room_id) if "Approval needed" in m.text)
    approval_id = next(b for b in approval.blocks if b["type"] == "actions")["elements"][0]["value"]
    await rig.click(approval, "approve", approval_id, "U0BOB")
    texts = [m.text for m in slack.posted(room_id)]
    assert any("Runbook restart-deployment finished" in t for t in texts), texts

    await rig.command("/incident", "resolve", "U0BOB", room_id)
    await rig.settle()
    assert room["archived"] is True
    timeline = [e.text for e in rig.app.desk.timeline("INC-1")]
    joined = "\n".join(timeline)
    for expected in (
        "Declared SEV1: checkout 5xx errors above 5%",
        "War room #",
        "Alert fired again: checkout 5xx errors above 5%",
        "1. Health before the restart",
        "Policy needs approval for k8s.deployment.restart checkout/production",
        "2. Rolling restart of checkout",
        "Runbook restart-deployment finished",
        "Pinned: :warning: INC-1 declared by shipmate",
        "Resolved by bob",
        "archived",
    ):
        assert expected in joined, (expected, timeline)
    incident = rig.app.desk.get("INC-1")
    assert incident is not None and incident.status == "resolved"
    assert incident.acknowledged_at is not None and incident.resolved_at is not None


async def test_webhook_bad_input_is_refused(rig: Rig) -> None:
    vectors = json.loads((DATA / "pagerduty" / "signature_known_answer.json").read_text())
    url = f"{rig.serve_url}/webhooks/pagerduty"
    body = json.loads(vectors["body_raw"])
    assert await _post(url, body) == 401  # unsigned
    assert await _post(url, body, {"X-PagerDuty-Signature": "v1=00"}) == 401
    assert await _post(f"{rig.serve_url}/alerts/alertmanager", {"alerts": "no"}) == 400
    assert await _post(f"{rig.serve_url}/alerts/generic", {"severity": "high"}) == 400
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{rig.serve_url}/healthz") as resp:
            assert resp.status == 200
        async with http.get(f"{rig.serve_url}/metrics") as resp:
            metrics = await resp.text()
    assert 'shipmate_webhooks_total{source="pagerduty",outcome="unsigned"} 2' in metrics
    assert rig.app.desk.open() == []


async def test_drift_on_a_service_with_an_open_incident_enters_its_timeline(tmp_path: Path) -> None:
    from tests.conftest import make_harness

    h = make_harness(tmp_path / "home")
    try:
        await h.say("alice", "/incident declare checkout errors sev2 checkout")
        await h.app.pipeline.publish(
            "drift.detected",
            "drift",
            {
                "workspace": "shop-aws",
                "services": ["checkout"],
                "resources": [{"address": "aws_security_group.web"}],
            },
            "drift-1",
            "shipmate",
        )
        await h.app.pipeline.publish(
            "drift.detected",
            "drift",
            {"workspace": "other", "services": ["search"], "resources": []},
            "drift-2",
            "shipmate",
        )
        texts = [e.text for e in h.app.desk.timeline("INC-1")]
        assert "Terraform drift in shop-aws: 1 resource(s) changed outside Terraform" in texts
        assert not any("other" in t for t in texts)
    finally:
        await h.app.close()
