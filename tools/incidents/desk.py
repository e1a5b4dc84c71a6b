"""The incident desk: incidents and their timelines in SQLite (the embedded stand-in for
PagerDuty's record, and shipmate's own record when PagerDuty is connected), and the writers
the Gate's executor runs: declare (page on-call, open the war room, invite, topic, welcome card,
pinned status), acknowledge, update, note, assign a role, resolve (final status, archive the
room after a grace period, ask for a postmortem), archive.

PagerDuty is called through a Pager; when it fails, the incident goes on without it and the
timeline says so (a PagerDuty outage never blocks the war room)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import structlog

from bot.channel import Button, Channels, MessageRef, Reply, ReplyKind
from bot.clock import Clock
from bot.events import Event
from bot.incidents import Incident, TimelineEntry, channel_name
from bot.models import Action, Decision, ExecutionResult, Origin
from bot.ports import Progress
from bot.store import Store
from bot.tasks import Tasks
from tools.guard import writer
from tools.incidents.rooms import Rooms

log = structlog.get_logger(__name__)

# Policy's word on a step shipmate takes by itself (the archive after the grace period).
Authorize = Callable[[Action, str, dict[str, Any], str], Awaitable[Decision]]


class Pager(Protocol):
    name: str

    async def trigger(self, incident: Incident) -> str | None: ...

    async def acknowledge(self, pagerduty_id: str, by: str) -> None: ...

    async def resolve(self, pagerduty_id: str, by: str) -> None: ...

    async def note(self, pagerduty_id: str, text: str, by: str) -> None: ...

    async def oncall(self, service: str | None) -> list[str]: ...


class LocalPager:
    """No paging service: on-call comes from the team directory's `oncall` role."""

    name = "local"

    def __init__(self, oncall: list[str]) -> None:
        self._oncall = oncall

    async def trigger(self, incident: Incident) -> str | None:
        return None

    async def acknowledge(self, pagerduty_id: str, by: str) -> None:
        return None

    async def resolve(self, pagerduty_id: str, by: str) -> None:
        return None

    async def note(self, pagerduty_id: str, text: str, by: str) -> None:
        return None

    async def oncall(self, service: str | None) -> list[str]:
        return list(self._oncall)


