"""Postmortem drafts from facts: the incident, its timeline, and the events around it (deploys,
rollbacks, drift, policy decisions). Root-cause candidates each cite the timeline entries
(T<n>) and events (E:<id>) they rest on; with nothing to cite, there is no candidate but the
honest one. Rendered as Markdown through a Jinja2 template users can replace."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2

from bot.events import Event
from bot.incidents import Incident, TimelineEntry
from bot.models import Frozen

TEMPLATE = Path(__file__).with_name("templates") / "postmortem.md.j2"
LOOKBACK = timedelta(hours=24)


class Change(Frozen):
    ref: str  # E:<event id>
    text: str
    at: datetime
    kind: str  # deploy | rollback | drift


class Candidate(Frozen):
    text: str
    evidence: tuple[str, ...]


class ActionItem(Frozen):
    text: str
    owner: str


class Postmortem(Frozen):
    incident: Incident
    drafted_at: str
    summary: str
    services: tuple[str, ...]
    acknowledged: str | None
    resolved: str | None
    duration: str
    duration_minutes: float | None
    timeline: tuple[TimelineEntry, ...]
    changes: tuple[Change, ...]
    candidates: tuple[Candidate, ...]
    went_well: tuple[str, ...]
    went_badly: tuple[str, ...]
    actions: tuple[ActionItem, ...]
    narrative: str | None = None
    narrative_source: str = "templated"


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


def _refs(timeline: list[TimelineEntry], *needles: str) -> list[str]:
    return [
        f"T{i}"
        for i, e in enumerate(timeline, start=1)
        if any(n.lower() in e.text.lower() for n in needles)
    ]


def _changes(incident: Incident, events: list[Event], services: set[str]) -> list[Change]:
    start = incident.declared_at - LOOKBACK
    end = incident.resolved_at or max((e.time for e in events), default=incident.declared_at)
    found = []
    for e in events:
        if not start <= e.time <= end:
            continue
        action = str(e.data.get("action", ""))
        service = str(e.data.get("target", "")).split("/")[0]
        if (
            action in {"deploy.rollout", "deploy.rollback"}
            and e.type in {"action.succeeded", "action.failed", "action.rolled_back"}
            and service in services
        ):
            kind = "deploy" if action == "deploy.rollout" else "rollback"
            found.append(
                Change(
                    ref=f"E:{e.id}",
                    at=e.time,
                    kind=kind,
                    text=f"{e.time:%Y-%m-%d %H:%M} {action} {e.data.get('target')}: "
                    f"{e.data.get('summary', '')}",
                )
            )
        elif e.type == "drift.detected" and services & set(e.data.get("services") or []):
            n = len(e.data.get("resources") or [])
            found.append(
                Change(
                    ref=f"E:{e.id}",
                    at=e.time,
                    kind="drift",
                    text=f"{e.time:%Y-%m-%d %H:%M} Terraform drift in "
                    f"{e.data.get('workspace')}: {n} resource(s) changed outside "
                    "Terraform",
                )
            )
    return sorted(found, key=lambda c: c.at)


def draft(
    incident: Incident, timeline: list[TimelineEntry], events: list[Event], now: datetime
) -> Postmortem:
    services = {incident.service} if incident.service else set()
    changes = _changes(incident, events, services)
    before = [c for c in changes if c.at <= incident.declared_at]
    candidates = []
    for c in reversed(before):  # the most recent change first
        lead = _minutes(c.at, incident.declared_at)
        if c.kind == "deploy":
            candidates.append(
                Candidate(
                    text=f"A deploy finished {lead:.0f} min before the incident was declared: "
                    + c.text,
                    evidence=(c.ref, *_refs(timeline, "deploy.rollout", "deploy"))[:6],
                )
            )
        elif c.kind == "drift":
            candidates.append(
                Candidate(
                    text=f"Infrastructure changed outside Terraform {lead:.0f} min before: "
                    f"{c.text}",
                    evidence=(c.ref, *_refs(timeline, "drift"))[:6],
                )
            )
    alerts = _refs(timeline, "alert")
    if alerts:
        first = timeline[int(alerts[0][1:]) - 1]
        candidates.append(
            Candidate(text=f"What the monitoring saw: {first.text}", evidence=tuple(alerts[:6]))
        )
    if not before:
        candidates.append(
            Candidate(
                text="No deploy, rollback or drift of the affected services in the 24 hours "
                "before the incident; look at traffic, dependencies and changes shipmate did not "
                "make.",
                evidence=(
                    "search: deployments and drift events for "
                    + (", ".join(sorted(services)) or "the services")
                    + f" from {incident.declared_at - LOOKBACK:%Y-%m-%d %H:%M} to "
                    f"{incident.declared_at:%Y-%m-%d %H:%M} UTC: none",
                ),
            )
        )
    ack = incident.acknowledged_at
    end = incident.resolved_at
    duration = _minutes(incident.declared_at, end) if end else None
    well: list[str] = []
    badly: list[str] = []
    if ack is not None:
        minutes = _minutes(incident.declared_at, ack)
        (well if minutes <= 15 else badly).append(f"Acknowledged after {minutes:.0f} min.")
    else:
        badly.append("Never acknowledged.")
    steps = _refs(timeline, "runbook")
    if steps:
        well.append(f"Runbook steps ran through policy and are on record ({', '.join(steps[:5])}).")
    failures = _refs(timeline, "failed", "refused", "denied")
    if failures:
        badly.append(f"Steps that failed or were refused: {', '.join(failures[:6])}.")
    rollbacks = [c for c in changes if c.kind == "rollback" and c.at >= incident.declared_at]
    if rollbacks:
        well.append(f"A rollback restored service ({rollbacks[0].ref}).")
    owner = incident.commander or incident.declared_by
    actions = [
        ActionItem(
            text=re.sub(r"^(todo|action)\b:?\s*", "", e.text.split(":", 1)[1].strip(), flags=re.I),
            owner=owner,
        )
        for e in timeline
        if e.text.lower().startswith(("note: todo", "note: action"))
    ]
    if before:
        actions.append(
            ActionItem(text="Check why the change's canary or tests did not catch it", owner=owner)
        )
    actions.append(
        ActionItem(text="Review this draft and the timeline with the responders", owner=owner)
    )
    summary = (
        f"{incident.severity.upper()} on {incident.service or 'an unnamed service'}: "
        f"{incident.title}. Declared {incident.declared_at:%Y-%m-%d %H:%M} UTC by "
        f"{incident.declared_by}; "
        + (f"resolved after {duration:.0f} min." if duration is not None else "still open.")
    )
    return Postmortem(
        incident=incident,
        drafted_at=f"{now:%Y-%m-%d %H:%M} UTC",
        summary=summary,
        services=tuple(sorted(services)),
        acknowledged=f"{ack:%Y-%m-%d %H:%M UTC}" if ack else None,
        resolved=f"{end:%Y-%m-%d %H:%M UTC}" if end else None,
        duration=f"{duration:.0f} min" if duration is not None else "ongoing",
        duration_minutes=round(duration, 1) if duration is not None else None,
        timeline=tuple(timeline),
        changes=tuple(changes),
        candidates=tuple(candidates),
        went_well=tuple(well),
        went_badly=tuple(badly),
        actions=tuple(actions),
    )


def render(pm: Postmortem, template: Path | None = None) -> str:
    path = template or TEMPLATE
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(path.parent)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML
        keep_trailing_newline=True,
    )
    return env.get_template(path.name).render(pm=pm)


def as_dict(pm: Postmortem) -> dict[str, Any]:
    return pm.model_dump(mode="json")
