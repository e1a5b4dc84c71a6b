"""Delivery KPIs from shipmate's own event log: the four DORA metrics (deployment frequency,
lead time for changes, change failure rate, time to restore), MTTA and MTTR of incidents, and
the automation scorecard (decisions, approvals, rollbacks, shadow runs), per service, team and
period. Pure functions over events; the chart is a matplotlib PNG.

Definitions (production deploys only):
- a deploy is a `deploy.rollout` that finished (succeeded, failed or rolled back);
- lead time: from the commit time the deploy request carried (`committed_at`) to the deploy's
  success; deploys without a commit time are counted apart, never guessed;
- a change failed when its rollout failed or was rolled back, or when the service was rolled
  back or had an incident declared within 24 hours after it succeeded;
- time to restore: from the failed change to the next success or rollback of that service,
  or to its incident's resolution;
- MTTA / MTTR: from declared to acknowledged / resolved, for incidents declared in the period
  (an incident still open at the end is counted as open, not as restored)."""

from __future__ import annotations

import io
import re
import statistics
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.models import Frozen

if TYPE_CHECKING:  # only a type here: skills read KPIs without reaching the store
    from bot.events import Event

FAILURE_WINDOW = timedelta(hours=24)
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$", re.I)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAYS = re.compile(r"^(\d{1,4})d$", re.I)


class Period(Frozen):
    name: str
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


def period(text: str | None, now: datetime) -> Period:
    """`30d` (the default), `2026Q4`, `2026-11`."""
    text = (text or "30d").strip()
    if m := _DAYS.match(text):
        return Period(
            name=f"last {m.group(1)} days", start=now - timedelta(days=int(m.group(1))), end=now
        )
    if m := _QUARTER.match(text):
        year, q = int(m.group(1)), int(m.group(2))
        start = datetime(year, 3 * q - 2, 1, tzinfo=UTC)
        end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=UTC)
        return Period(name=f"{year}Q{q}", start=start, end=end)
    if m := _MONTH.match(text):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"'{text}' is not a month")
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + (month == 12), 1 if month == 12 else month + 1, 1, tzinfo=UTC)
        return Period(name=f"{year}-{month:02d}", start=start, end=end)
    raise ValueError(f"'{text}' is not a period (say 30d, 2026Q4 or 2026-11)")


class Deploy(Frozen):
    action_id: str
    service: str
    environment: str
    version: str
    status: str
    finished_at: datetime
    committed_at: datetime | None = None


class IncidentSpan(Frozen):
    id: str
    service: str | None
    declared_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None


class KpiReport(Frozen):
    period: Period
    service: str | None
    team: str | None
    deploys: int
    deploys_per_day: float
    lead_time_hours_median: float | None
    deploys_without_commit_time: int
    change_failures: int
    change_failure_rate: float | None
    restore_hours_median: float | None
    incidents: int
    incidents_open: int
    mtta_minutes: float | None
    mttr_minutes: float | None
    scorecard: dict[str, int]
    daily: list[tuple[str, int]]  # (date, production deploys)

    def lines(self) -> list[tuple[str, str]]:
        def fmt(v: float | None, unit: str) -> str:
            return "n/a" if v is None else f"{v:.1f} {unit}"

        cfr = "n/a" if self.change_failure_rate is None else f"{self.change_failure_rate:.0%}"
        return [
            (
                "Deployment frequency",
                f"{self.deploys} production deploys ({self.deploys_per_day:.2f}/day)",
            ),
            (
                "Lead time for changes",
                fmt(self.lead_time_hours_median, "h (median)")
                + (
                    f"; {self.deploys_without_commit_time} deploy(s) carried no commit time"
                    if self.deploys_without_commit_time
                    else ""
                ),
            ),
            ("Change failure rate", f"{cfr} ({self.change_failures} of {self.deploys})"),
            ("Time to restore", fmt(self.restore_hours_median, "h (median)")),
            ("Incidents", f"{self.incidents} declared, {self.incidents_open} still open"),
            ("MTTA / MTTR", f"{fmt(self.mtta_minutes, 'min')} / {fmt(self.mttr_minutes, 'min')}"),
            ("Automation", ", ".join(f"{k} {v}" for k, v in self.scorecard.items()) or "none"),
        ]


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def deploys(events: Iterable[Event]) -> list[Deploy]:
    """Finished rollouts, joined with the proposal policy saw (its params)."""
    events = list(events)
    proposals = {
        e.data.get("action_id"): (e.data.get("proposal") or {}).get("params") or {}
        for e in events
        if e.type == "policy.decided"
    }
    found = []
    for e in events:
        if e.data.get("action") != "deploy.rollout" or e.type not in {
            "action.succeeded",
            "action.failed",
            "action.rolled_back",
        }:
            continue
        params = proposals.get(e.data.get("action_id"), {})
        service, _, env = str(e.data.get("target", "")).partition("/")
        found.append(
            Deploy(
                action_id=str(e.data.get("action_id")),
                service=params.get("service", service),
                environment=params.get("environment", env),
                version=str(params.get("version", "")),
                status=e.type.split(".", 1)[1],
                finished_at=e.time,
                committed_at=_time(params.get("committed_at")),
            )
        )
    return sorted(found, key=lambda d: d.finished_at)


