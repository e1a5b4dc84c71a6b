"""PagerDuty through the real `pagerduty` client against a local PagerDuty over HTTPS
(tests/pagerduty_server.py, a trustme CA): paging on declare with the `From` header, on-call
read from the paginated /oncalls and invited, acknowledge / note / resolve mirrored, a 429
retried, an outage that does not keep the war room from opening, plain http refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness, make_harness
from tests.pagerduty_server import API_KEY, LocalPagerDuty
from tools.pagerduty.pager import PagerDutyError, PagerDutyPager


@pytest.fixture
async def pd(tmp_path: Path) -> AsyncIterator[LocalPagerDuty]:
    server = await LocalPagerDuty(tmp_path).start()
    yield server
    await server.stop()


def _harness(tmp_path: Path, pd: LocalPagerDuty, **extra: Any) -> Harness:
    return make_harness(
        tmp_path / "home",
        pagerduty_api_key=API_KEY,
        pagerduty_from="alice@example.com",
        pagerduty_service_id="PSVC001",
        pagerduty_escalation_policy_ids=["PEP0001"],
        pagerduty_api_url=pd.url,
        pagerduty_ca_bundle=pd.ca_path,
        pagerduty_retry_pause_seconds=0.01,
        incident_archive_after_seconds=0,
        **extra,
    )


async def test_incident_mirrored_in_pagerduty(tmp_path: Path, pd: LocalPagerDuty) -> None:
    pd.oncall_users = ["PBOB001", "PDAVE01", "PALICE1"] * 50  # more than one page of 100
    h = _harness(tmp_path, pd)
    try:
        await h.say("carol", "/incident declare search is slow sev3 search")
        (incident,) = h.app.desk.open()
        assert incident.pagerduty_id is not None
        created = pd.incidents[incident.pagerduty_id]
        assert created["title"] == "INC-1: search is slow" and created["urgency"] == "low"
        _, path, headers = next(r for r in pd.requests if r[0] == "POST")
        assert path == "/incidents" and headers["From"] == "carol@example.com"
        assert sum(1 for r in pd.requests if r[1] == "/oncalls") == 2  # paginated
        room = h.app.desk.rooms.rooms[incident.channel]  # type: ignore[attr-defined]
        assert set(room["members"]) == {"alice", "bob", "carol", "dave"}
        await h.say("bob", "/incident ack INC-1")
        assert created["status"] == "acknowledged"
        put = [r for r in pd.requests if r[0] == "PUT"]
        assert put[-1][2]["From"] == "bob@example.com"
        await h.say("bob", "/incident note INC-1 cache hit rate dropped at 03:10")
        assert pd.notes[incident.pagerduty_id][0]["content"] == "cache hit rate dropped at 03:10"
        await h.say("bob", "/incident resolve INC-1")
        assert created["status"] == "resolved"
    finally:
        await h.app.close()


async def test_a_429_is_retried(tmp_path: Path, pd: LocalPagerDuty) -> None:
    pd.throttle = 2
    h = _harness(tmp_path, pd)
    try:
        await h.say("alice", "/incident declare cart checkout fails sev2 cart")
        (incident,) = h.app.desk.open()
        assert incident.pagerduty_id in pd.incidents
        assert sum(1 for r in pd.requests if r[0] == "POST") == 3  # two 429s, then created
    finally:
        await h.app.close()


async def test_an_outage_does_not_hold_the_war_room(tmp_path: Path, pd: LocalPagerDuty) -> None:
    pd.down = True
    h = _harness(tmp_path, pd)
    try:
        await h.say("alice", "/incident declare ledger is down sev1 ledger")
        (incident,) = h.app.desk.open()
        assert incident.channel is not None and incident.pagerduty_id is None
        texts = h.channel.texts()
        assert any("paging failed (PagerDuty answered 503" in t for t in texts), texts
        timeline = [e.text for e in h.app.desk.timeline(incident.id)]
        assert any(t.startswith("Paging failed: PagerDuty answered 503") for t in timeline)
        assert any(t.startswith("War room #") for t in timeline)
    finally:
        await h.app.close()


async def test_events_api_v2_pages_and_list_reads(tmp_path: Path, pd: LocalPagerDuty) -> None:
    h = _harness(tmp_path, pd, pagerduty_routing_key="R0UTINGKEY", pagerduty_events_url=pd.url)
    try:
        await h.say("alice", "/incident declare payments timeouts sev1 checkout")
        (event,) = pd.events
        assert event["event_action"] == "trigger" and event["routing_key"] == "R0UTINGKEY"
        assert event["dedup_key"] == "shipmate-INC-1"
        assert event["payload"]["severity"] == "critical"
        assert event["payload"]["summary"] == "INC-1: payments timeouts"
        await h.say("bob", "/incident resolve INC-1")
        assert [e["event_action"] for e in pd.events] == ["trigger", "resolve"]
        pager = h.app.desk.pager
        pd.incidents["Q000900"] = {"id": "Q000900", "status": "triggered", "title": "x"}
        listed = await pager.incidents(["triggered"])  # type: ignore[attr-defined]
        assert [i["id"] for i in listed] == ["Q000900"]
    finally:
        await h.app.close()


def test_plain_http_is_refused() -> None:
    with pytest.raises(PagerDutyError, match="https"):
        PagerDutyPager(
            API_KEY,
            from_email="a@example.com",
            service_id="S",
            escalation_policy_ids=[],
            people={},
            base_url="http://127.0.0.1:1",
        )
