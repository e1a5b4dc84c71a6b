"""Terraform Cloud run tasks end to end: a local Terraform Cloud (tests/tfc_server.py) sends
signed run-task requests to `shipmate serve`, serves the plan JSON behind a token and a
redirect, and checks every PATCHed result; the approval is clicked in the local Slack through
the real Slack libraries. A plan opening a security group to the world fails with the finding
as an outcome; a clean plan passes; a plan deleting a database waits for an eligible approver
and passes after the click; bad input never runs and never passes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.compose import App, build
from bot.doors.slack.door import SlackDoor
from bot.paths import policies_dir
from bot.serve import Server
from bot.settings import Settings
from tests.slack_payloads import button_click, interactive_form, signed
from tests.slack_server import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, LocalSlack
from tests.tfc_server import LocalTfc

KEY = "run-task-hmac-key"
CHANNEL = "C0TERRAFORM"
PLANS = policies_dir() / "tests" / "plans"
DRIFT_PLAN = Path(__file__).parent / "data" / "terraform" / "drift_aws_refresh_only.json"


@dataclass
class Rig:
    tfc: LocalTfc
    slack: LocalSlack
    app: App
    door: SlackDoor
    server: Server
    url: str
    slack_url: str

    async def settle(self, until: Any = None, seconds: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        # Polls rather than draining: a run waiting for approval has a deadline task asleep.
        if until is None:
            await asyncio.sleep(0.3)
            return
        while not until():
            assert loop.time() < deadline, "timed out"
            await asyncio.sleep(0.02)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    tfc = await LocalTfc(KEY).start()
    slack = await LocalSlack().start()
    settings = Settings(
        home=tmp_path / "home",
        policy_reload_seconds=-1,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack.api_url,
        tfc_hmac_keys=["old-key", KEY],
        tfc_default_channel=CHANNEL,
        tfc_environments={"data": "staging"},
        tfc_retry_pause_seconds=0.01,
        tfc_timeout_seconds=30,
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
    server = Server(
        app.intake("slack"), app.tasks, [], app.runtasks("slack"), settings.tfc_hmac_keys
    )
    port = await server.start("127.0.0.1", 0)
    yield Rig(
        tfc,
        slack,
        app,
        door,
        server,
        f"http://127.0.0.1:{port}/runtasks",
        f"http://127.0.0.1:{slack_port}/slack/events",
    )
    await server.close()
    await door.close()
    await app.close()
    await slack.stop()
    await tfc.stop()


def _plan(name: str) -> Any:
    return json.loads((PLANS / name).read_text())


async def test_verification_request_is_answered_and_nothing_runs(rig: Rig) -> None:
    run, body = rig.tfc.request("p0", token="test-token")
    assert await rig.tfc.send(rig.url, body) == 200
    await rig.settle()
    assert run.results == []


async def test_a_world_open_security_group_fails_with_its_finding(rig: Rig) -> None:
    rig.tfc.plans["p1"] = _plan("shipmate_open_security_group.json")
    run, body = rig.tfc.request("p1")
    assert await rig.tfc.send(rig.url, body) == 200
    await rig.settle(lambda: "failed" in run.statuses)
    assert run.statuses == ["running", "failed"]
    final = run.results[-1]["data"]
    outcomes = final["relationships"]["outcomes"]["data"]
    ids = {o["attributes"]["outcome-id"] for o in outcomes}
    assert "terraform.open_security_group@aws_security_group.web" in ids
    assert outcomes[0]["attributes"]["tags"]["Severity"][0] == {"label": "Denied", "level": "error"}
    assert rig.tfc.downloads_with_token == 0  # the token never went to the download URL
    # The thread in the workspace's channel, and the decision in the audit trail.
    texts = [m.text for m in rig.slack.posted(CHANNEL)]
    assert any(f"Terraform Cloud run {run.run_id} on network" in t for t in texts), texts
    decided = [r for r in rig.app.audit.records() if r.kind == "decision"]
    assert decided and decided[-1].payload["proposal"]["name"] == "terraform.runtask"


async def test_clean_plans_pass(rig: Rig) -> None:
    rig.tfc.plans["p2"] = _plan("terraform_json_no_changes.json")
    rig.tfc.plans["p3"] = json.loads(DRIFT_PLAN.read_text())  # real Terraform, from our drift run
    runs = []
    for plan_id in ("p2", "p3"):
        run, body = rig.tfc.request(plan_id)
        assert await rig.tfc.send(rig.url, body) == 200
        runs.append(run)
    await rig.settle(lambda: all("passed" in r.statuses for r in runs))
    assert [r.statuses for r in runs] == [["running", "passed"], ["running", "passed"]]


async def test_deleting_a_database_waits_for_an_approver_in_slack(rig: Rig) -> None:
    rig.tfc.plans["p4"] = _plan("shipmate_delete_database.json")
    run, body = rig.tfc.request("p4", workspace="data")  # staging: one approval
    assert await rig.tfc.send(rig.url, body) == 200
    await rig.settle(lambda: len(run.results) >= 2)
    assert run.statuses == ["running", "running"]
    assert "Waiting for approval" in run.results[-1]["data"]["attributes"]["message"]
    approval = next(m for m in rig.slack.posted(CHANNEL) if "Approval needed" in m.text)
    value = next(b for b in approval.blocks if b["type"] == "actions")["elements"][0]["value"]
    payload = button_click("approve", value, "U0BOB", CHANNEL, approval.ts, approval.thread_ts)
    raw = interactive_form(payload)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            rig.slack_url,
            data=raw,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                **signed(raw, SIGNING_SECRET),
            },
        ) as resp,
    ):
        assert resp.status == 200
    await rig.settle(lambda: "passed" in run.statuses)
    assert run.statuses == ["running", "running", "passed"]


async def test_bad_requests_never_run_and_never_pass(rig: Rig) -> None:
    rig.tfc.plans["p5"] = _plan("terraform_json_no_changes.json")
    run, body = rig.tfc.request("p5")
    assert await rig.tfc.send(rig.url, body, signature=None) == 401
    assert await rig.tfc.send(rig.url, body, signature=rig.tfc.sign(b"other")) == 401
    assert await rig.tfc.send(rig.url, {**body, "payload_version": 2}) == 422
    await rig.settle()
    assert run.results == []
    # A plan that cannot be fetched, and one that is not JSON, fail with the reason.
    missing, body = rig.tfc.request("nope")
    rig.tfc.plans["garbled"] = b"{not json"
    garbled, body2 = rig.tfc.request("garbled")
    assert await rig.tfc.send(rig.url, body) == 200
    assert await rig.tfc.send(rig.url, body2) == 200
    await rig.settle(lambda: "failed" in missing.statuses and "failed" in garbled.statuses)
    assert "could not read the plan" in missing.results[-1]["data"]["attributes"]["message"]
    assert "does not parse" in garbled.results[-1]["data"]["attributes"]["message"]
    assert rig.tfc.refused == []


async def test_advisory_and_retried_callbacks(rig: Rig) -> None:
    rig.tfc.plans["p6"] = _plan("shipmate_open_security_group.json")
    rig.tfc.fail_callbacks = 2  # the first callback meets two 503s
    run, body = rig.tfc.request("p6", enforcement="advisory")
    assert await rig.tfc.send(rig.url, body) == 200
    await rig.settle(lambda: "failed" in run.statuses)
    assert run.statuses == ["running", "failed"]
    assert run.results[-1]["data"]["attributes"]["message"].startswith("Advisory:")
