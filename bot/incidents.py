"""Incidents as skills see them: the incident, its timeline, alerts, and the read-only port.
Declaring, paging, updating and resolving are Actions (pagerduty.*, incident.*, slack.*)
that only the Gate's executor carries out."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal, Protocol

from pydantic import Field

from bot.models import Frozen

Severity = Literal["sev1", "sev2", "sev3", "sev4"]
Status = Literal["triggered", "acknowledged", "resolved"]


class Incident(Frozen):
    id: str  # e.g. INC-3
    number: int
    title: str
    severity: Severity
    service: str | None
    status: Status
    channel: str | None  # the war room (Slack channel id, or its name in the terminal)
    channel_name: str | None
    status_message: str | None = None  # the pinned status message, updated in place
    commander: str | None = None
    comms: str | None = None
    declared_by: str
    declared_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    pagerduty_id: str | None = None
    fingerprints: tuple[str, ...] = ()
    last_update: str | None = None


class TimelineEntry(Frozen):
    at: datetime
    actor: str
    source: str  # command | event | alert | reaction | pagerduty | runbook
    text: str
    link: str | None = None


class Alert(Frozen):
    """One alert from any intake (Alertmanager, PagerDuty, a generic JSON)."""

    fingerprint: str
    title: str
    status: Literal["firing", "resolved"] = "firing"
    severity: Severity = "sev3"
    service: str | None = None
    source: str
    labels: dict[str, str] = Field(default_factory=dict)
    link: str | None = None
    starts_at: datetime | None = None


class IncidentReader(Protocol):
    def get(self, incident_id: str) -> Incident | None: ...

    def by_channel(self, channel: str) -> Incident | None: ...

    def open(self) -> list[Incident]: ...

    def timeline(self, incident_id: str) -> list[TimelineEntry]: ...

    def oncall(self, service: str | None) -> list[str]: ...


_SLUG = re.compile(r"[^a-z0-9]+")


def channel_name(template: str, day: datetime, service: str | None, title: str) -> str:
    """A war-room name from the template, e.g. inc-20261127-payments-latency: lowercase,
    dashes, at most 80 characters (Slack's limit)."""
    skip = {"is", "the", "a", "an", "of", "in", "on", (service or "").lower()}
    words = [w for w in _SLUG.sub(" ", title.lower()).split() if w not in skip]
    slug = "-".join(words[:4]) or "incident"
    name = template.format(date=day.strftime("%Y%m%d"), service=service or "general", slug=slug)
    return _SLUG.sub("-", name.lower()).strip("-")[:80]
