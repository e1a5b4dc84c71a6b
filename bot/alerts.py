"""Alert intake: Prometheus Alertmanager webhooks (version 4), PagerDuty webhooks v3 (signed),
and a generic JSON alert, each read into Alerts; then each alert becomes an incident or joins
the open one with its fingerprint (or the same service and title), and resolved alerts are
noted in the incident's timeline. Declaring goes through the Gate as shipmate itself."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any, Protocol

import structlog

from bot.channel import Channels, MessageRef, Reply, SafeChannel
from bot.clock import Clock
from bot.incidents import Alert, Incident, Severity
from bot.models import Action, Origin, Principal, Transport, new_id
from bot.runbooks import Runbook, suggest

log = structlog.get_logger(__name__)

AUTOMATION = Principal(name="shipmate", roles=("automation",))

_SEVERITY: dict[str, Severity] = {
    "critical": "sev1",
    "page": "sev1",
    "sev1": "sev1",
    "p1": "sev1",
    "error": "sev2",
    "high": "sev2",
    "major": "sev2",
    "sev2": "sev2",
    "p2": "sev2",
    "warning": "sev3",
    "medium": "sev3",
    "sev3": "sev3",
    "p3": "sev3",
    "info": "sev4",
    "low": "sev4",
    "sev4": "sev4",
    "p4": "sev4",
}


class AlertError(ValueError):
    """The body is not an alert of this kind (the message says what is wrong)."""


def severity(value: Any) -> Severity:
    return _SEVERITY.get(str(value or "").strip().lower(), "sev3")


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


def from_alertmanager(body: dict[str, Any]) -> list[Alert]:
    """Alertmanager's webhook payload (version "4"): one Alert per entry of `alerts`, labels
    merged over the common ones; `fingerprint` as Alertmanager gives it."""
    if not isinstance(body, dict) or not isinstance(body.get("alerts"), list):
        raise AlertError("not an Alertmanager webhook: no 'alerts' list")
    if str(body.get("version", "4")) != "4":
        raise AlertError(
            f"Alertmanager webhook version {body.get('version')} is not supported (4 is)"
        )
    common = body.get("commonLabels") or {}
    found = []
    for item in body["alerts"]:
        labels = {**common, **(item.get("labels") or {})}
        notes = {**(body.get("commonAnnotations") or {}), **(item.get("annotations") or {})}
        name = labels.get("alertname", "alert")
        service = labels.get("service") or labels.get("app") or labels.get("job")
        found.append(
            Alert(
                fingerprint=str(item.get("fingerprint") or _fingerprint(sorted(labels.items()))),
                title=str(notes.get("summary") or name)[:120],
                status="resolved" if item.get("status") == "resolved" else "firing",
                severity=severity(labels.get("severity")),
                service=str(service) if service else None,
                source="alertmanager",
                labels={str(k): str(v) for k, v in labels.items()},
                link=item.get("generatorURL") or body.get("externalURL"),
                starts_at=_time(item.get("startsAt")),
            )
        )
    return found


def from_generic(body: dict[str, Any]) -> Alert:
    """{"title", "status": firing|resolved, "severity", "service", "fingerprint"?, "link"?,
    "labels"?}: the least any monitoring tool can send."""
    if not isinstance(body, dict) or not body.get("title"):
        raise AlertError("a generic alert needs at least a 'title'")
    labels = {str(k): str(v) for k, v in (body.get("labels") or {}).items()}
    return Alert(
        fingerprint=str(
            body.get("fingerprint") or _fingerprint(body.get("service"), body["title"])
        ),
        title=str(body["title"])[:120],
        status="resolved" if body.get("status") == "resolved" else "firing",
        severity=severity(body.get("severity")),
        service=body.get("service"),
        source="generic",
        labels=labels,
        link=body.get("link"),
    )


def verify_pagerduty(secrets: list[str], body: bytes, header: str | None) -> bool:
    """X-PagerDuty-Signature: comma-separated `v1=<hex HMAC-SHA256(secret, raw body)>`, several
    during a secret rotation; any match with any current secret is valid (constant time)."""
    if not header or not secrets or not body:
        return False
    given = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    for secret in secrets:
        want = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(want, g) for g in given):
            return True
    return False


def from_pagerduty(body: dict[str, Any]) -> Alert | None:
    """A PagerDuty v3 webhook event about an incident; None for other events."""
    event = body.get("event") if isinstance(body, dict) else None
    if not isinstance(event, dict) or "event_type" not in event:
        raise AlertError("not a PagerDuty v3 webhook: no 'event' with an 'event_type'")
    data = event.get("data") or {}
    if event.get("resource_type") != "incident" or not data.get("id"):
        return None
    kind = str(event["event_type"])
    status = (
        "resolved" if kind == "incident.resolved" or data.get("status") == "resolved" else "firing"
    )
    priority = (data.get("priority") or {}).get("summary")
    return Alert(
        fingerprint=f"pd:{data['id']}",
        title=str(data.get("title") or kind)[:120],
        status=status,
        severity=severity(priority or ("high" if data.get("urgency") == "high" else "low")),
        service=(data.get("service") or {}).get("summary"),
        source="pagerduty",
        labels={"event_type": kind, "pagerduty_id": str(data["id"])},
        link=data.get("html_url"),
        starts_at=_time(event.get("occurred_at")),
    )


class Desk(Protocol):
    def by_fingerprint(self, fingerprint: str) -> Incident | None: ...

    def open(self) -> list[Incident]: ...

    def add_fingerprint(self, incident_id: str, fingerprint: str) -> None: ...

    def note_timeline(
        self, incident_id: str, actor: str, source: str, text: str, link: str | None = None
    ) -> None: ...


class Submitter(Protocol):
    async def submit(self, action: Action, channel: Any) -> Any: ...


class AlertIntake:
    def __init__(
        self,
        desk: Desk,
        gate: Submitter,
        channels: Channels,
        clock: Clock,
        runbooks: dict[str, Runbook],
        *,
        transport: Transport,
        channel: str,
        services: set[str] | None = None,
    ) -> None:
        self.desk = desk
        self.gate = gate
        self.channels = channels
        self.clock = clock
        self.runbooks = runbooks
        self.transport = transport
        self.channel = channel  # where alert-declared incidents are announced
        self.services = services
        # Declared but not yet recorded by the executor: a second copy of the alert in that
        # moment joins instead of declaring twice.
        self._pending: dict[str, datetime] = {}

    def _joinable(self, alert: Alert) -> Incident | None:
        found = self.desk.by_fingerprint(alert.fingerprint)
        if found is not None:
            return found
        for incident in self.desk.open():
            if (
                alert.service
                and incident.service == alert.service
                and incident.title == alert.title
            ):
                return incident
        return None

    async def receive(self, alert: Alert) -> str:
        """What became of the alert, in a word: declared, joined, repeated, resolved, ignored."""
        incident = self._joinable(alert)
        link = alert.link
        if alert.status == "resolved":
            if incident is None:
                return "ignored"
            self.desk.note_timeline(
                incident.id, alert.source, "alert", f"Alert resolved: {alert.title}", link
            )
            return "resolved"
        now = self.clock.now()
        self._pending = {f: t for f, t in self._pending.items() if (now - t).total_seconds() < 300}
        if incident is None and alert.fingerprint in self._pending:
            return "repeated"
        if incident is not None:
            repeat = alert.fingerprint in incident.fingerprints
            self.desk.add_fingerprint(incident.id, alert.fingerprint)
            self.desk.note_timeline(
                incident.id,
                alert.source,
                "alert",
                f"Alert {'fired again' if repeat else 'joined'}: {alert.title}",
                link,
            )
            return "repeated" if repeat else "joined"
        service = alert.service if not self.services or alert.service in self.services else None
        words = " ".join([alert.title, *alert.labels.values()])
        books = suggest(self.runbooks, words, service)
        origin = Origin(transport=self.transport, channel=self.channel)
        request_id = new_id("al")
        action = Action(
            name="pagerduty.incident.create",
            target=f"incident/{service or 'general'}",
            params={
                "title": alert.title,
                "severity": alert.severity,
                "service": service,
                "fingerprints": [alert.fingerprint],
                "runbooks": [b.name for b in books],
                "source": alert.source,
                "link": link,
            },
            requester=AUTOMATION,
            origin=origin,
            correlation_id=request_id,
            idempotency_key=Action.key_for(
                request_id, "pagerduty.incident.create", alert.fingerprint
            ),
            summary=f"declare a {alert.severity.upper()} incident from {alert.source}: "
            f"{alert.title}",
        )
        self._pending[alert.fingerprint] = now
        await self.gate.submit(action, self.channels.resolve(origin) or SafeChannel(LogChannel()))
        return "declared"


class LogChannel:
    """Where replies go when no door is listening (shipmate serve alone): the log."""

    transport: Transport = "terminal"
    channel_id = "log"

    async def post(self, reply: Reply, thread: str | None = None) -> MessageRef:
        log.info("reply", text=reply.text, thread=thread)
        return MessageRef(channel="log", id=new_id("m"))

    async def update(self, ref: MessageRef, reply: Reply) -> None:
        log.info("update", text=reply.text, message=ref.id)
