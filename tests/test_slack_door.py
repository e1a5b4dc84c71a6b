"""The Slack door through the real slack_bolt / slack_sdk code against a local Slack
(tests/slack_server.py): a production deploy driven entirely from Slack, over HTTP and over
Socket Mode; signatures, retries, rate limits, double clicks, mentions, DMs, identities."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.compose import App, build
from bot.doors.slack.door import SlackDoor
from bot.settings import Settings
from tests.slack_payloads import (
    DATA,
    app_mention,
    button_click,
    direct_message,
    form,
    interactive_form,
    signed,
    slash_command,
)
from tests.slack_server import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, LocalSlack, Message

CHANNEL = "C0DEPLOYS"


@dataclass
class SlackRig:
    slack: LocalSlack
    shipmate: App
    door: SlackDoor
    url: str = ""

    async def settle(self) -> None:
        await self.shipmate.tasks.drain()

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, float]:
        hdrs = {"Content-Type": content_type, **signed(body, secret, timestamp), **(headers or {})}
        started = time.perf_counter()
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.url, data=body, headers=hdrs) as resp,
        ):
            text = await resp.text()
            return resp.status, text, time.perf_counter() - started

    async def command(self, text: str, user: str, command: str = "/deploy") -> tuple[int, str]:
        status, body, _ = await self.post(
            form(slash_command(command, text, user, CHANNEL, self.slack.response_url())),
            "application/x-www-form-urlencoded",
        )
        return status, body

    async def click(self, action: str, approval: Message, user: str) -> int:
        payload = button_click(
            action, _approval_id(approval), user, CHANNEL, approval.ts, approval.thread_ts
        )
        status, _, _ = await self.post(
            interactive_form(payload), "application/x-www-form-urlencoded"
        )
        return status


def _approval_id(message: Message) -> str:
    for block in message.blocks:
        if block["type"] == "actions":
            return str(block["elements"][0]["value"])
    raise AssertionError(f"no buttons on {message.text}")


def _parent(slack: LocalSlack) -> Message:
    parents = [m for m in slack.posted(CHANNEL) if m.thread_ts is None]
    assert len(parents) == 1, [m.text for m in parents]
    return parents[0]


async def _rig(
    tmp_path: Path, slack: LocalSlack, step_seconds: float = 0, **options: Any
) -> SlackRig:
    shipmate = build(
        Settings(
            home=tmp_path / "home", sandbox_step_seconds=step_seconds, policy_reload_seconds=-1
        )
    )
    door = SlackDoor(
        shipmate,
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        app_token=APP_TOKEN,
        api_url=slack.api_url,
        **options,
    )
    await shipmate.start()
    return SlackRig(slack=slack, shipmate=shipmate, door=door)


@pytest.fixture
async def slack() -> AsyncIterator[LocalSlack]:
    server = await LocalSlack().start()
    yield server
    await server.stop()


@pytest.fixture
async def http_rig(tmp_path: Path, slack: LocalSlack) -> AsyncIterator[SlackRig]:
    rig = await _rig(tmp_path, slack)
    port = await rig.door.start_http("127.0.0.1", 0)
    rig.url = f"http://127.0.0.1:{port}/slack/events"
    yield rig
    await rig.door.close()
    await rig.shipmate.close()


async def _assert_prod_deploy_story(rig: SlackRig, click: Any) -> None:
    slack = rig.slack
    parent = _parent(slack)
    assert "Deploy checkout 1.4.0 -> 1.5.0 to production" in parent.text
    thread = slack.thread(parent.ts)
    assert thread[0].text.startswith("Plan:")
    approval = next(m for m in thread if "Approval needed" in m.text)
    assert any(b["type"] == "actions" for b in approval.blocks)
    assert "waiting for approval" in json.dumps(parent.current_blocks)

    await click("approve", approval, "U0ALICE")  # the requester
    await rig.settle()
    refusal = slack.ephemeral[-1]
    assert refusal["user"] == "U0ALICE" and "cannot approve their own" in refusal["text"]
    await click("approve", approval, "U0CAROL")  # a viewer
    await rig.settle()
    assert slack.ephemeral[-1]["user"] == "U0CAROL"
    assert "holds none of the roles" in slack.ephemeral[-1]["text"]
    state = await rig.shipmate.fleet.service("checkout", "production")
    assert state is not None and state.version == "1.4.0"

    await click("approve", approval, "U0BOB")  # on-call
    await rig.settle()
    assert "approved by bob" in approval.current_text  # updated in place, buttons gone
    assert not any(b["type"] == "actions" for b in approval.current_blocks)
    texts = [m.text for m in slack.thread(parent.ts)]
    assert any("Canary" in t or "Rolling:" in t for t in texts)
    assert any("Done: checkout in production is on 1.5.0" in t for t in texts)
    assert "done" in json.dumps(parent.current_blocks)
    state = await rig.shipmate.fleet.service("checkout", "production")
    assert state is not None and state.version == "1.5.0"
    # Every message of the story is in the one thread, under the one parent.
    assert all(m.thread_ts == parent.ts for m in slack.posted(CHANNEL) if m is not parent)


async def test_prod_deploy_entirely_through_slack_http(http_rig: SlackRig) -> None:
    status, body = await http_rig.command(
        "checkout 1.5.0 to production --strategy canary", "U0ALICE"
    )
    assert status == 200 and "Working on" in body
    await http_rig.settle()
    await _assert_prod_deploy_story(http_rig, http_rig.click)


async def test_prod_deploy_entirely_through_slack_socket_mode(
    tmp_path: Path, slack: LocalSlack
) -> None:
    rig = await _rig(tmp_path, slack)
    await rig.door.start_socket()
    await slack.connected()
    opened = slack.method_calls("apps.connections.open")
    assert opened, "Socket Mode must ask the configured Web API for its URL"
    ack = await slack.deliver(
        "slash_commands",
        slash_command(
            "/deploy",
            "checkout 1.5.0 to production --strategy canary",
            "U0ALICE",
            CHANNEL,
            slack.response_url(),
        ),
    )
    assert "envelope_id" in ack
    await rig.settle()

    async def click(action: str, approval: Message, user: str) -> None:
        payload = button_click(
            action, _approval_id(approval), user, CHANNEL, approval.ts, approval.thread_ts
        )
        await slack.deliver("interactive", payload)

    await _assert_prod_deploy_story(rig, click)
    await rig.door.close()
    await rig.shipmate.close()


async def test_forged_or_stale_requests_are_refused_and_nothing_runs(http_rig: SlackRig) -> None:
    body = form(slash_command("/deploy", "cart 2.4.0", "U0ALICE", CHANNEL))
    forged, _, _ = await http_rig.post(
        body, "application/x-www-form-urlencoded", secret="not-the-secret"
    )
    stale, _, _ = await http_rig.post(
        body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 301
    )
    assert (forged, stale) == (401, 401)
    await http_rig.settle()
    assert http_rig.slack.posted() == []
    assert list(http_rig.shipmate.audit.records()) == []


def test_slack_signing_known_answer() -> None:
    vector = json.loads((DATA / "signing_known_answer.json").read_text())
    verifier = SignatureVerifier(vector["signing_secret"], clock=_Clock(int(vector["timestamp"])))
    assert (
        verifier.generate_signature(timestamp=vector["timestamp"], body=vector["body_raw"])
        == vector["expected_signature"]
    )
    for case in vector["cases"]:
        if not isinstance(case["now"], int):
            continue
        headers = {"x-slack-request-timestamp": vector["timestamp"]}
        if case["signature"]:
            headers["x-slack-signature"] = case["signature"]
        valid = verifier.is_valid_request(case["body_raw"] or "", headers)
        assert valid is case["expect_valid"], case["name"]


class _Clock:
    def __init__(self, now: int) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now)


async def test_a_retried_event_runs_once(http_rig: SlackRig) -> None:
    event = json.dumps(
        app_mention("/deploy cart 2.4.0 to staging", "U0ALICE", CHANNEL, event_id="EvRETRY1")
    )
    first, _, _ = await http_rig.post(event, "application/json")
    again, _, _ = await http_rig.post(
        event,
        "application/json",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert (first, again) == (200, 200)
    await http_rig.settle()
    decisions = [r for r in http_rig.shipmate.audit.records() if r.kind == "decision"]
    assert len(decisions) == 1
    plans = [m for m in http_rig.slack.posted() if m.text.startswith("Plan:")]
    assert len(plans) == 1


async def test_double_click_has_one_winner(http_rig: SlackRig) -> None:
    await http_rig.command("cart 2.4.0 to production", "U0ALICE")
    await http_rig.settle()
    approval = next(m for m in http_rig.slack.posted() if "Approval needed" in m.text)
    await asyncio.gather(
        http_rig.click("approve", approval, "U0BOB"), http_rig.click("approve", approval, "U0DAVE")
    )
    await http_rig.settle()
    started = [r for r in http_rig.shipmate.audit.records() if r.kind == "execution.started"]
    assert len(started) == 1
    assert len(http_rig.slack.ephemeral) == 1
    assert "already approved" in http_rig.slack.ephemeral[0]["text"]


async def test_rate_limits_and_server_errors_are_retried(http_rig: SlackRig) -> None:
    http_rig.slack.fail("chat.postMessage", 429, times=1, retry_after=1)
    http_rig.slack.fail("chat.postMessage", 500, times=1)
    http_rig.slack.fail("chat.update", 503, times=1)
    await http_rig.command("cart 2.4.0 to staging", "U0ALICE")
    await http_rig.settle()
    texts = [m.text for m in http_rig.slack.posted()]
    assert any("Done: cart in staging is on 2.4.0" in t for t in texts)
    parent = _parent(http_rig.slack)
    assert "done" in json.dumps(parent.current_blocks)
    posts = http_rig.slack.method_calls("chat.postMessage")
    assert len(posts) == len(texts) + 2  # two refused attempts, then every message once


async def test_errors_reach_the_thread_and_bad_input_gets_usage(http_rig: SlackRig) -> None:
    await http_rig.command("checkout", "U0ALICE")
    await http_rig.command("nothing", "U0ALICE", command="/drift")
    await http_rig.command("nosuch", "U0ALICE", command="/postmortem")
    await http_rig.settle()
    texts = [m.text for m in http_rig.slack.posted()]
    assert any("Missing version. Usage: /deploy" in t for t in texts)
    assert any("Unknown workspace 'nothing'. Known: sandbox-aws." in t for t in texts)
    assert any("'nosuch' is not an incident id" in t for t in texts)


async def test_mentions_reply_in_their_thread_and_dms_work(http_rig: SlackRig) -> None:
    mention = app_mention("/status checkout", "U0CAROL", CHANNEL)
    status, _, _ = await http_rig.post(json.dumps(mention), "application/json")
    dm = direct_message("/help", "U0ALICE")
    status_dm, _, _ = await http_rig.post(json.dumps(dm), "application/json")
    assert (status, status_dm) == (200, 200)
    await http_rig.settle()
    reply = next(m for m in http_rig.slack.posted(CHANNEL))
    assert reply.thread_ts == mention["event"]["ts"] and reply.text.startswith("Fleet")
    help_reply = http_rig.slack.posted("D0ALICE")
    assert help_reply and "Commands:" in help_reply[0].text


async def test_url_verification(http_rig: SlackRig) -> None:
    body = json.loads((DATA / "events_url_verification.json").read_text())
    raw = body["request"]["body_raw"]
    status, text, _ = await http_rig.post(raw, "application/json")
    assert status == 200 and json.loads(raw)["challenge"] in text


async def test_user_groups_add_roles(tmp_path: Path, slack: LocalSlack) -> None:
    slack.usergroups["S0ONCALL"] = ["U0ALICE"]
    rig = await _rig(tmp_path, slack, usergroups={"oncall": "S0ONCALL", "admin": "S0NOPE"})
    await rig.door.identity.refresh()
    assert rig.door.identity.principal("U0ALICE").roles == ("deployer", "oncall")
    assert rig.door.identity.principal("U0CAROL").roles == ("viewer",)
    assert rig.door.identity.principal("U0STRANGER").roles == ()
    await rig.shipmate.close()


async def test_cannot_post_falls_back_to_response_url(http_rig: SlackRig) -> None:
    http_rig.slack.fail("chat.postMessage", 200, times=5, error="not_in_channel")
    await http_rig.command("checkout", "U0ALICE")
    await http_rig.settle()
    assert http_rig.slack.responses
    assert "not_in_channel" in http_rig.slack.responses[0]["text"]
    assert "Missing version" in http_rig.slack.responses[0]["text"]


def test_shipmate_slack_without_credentials_says_what_to_set(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["SHIPMATE_HOME"] = str(tmp_path / "home")
    shipmate = Path(sys.executable).with_name("shipmate")
    result = subprocess.run(
        [str(shipmate), "slack"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_APP_TOKEN" in result.stderr
    assert "make run" in result.stderr


async def test_abort_button_in_the_thread_stops_a_canary(tmp_path: Path, slack: LocalSlack) -> None:
    """The canary's thread carries Promote / Abort; a click says `/abort ...` as the clicker,
    so policy judges the clicker and the running canary is stopped."""
    rig = await _rig(tmp_path, slack, step_seconds=3)
    port = await rig.door.start_http("127.0.0.1", 0)
    rig.url = f"http://127.0.0.1:{port}/slack/events"
    try:
        await rig.command("checkout 1.5.0 to staging --strategy canary", "U0ALICE")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        steering = None
        while steering is None:
            assert loop.time() < deadline, [m.text for m in slack.posted(CHANNEL)]
            await asyncio.sleep(0.05)
            steering = next(
                (m for m in slack.posted(CHANNEL) if "Canary at 10%" in m.text and m.blocks), None
            )
        buttons = next(b for b in steering.blocks if b["type"] == "actions")["elements"]
        abort = next(b for b in buttons if b["text"]["text"] == "Abort")
        assert abort["action_id"] == "shipmate.say" and abort["value"] == "/abort checkout staging"
        payload = button_click(
            "say", abort["value"], "U0BOB", CHANNEL, steering.ts, steering.thread_ts
        )
        status, _, _ = await rig.post(
            interactive_form(payload), "application/x-www-form-urlencoded"
        )
        assert status == 200
        await rig.settle()
        thread = [m.text for m in slack.thread(_parent(slack).ts)]
        assert any("aborted by bob at 10%" in t for t in thread), thread
        state = await rig.shipmate.fleet.service("checkout", "staging")
        assert state is not None and state.version == "1.4.0" and state.status == "stable"
    finally:
        await rig.door.close()
        await rig.shipmate.close()


async def test_kpi_chart_is_uploaded_into_the_thread(http_rig: SlackRig) -> None:
    await http_rig.command("checkout 30d", "U0ALICE", command="/kpi")
    await http_rig.settle()
    (uploaded,) = http_rig.slack.files.values()
    assert uploaded["bytes"][:4] == b"\x89PNG" and uploaded["channel"] == CHANNEL
    assert uploaded["filename"] == "kpi-checkout-last-30-days.png"
    assert any("Delivery KPIs for checkout" in m.text for m in http_rig.slack.posted(CHANNEL))