def rollbacks(events: Iterable[Event]) -> list[tuple[str, datetime]]:
    return sorted(
        (str(e.data.get("target", "")).split("/")[0], e.time)
        for e in events
        if e.data.get("action") == "deploy.rollback" and e.type == "action.succeeded"
    )


def incidents(events: Iterable[Event]) -> list[IncidentSpan]:
    spans: dict[str, dict[str, Any]] = {}
    for e in events:
        details = e.data.get("details") or {}
        iid = details.get("incident")
        if not iid or e.type != "action.succeeded":
            continue
        span = spans.setdefault(iid, {"id": iid})
        action = e.data.get("action")
        if action == "pagerduty.incident.create":
            span.update(declared_at=e.time, service=details.get("service"))
        elif action == "pagerduty.incident.acknowledge":
            span.setdefault("acknowledged_at", e.time)
        elif action == "pagerduty.incident.resolve":
            span["resolved_at"] = _time(details.get("resolved_at")) or e.time
            span.setdefault("acknowledged_at", _time(details.get("acknowledged_at")))
    return [IncidentSpan.model_validate(s) for s in spans.values() if s.get("declared_at")]


def scorecard(events: Iterable[Event], start: datetime, end: datetime) -> dict[str, int]:
    card = {
        "allowed": 0,
        "denied": 0,
        "needed approval": 0,
        "approved": 0,
        "rejected": 0,
        "rolled back": 0,
        "shadow": 0,
    }
    for e in events:
        if not start <= e.time < end:
            continue
        if e.type == "policy.decided":
            decision = e.data.get("decision") or {}
            if not decision.get("allow"):
                card["denied"] += 1
            elif decision.get("approvals_required"):
                card["needed approval"] += 1
            else:
                card["allowed"] += 1
        elif e.type == "approval.granted":
            card["approved"] += 1
        elif e.type in {"approval.rejected", "approval.expired"}:
            card["rejected"] += 1
        elif e.type == "action.rolled_back":
            card["rolled back"] += 1
        elif e.type == "action.shadowed":
            card["shadow"] += 1
    return {k: v for k, v in card.items() if v}