class IncidentDesk:
    DDL = """
    CREATE TABLE IF NOT EXISTS incidents (
        id TEXT PRIMARY KEY,
        number INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS incident_timeline (
        incident_id TEXT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        source TEXT NOT NULL,
        text TEXT NOT NULL,
        link TEXT
    );
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        rooms: Rooms,
        pager: Pager,
        channels: Channels,
        tasks: Tasks,
        *,
        name_template: str = "inc-{date}-{service}-{slug}",
        stakeholders: str | None = None,
        archive_after_seconds: float = 3600.0,
        directory_oncall: tuple[str, ...] = (),
    ) -> None:
        self.directory_oncall = directory_oncall
        self._store = store
        self._clock = clock
        self.rooms = rooms
        self.pager = pager
        self.channels = channels
        self.tasks = tasks
        self.name_template = name_template
        self.stakeholders = stakeholders
        self.archive_after = archive_after_seconds
        self.authorize: Authorize | None = None  # set by the composition root
        store.ensure_schema(self.DDL)

    async def close(self) -> None:
        close = getattr(self.pager, "close", None)
        if close is not None:
            await close()

    # ---- reading ------------------------------------------------------------------------
    def _load(self, row: Any) -> Incident:
        return Incident.model_validate_json(row["body"])

    def get(self, incident_id: str) -> Incident | None:
        row = self._store.one("SELECT body FROM incidents WHERE id=?", (incident_id.upper(),))
        return self._load(row) if row else None

    def all(self) -> list[Incident]:
        return [
            self._load(r) for r in self._store.query("SELECT body FROM incidents ORDER BY number")
        ]

    def open(self) -> list[Incident]:
        return [i for i in self.all() if i.status != "resolved"]

    def by_channel(self, channel: str) -> Incident | None:
        return next((i for i in self.all() if channel and i.channel == channel), None)

    def by_fingerprint(self, fingerprint: str) -> Incident | None:
        return next((i for i in self.open() if fingerprint in i.fingerprints), None)

    def for_service(self, service: str) -> list[Incident]:
        return [i for i in self.open() if i.service == service]

    def timeline(self, incident_id: str) -> list[TimelineEntry]:
        rows = self._store.query(
            "SELECT * FROM incident_timeline WHERE incident_id=? ORDER BY at, rowid",
            (incident_id.upper(),),
        )
        return [
            TimelineEntry(
                at=datetime.fromisoformat(r["at"]),
                actor=r["actor"],
                source=r["source"],
                text=r["text"],
                link=r["link"],
            )
            for r in rows
        ]

    def oncall(self, service: str | None) -> list[str]:
        return list(self.directory_oncall)

    # ---- shipmate's own record (not a change in the world) -------------------------------
    def note_timeline(
        self, incident_id: str, actor: str, source: str, text: str, link: str | None = None
    ) -> None:
        with self._store.tx() as db:
            db.execute(
                "INSERT INTO incident_timeline VALUES (?,?,?,?,?,?)",
                (incident_id, self._clock.now().isoformat(), actor, source, text, link),
            )

    def _save(self, incident: Incident) -> None:
        with self._store.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO incidents VALUES (?,?,?)",
                (incident.id, incident.number, incident.model_dump_json()),
            )

    async def on_event(self, event: Event) -> None:
        """Events about a service with an open incident go into that incident's timeline:
        deploys and rollbacks, drift, policy decisions, runbook steps."""
        text = timeline_text(event)
        if text is None:
            return
        named = str(event.data.get("incident") or "")
        if named:
            if self.get(named) is not None:
                self.note_timeline(named, event.actor, "runbook", text, f"event:{event.id}")
            return
        for service in _services(event):
            for incident in self.for_service(service):
                self.note_timeline(incident.id, event.actor, "event", text, f"event:{event.id}")

    def add_fingerprint(self, incident_id: str, fingerprint: str) -> None:
        incident = self.get(incident_id)
        if incident and fingerprint not in incident.fingerprints:
            self._save(
                incident.model_copy(update={"fingerprints": (*incident.fingerprints, fingerprint)})
            )

    # ---- talking in the room --------------------------------------------------------------
    def _origin(self, action: Action, channel: str) -> Origin:
        return Origin(transport=action.origin.transport, channel=channel)

    async def _say(self, action: Action, channel: str | None, reply: Reply) -> MessageRef | None:
        if not channel:
            return None
        safe = self.channels.resolve(self._origin(action, channel))
        return await safe.post(reply) if safe else None

    def status_card(self, incident: Incident) -> Reply:
        kind = ReplyKind.SUCCESS if incident.status == "resolved" else ReplyKind.WARNING
        fields = [
            ("Status", incident.status),
            ("Severity", incident.severity.upper()),
            ("Service", incident.service or "-"),
            ("Commander", incident.commander or "unassigned"),
            ("Comms", incident.comms or "unassigned"),
            ("Declared", f"{incident.declared_at:%Y-%m-%d %H:%M} UTC by {incident.declared_by}"),
        ]
        if incident.last_update:
            fields.append(("Last update", incident.last_update))
        return Reply(kind=kind, text=f"{incident.id} · {incident.title}", fields=tuple(fields))

    async def _refresh_status(self, action: Action, incident: Incident) -> None:
        if incident.channel and incident.status_message:
            safe = self.channels.resolve(self._origin(action, incident.channel))
            if safe:
                ref = MessageRef(channel=incident.channel, id=incident.status_message)
                await safe.update(ref, self.status_card(incident))

    def _buttons(self, incident: Incident) -> tuple[Button, ...]:
        return (
            Button(label="Acknowledge", action="say", value=f"/incident ack {incident.id}"),
            Button(label="Post update", action="say", value=f"/incident status {incident.id}"),
            Button(
                label="Resolve",
                action="say",
                value=f"/incident resolve {incident.id}",
                style="primary",
            ),
        )

    async def _topic(self, incident: Incident) -> None:
        if incident.channel:
            await self.rooms.topic(
                incident.channel,
                f"{incident.severity.upper()} · {incident.title} · {incident.status} · "
                f"IC {incident.commander or 'unassigned'}",
            )

    # ---- writers --------------------------------------------------------------------------
    @writer
    async def declare(self, action: Action, progress: Progress) -> ExecutionResult:
        p = action.params
        now = self._clock.now()
        number = (
            int(
                (
                    self._store.one("SELECT COALESCE(MAX(number), 0) AS n FROM incidents")
                    or {"n": 0}
                )["n"]
            )
            + 1
        )
        incident = Incident(
            id=f"INC-{number}",
            number=number,
            title=p["title"],
            severity=p.get("severity", "sev3"),
            service=p.get("service"),
            status="triggered",
            channel=None,
            channel_name=None,
            declared_by=action.requester.name,
            declared_at=now,
            commander=action.requester.name if action.requester.name != "shipmate" else None,
            fingerprints=tuple(p.get("fingerprints", ())),
        )
        self._save(incident)
        self.note_timeline(
            incident.id,
            action.requester.name,
            "command",
            f"Declared {incident.severity.upper()}: {incident.title}",
        )
        notes = []
        # Page first: PagerDuty's outage must not keep the room from opening.
        try:
            pd_id = await self.pager.trigger(incident)
            if pd_id:
                incident = incident.model_copy(update={"pagerduty_id": pd_id})
                self.note_timeline(incident.id, "shipmate", "pagerduty", f"Paged on-call ({pd_id})")
        except Exception as exc:
            log.warning("paging failed", incident=incident.id, error=str(exc))
            notes.append(f"paging failed ({exc}); page by hand")
            self.note_timeline(incident.id, "shipmate", "pagerduty", f"Paging failed: {exc}")
        try:
            oncall = await self.pager.oncall(incident.service)
        except Exception as exc:
            oncall = []
            notes.append(f"could not read who is on call ({exc})")
        name = channel_name(self.name_template, now, incident.service, incident.title)
        channel, got = await self.rooms.create(name)
        people = sorted({action.requester.name, *oncall} - {"shipmate"})
        invited = await self.rooms.invite(channel, people)
        incident = incident.model_copy(update={"channel": channel, "channel_name": got})
        self._save(incident)
        await self._topic(incident)
        self.note_timeline(
            incident.id,
            "shipmate",
            "command",
            f"War room #{got} opened; invited {', '.join(invited) or 'nobody'}",
        )
        await self._say(
            action,
            channel,
            Reply(
                kind=ReplyKind.WARNING,
                text=f"{incident.id} declared by {action.requester.name}: {incident.title}",
                fields=(
                    ("Severity", incident.severity.upper()),
                    ("Service", incident.service or "-"),
                    ("On call", ", ".join(oncall) or "unknown"),
                    (
                        "Commander",
                        incident.commander or "unassigned: /incident role <id> commander @you",
                    ),
                    (
                        "Commands",
                        "/incident ack|update|note|role|status|timeline|resolve "
                        f"{incident.id}; /runbook list",
                    ),
                ),
                buttons=self._buttons(incident),
            ),
        )
        status = await self._say(action, channel, self.status_card(incident))
        if status is not None and status.id:
            incident = incident.model_copy(update={"status_message": status.id})
            self._save(incident)
            await self.rooms.pin(channel, status.id)
        books = [str(b) for b in p.get("runbooks") or []]
        if books:
            where = f" service={incident.service}" if incident.service else ""
            await self._say(
                action,
                channel,
                Reply(
                    text="Runbooks that may help: " + ", ".join(books) + ". Each step goes "
                    "through policy; dry-run shows them all first.",
                    buttons=tuple(
                        Button(
                            label=f"Dry-run {b}",
                            action="say",
                            value=f"/runbook run {b}{where} --incident {incident.id} --dry-run",
                        )
                        for b in books[:4]
                    ),
                ),
            )
        await self._say(
            action,
            self.stakeholders,
            Reply(
                text=f"{incident.id} ({incident.severity.upper()}) declared: {incident.title}. "
                f"War room #{got}."
            ),
        )
        extra = f" ({'; '.join(notes)})" if notes else ""
        return ExecutionResult(
            status="succeeded",
            summary=f"{incident.id} declared: war room #{got}, {', '.join(invited) or 'nobody'} "
            f"invited{extra}.",
            details={
                "incident": incident.id,
                "channel": channel,
                "channel_name": got,
                "service": incident.service,
                "severity": incident.severity,
            },
        )

    def _incident(self, action: Action) -> Incident:
        incident = self.get(str(action.params["incident"]))
        if incident is None:
            raise ValueError(f"no incident {action.params['incident']}")
        return incident

    async def _mirror(self, incident: Incident, verb: str, call: Awaitable[None]) -> None:
        """A change mirrored to PagerDuty; its failure goes in the timeline, never stops us."""
        try:
            await call
        except Exception as exc:
            self.note_timeline(
                incident.id, "shipmate", "pagerduty", f"PagerDuty {verb} failed: {exc}"
            )

    async def _changed(
        self, action: Action, incident: Incident, text: str, source: str = "command"
    ) -> None:
        self._save(incident)
        self.note_timeline(incident.id, action.requester.name, source, text)
        await self._refresh_status(action, incident)
        await self._topic(incident)

    @writer
    async def acknowledge(self, action: Action, progress: Progress) -> ExecutionResult:
        incident = self._incident(action)
        if incident.status != "triggered":
            return ExecutionResult(
                status="succeeded", summary=f"{incident.id} is already {incident.status}."
            )
        incident = incident.model_copy(
            update={"status": "acknowledged", "acknowledged_at": self._clock.now()}
        )
        if incident.pagerduty_id:
            await self._mirror(
                incident,
                "ack",
                self.pager.acknowledge(incident.pagerduty_id, action.requester.name),
            )
        await self._changed(action, incident, f"Acknowledged by {action.requester.name}")
        return ExecutionResult(
            status="succeeded",
            summary=f"{incident.id} acknowledged by {action.requester.name}.",
            details={"incident": incident.id},
        )

    @writer
    async def update(self, action: Action, progress: Progress) -> ExecutionResult:
        incident = self._incident(action)
        text = str(action.params["text"])
        incident = incident.model_copy(update={"last_update": text})
        await self._changed(action, incident, f"Status update: {text}")
        await self._say(
            action,
            self.stakeholders,
            Reply(
                text=f"{incident.id} update ({incident.severity.upper()}, {incident.status}): "
                f"{text}"
            ),
        )
        return ExecutionResult(
            status="succeeded",
            summary=f"Update posted for {incident.id}.",
            details={"incident": incident.id},
        )

    @writer
    async def note(self, action: Action, progress: Progress) -> ExecutionResult:
        incident = self._incident(action)
        text = str(action.params["text"])
        self.note_timeline(incident.id, action.requester.name, "command", f"Note: {text}")
        if incident.pagerduty_id:
            await self._mirror(
                incident,
                "note",
                self.pager.note(incident.pagerduty_id, text, action.requester.name),
            )
        return ExecutionResult(
            status="succeeded",
            summary=f"Noted in {incident.id}'s timeline.",
            details={"incident": incident.id},
        )

    @writer
    async def assign(self, action: Action, progress: Progress) -> ExecutionResult:
        incident = self._incident(action)
        role, person = str(action.params["role"]), str(action.params["person"])
        field = "commander" if role == "commander" else "comms"
        incident = incident.model_copy(update={field: person})
        await self._changed(action, incident, f"{person} is {role}")
        return ExecutionResult(
            status="succeeded",
            summary=f"{person} is {role} of {incident.id}.",
            details={"incident": incident.id},
        )

    @writer
    async def resolve(self, action: Action, progress: Progress) -> ExecutionResult:
        incident = self._incident(action)
        if incident.status == "resolved":
            return ExecutionResult(
                status="succeeded", summary=f"{incident.id} is already resolved."
            )
        now = self._clock.now()
        incident = incident.model_copy(
            update={
                "status": "resolved",
                "resolved_at": now,
                "acknowledged_at": incident.acknowledged_at or now,
            }
        )
        if incident.pagerduty_id:
            await self._mirror(
                incident,
                "resolve",
                self.pager.resolve(incident.pagerduty_id, action.requester.name),
            )
        await self._changed(action, incident, f"Resolved by {action.requester.name}")
        minutes = (now - incident.declared_at).total_seconds() / 60
        final = (
            f"{incident.id} resolved by {action.requester.name} after {minutes:.0f} min. "
            f"A postmortem draft can be asked for with /postmortem {incident.id}."
        )
        await self._say(action, incident.channel, Reply(kind=ReplyKind.SUCCESS, text=final))
        await self._say(action, self.stakeholders, Reply(kind=ReplyKind.SUCCESS, text=final))
        if incident.channel:
            self.tasks.spawn(self._archive_later(action, incident), name=f"archive:{incident.id}")
        return ExecutionResult(
            status="succeeded",
            summary=f"{incident.id} resolved; the war room is archived in "
            f"{self.archive_after:g} s.",
            details={
                "incident": incident.id,
                "declared_at": incident.declared_at.isoformat(),
                "acknowledged_at": incident.acknowledged_at.isoformat()
                if incident.acknowledged_at
                else None,
                "resolved_at": now.isoformat(),
            },
        )

    async def _archive_later(self, action: Action, incident: Incident) -> None:
        await asyncio.sleep(self.archive_after)
        if self.authorize is not None:
            decision = await self.authorize(
                action,
                "slack.channel.archive",
                {"incident": incident.id, "channel": incident.channel},
                "grace period after resolve",
            )
            if not decision.allow:
                self.note_timeline(
                    incident.id,
                    "shipmate",
                    "command",
                    f"Archive refused by policy: {' '.join(decision.reasons)}",
                )
                return
        await self._archive(incident)

    async def _archive(self, incident: Incident) -> None:
        if incident.channel:
            await self.rooms.archive(incident.channel)
            self.note_timeline(
                incident.id, "shipmate", "command", f"War room #{incident.channel_name} archived"
            )

    @writer
    async def archive(self, action: Action, progress: Progress) -> ExecutionResult:
        incident = self._incident(action)
        await self._archive(incident)
        return ExecutionResult(status="succeeded", summary=f"#{incident.channel_name} archived.")


# The desk writes its own entries for these; runbook reads are told by the runbook's own.
OWN = ("pagerduty.", "incident.", "slack.", "runbook.query")


def _services(event: Event) -> set[str]:
    data = event.data
    found = {str(s) for s in data.get("services") or []}
    target = str(data.get("target", ""))
    if "/" in target and not target.startswith("terraform/"):
        found.add(target.split("/", 1)[0])
    params = (data.get("proposal") or {}).get("params") or {}
    if params.get("service"):
        found.add(str(params["service"]))
    return found


def timeline_text(event: Event) -> str | None:
    """One timeline sentence for an event that concerns a service, or None."""
    data = event.data
    if event.type == "runbook.step":
        return str(data.get("text", ""))
    action = str(data.get("action", ""))
    if action.startswith(OWN):
        return None  # the desk writes its own entries
    if event.type == "drift.detected":
        return (
            f"Terraform drift in {data.get('workspace')}: "
            f"{len(data.get('resources') or [])} resource(s) changed outside Terraform"
        )
    if event.type == "policy.decided":
        decision = data.get("decision") or {}
        verdict = "allowed" if decision.get("allow") else "denied"
        if decision.get("allow") and decision.get("approvals_required"):
            verdict = "needs approval for"
        rules = ", ".join(decision.get("rules") or [])
        return f"Policy {verdict} {action} {data.get('target')} ({rules})"
    if event.type.startswith("action.") and event.type != "action.started":
        return (
            f"{action} {data.get('target')}: {data.get('summary') or event.type.split('.', 1)[1]}"
        )
    return None


def timeline_json(entries: list[TimelineEntry]) -> str:
    return json.dumps([e.model_dump(mode="json") for e in entries])
