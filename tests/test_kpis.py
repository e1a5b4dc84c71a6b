"""KPIs on a generated event history whose answers are known by construction: lead times from
the commit times the deploy requests carried, failures by rollout status, rollback and
incident, restore times, MTTA/MTTR with an incident spanning the period's end; edge cases (no
deploys, deploys without commit time, staging ignored); then /kpi through the pipeline."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.events import Event
from bot.kpis import Period, chart, period, report
from tests.conftest import make_harness

T0 = datetime(2026, 11, 1, tzinfo=UTC)
_ids = itertools.count(1)


def _deploy(
    events: list[Event],
    service: str,
    env: str,
    at: datetime,
    status: str,
    committed: datetime | None = None,
) -> None:
    aid = f"a{next(_ids)}"
    params: dict[str, Any] = {"service": service, "environment": env, "version": "1.0"}
    if committed:
        params["committed_at"] = committed.isoformat()
    events.append(
        Event(
            type="policy.decided",
            time=at - timedelta(minutes=5),
            topic="compliance",
            correlation_id=aid,
            actor="alice",
            data={
                "action_id": aid,
                "action": "deploy.rollout",
                "target": f"{service}/{env}",
                "proposal": {"name": "deploy.rollout", "params": params},
                "decision": {"allow": True, "approvals_required": 0},
            },
        )
    )
    events.append(
        Event(
            type=f"action.{status}",
            time=at,
            topic="deployments",
            correlation_id=aid,
            actor="shipmate",
            data={
                "action_id": aid,
                "action": "deploy.rollout",
                "target": f"{service}/{env}",
                "status": status,
            },
        )
    )


def _incident(
    events: list[Event],
    iid: str,
    service: str,
    declared: datetime,
    acked: datetime | None,
    resolved: datetime | None,
) -> None:
    def act(name: str, at: datetime, **details: Any) -> None:
        events.append(
            Event(
                type="action.succeeded",
                time=at,
                topic="incidents",
                correlation_id=iid,
                actor="shipmate",
                data={
                    "action": name,
                    "target": f"incident/{iid}",
                    "details": {"incident": iid, **details},
                },
            )
        )

    act("pagerduty.incident.create", declared, service=service)
    if acked:
        act("pagerduty.incident.acknowledge", acked)
    if resolved:
        act("pagerduty.incident.resolve", resolved, resolved_at=resolved.isoformat())


def history() -> list[Event]:
    ev: list[Event] = []
    day = timedelta(days=1)
    _deploy(
        ev,
        "checkout",
        "production",
        T0 + day + timedelta(hours=12),
        "succeeded",
        committed=T0 + day + timedelta(hours=10),
    )  # lead 2 h
    _deploy(ev, "checkout", "production", T0 + 2 * day, "succeeded")  # no commit time
    _deploy(
        ev,
        "checkout",
        "production",
        T0 + 3 * day,
        "rolled_back",
        committed=T0 + 3 * day - timedelta(hours=1),
    )  # a failure, restored at once
    d4 = T0 + 4 * day + timedelta(hours=10)
    _deploy(ev, "checkout", "production", d4, "succeeded", committed=d4 - timedelta(hours=4))
    _incident(
        ev,
        "INC-1",
        "checkout",
        d4 + timedelta(hours=1),
        d4 + timedelta(hours=1, minutes=10),
        d4 + timedelta(hours=3),
    )  # makes deploy 4 a failure; restored in 2 h
    _deploy(ev, "checkout", "staging", T0 + 5 * day, "failed")  # not production: ignored
    _deploy(
        ev,
        "cart",
        "production",
        T0 + 5 * day,
        "succeeded",
        committed=T0 + 5 * day - timedelta(hours=1),
    )
    end = T0 + 10 * day
    _incident(
        ev,
        "INC-2",
        "checkout",
        end - timedelta(hours=1),
        end - timedelta(minutes=30),
        end + timedelta(hours=2),
    )  # spans the period's end: open at the end
    ev.append(
        Event(
            type="approval.granted",
            time=T0 + day,
            topic="compliance",
            correlation_id="x",
            actor="bob",
            data={},
        )
    )
    return ev


PERIOD = Period(name="ten days", start=T0, end=T0 + timedelta(days=10))


def test_dora_for_a_service_known_by_construction() -> None:
    rep = report(history(), PERIOD, service="checkout")
    assert rep.deploys == 4  # staging and cart are not counted
    assert rep.deploys_per_day == pytest.approx(0.3)  # 3 successful in 10 days
    assert rep.lead_time_hours_median == pytest.approx(3.0)  # median of 2 h and 4 h
    assert rep.deploys_without_commit_time == 1
    assert rep.change_failures == 2 and rep.change_failure_rate == pytest.approx(0.5)
    assert rep.restore_hours_median == pytest.approx(1.0)  # median of 0 h and 2 h
    assert rep.incidents == 2 and rep.incidents_open == 1
    assert rep.mtta_minutes == pytest.approx(20.0)  # 10 and 30 min
    assert rep.mttr_minutes == pytest.approx(120.0)  # only INC-1 was restored in the period
    assert rep.scorecard["approved"] == 1 and rep.scorecard["rolled back"] == 1
    assert sum(n for _, n in rep.daily) == 3 and len(rep.daily) == 10


def test_team_and_edge_cases() -> None:
    team = report(history(), PERIOD, team="payments", team_services={"checkout", "cart"})
    assert team.deploys == 5 and team.lead_time_hours_median == pytest.approx(2.0)
    empty = report(history(), PERIOD, service="search")
    assert empty.deploys == 0 and empty.change_failure_rate is None
    assert empty.lead_time_hours_median is None and empty.deploys_per_day == 0
    nothing = report([], PERIOD)
    assert nothing.deploys == 0 and nothing.incidents == 0 and nothing.scorecard == {}
    assert chart(nothing)[:8] == b"\x89PNG\r\n\x1a\n"


def test_periods() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    q = period("2026Q4", now)
    assert (q.start, q.end) == (datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert period("2026-02", now).end == datetime(2026, 3, 1, tzinfo=UTC)
    assert period(None, now).days == 30
    with pytest.raises(ValueError, match="not a period"):
        period("soon", now)


async def test_kpi_command_replies_with_numbers_and_a_chart(tmp_path: Path) -> None:
    h = make_harness(tmp_path / "home")
    try:
        await h.say("alice", "/deploy checkout 1.5.0 to staging")
        await h.say("alice", "/kpi checkout 7d")
        reply = h.channel.posts[-1].reply
        assert reply.text.startswith("Delivery KPIs for checkout, last 7 days")
        fields = dict(reply.fields)
        assert fields["Deployment frequency"].startswith("0 production deploys")  # staging only
        assert reply.image is not None and reply.image[:4] == b"\x89PNG"
        committed = (h.clock.now() - timedelta(hours=2)).isoformat()
        await h.say("alice", f"/deploy checkout 1.5.0 to production --committed-at {committed}")
        await h.say("bob", "approve")
        h.clock.advance(60)
        await h.say("alice", "/kpi checkout 7d")
        fields = dict(h.channel.posts[-1].reply.fields)
        assert fields["Deployment frequency"].startswith("1 production deploys")
        assert fields["Lead time for changes"] == "2.0 h (median)"
        h.channel.clear()
        await h.say("alice", "/kpi checkout someday")
        assert "not a period" in h.channel.texts()[0]
    finally:
        await h.app.close()