def report(
    events: Iterable[Event],
    per: Period,
    *,
    service: str | None = None,
    team: str | None = None,
    team_services: set[str] | None = None,
) -> KpiReport:
    events = list(events)

    def mine(svc: str | None) -> bool:
        if service is not None:
            return svc == service
        if team_services is not None:
            return svc in team_services
        return True

    all_deploys = [d for d in deploys(events) if d.environment == "production" and mine(d.service)]
    backs = rollbacks(events)
    spans = [i for i in incidents(events) if mine(i.service)]
    in_period = [d for d in all_deploys if per.start <= d.finished_at < per.end]
    leads = [
        (d.finished_at - d.committed_at).total_seconds() / 3600
        for d in in_period
        if d.status == "succeeded" and d.committed_at is not None
    ]
    failures, restores = 0, []
    for d in in_period:
        failed_at: datetime | None = None
        if d.status != "succeeded":
            failed_at = d.finished_at
        else:
            window = d.finished_at + FAILURE_WINDOW
            back = next(
                (t for s, t in backs if s == d.service and d.finished_at < t <= window), None
            )
            inc = next(
                (
                    i
                    for i in spans
                    if i.service == d.service and d.finished_at < i.declared_at <= window
                ),
                None,
            )
            failed_at = back or (inc.declared_at if inc else None)
            if back is not None:
                restores.append(0.0)  # the rollback itself restored it
            elif inc is not None and inc.resolved_at is not None:
                restores.append((inc.resolved_at - inc.declared_at).total_seconds() / 3600)
        if failed_at is None:
            continue
        failures += 1
        if d.status != "succeeded":
            # A failed or rolled-back rollout left the old version serving: restored at once,
            # unless an incident for it ran longer.
            inc = next(
                (
                    i
                    for i in spans
                    if i.service == d.service
                    and d.finished_at <= i.declared_at <= d.finished_at + FAILURE_WINDOW
                ),
                None,
            )
            restores.append(
                (inc.resolved_at - inc.declared_at).total_seconds() / 3600
                if inc and inc.resolved_at
                else 0.0
            )
    declared = [i for i in spans if per.start <= i.declared_at < per.end]
    acks = [
        (i.acknowledged_at - i.declared_at).total_seconds() / 60
        for i in declared
        if i.acknowledged_at
    ]
    fixes = [
        (i.resolved_at - i.declared_at).total_seconds() / 60
        for i in declared
        if i.resolved_at and i.resolved_at <= per.end
    ]
    days: dict[str, int] = {}
    day = per.start.date()
    while day < per.end.date() and len(days) < 400:
        days[day.isoformat()] = 0
        day += timedelta(days=1)
    for d in in_period:
        key = d.finished_at.date().isoformat()
        if key in days and d.status == "succeeded":
            days[key] += 1
    succeeded = sum(1 for d in in_period if d.status == "succeeded")
    return KpiReport(
        period=per,
        service=service,
        team=team,
        deploys=len(in_period),
        deploys_per_day=round(succeeded / per.days, 3) if per.days > 0 else 0.0,
        lead_time_hours_median=round(statistics.median(leads), 2) if leads else None,
        deploys_without_commit_time=sum(1 for d in in_period if d.committed_at is None),
        change_failures=failures,
        change_failure_rate=round(failures / len(in_period), 4) if in_period else None,
        restore_hours_median=round(statistics.median(restores), 2) if restores else None,
        incidents=len(declared),
        incidents_open=sum(1 for i in declared if not i.resolved_at or i.resolved_at > per.end),
        mtta_minutes=round(statistics.mean(acks), 1) if acks else None,
        mttr_minutes=round(statistics.mean(fixes), 1) if fixes else None,
        scorecard=scorecard(events, per.start, per.end),
        daily=sorted(days.items()),
    )


def chart(rep: KpiReport) -> bytes:
    """Production deploys per day over the period, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3), dpi=100)
    labels = [d for d, _ in rep.daily]
    ax.bar(range(len(labels)), [n for _, n in rep.daily], color="#2b6cb0")
    step = max(1, len(labels) // 8)
    ax.set_xticks(range(0, len(labels), step), [labels[i][5:] for i in range(0, len(labels), step)])
    who = rep.service or rep.team or "all services"
    cfr = "n/a" if rep.change_failure_rate is None else f"{rep.change_failure_rate:.0%}"
    ax.set_title(f"Production deploys per day, {who}, {rep.period.name} (CFR {cfr})")
    ax.set_ylabel("deploys")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


class KpiSource:
    """The read-only port skills get: reports over the event log."""

    def __init__(self, events: Any, teams: dict[str, str], now: Any) -> None:
        self._events = events  # bot.events.EventLog
        self.teams = teams  # service -> team
        self._now = now

    def report(self, who: str | None, when: str | None) -> KpiReport:
        per = period(when, self._now())
        team_services = None
        service = None
        team = None
        if who and who in set(self.teams.values()) and who not in self.teams:
            team = who
            team_services = {s for s, t in self.teams.items() if t == who}
        elif who:
            service = who
        return report(
            self._events.read(), per, service=service, team=team, team_services=team_services
        )
