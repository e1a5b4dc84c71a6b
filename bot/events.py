"""Events: one envelope, the bus interface, the outbox, and the in-process bus.

Every event is first written to the store's event log, which doubles as the outbox: the writer
stages it inside the same transaction as the state change that caused it (an audit record, an
approval), so an event exists exactly when its change does. A bus then delivers what was
staged: the in-process bus hands it to subscribers; the Kafka bus (tools/kafka) publishes the
outbox in order and marks rows published, so a broker outage loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal, Protocol

import structlog
from pydantic import BaseModel, ConfigDict, Field

from bot.models import new_id
from bot.redact import redact_obj
from bot.store import Store

Topic = Literal["deployments", "incidents", "drift", "compliance", "audit", "requests", "sandbox"]
TOPICS: tuple[Topic, ...] = (
    "deployments",
    "incidents",
    "drift",
    "compliance",
    "audit",
    "requests",
    "sandbox",
)

log = structlog.get_logger(__name__)


class Event(BaseModel):
    """The envelope. Consumers ignore envelope fields they do not know (forward compatible);
    `schema_version` versions the `data` of each `type` (see bot/schemas.py)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(default_factory=lambda: new_id("e"))
    type: str  # e.g. "action.started", "policy.decided"
    schema_version: int = 1
    time: datetime
    source: str = "shipmate"
    topic: str  # one of TOPICS for events shipmate writes
    correlation_id: str  # the deployment, incident or request this belongs to
    actor: str
    data: dict[str, Any] = Field(default_factory=dict)


Handler = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    def stage(self, event: Event) -> None:
        """Write the event to the outbox, joining the caller's open transaction if any."""
        ...

    async def flush(self) -> None:
        """Deliver what was staged (in-process: to subscribers; Kafka: wake the relay)."""
        ...

    async def publish(self, event: Event) -> None: ...

    def subscribe(self, topic: str, handler: Handler, *, group: str = "default") -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class EventLog:
    """The append-only log of every event, in the store; also the outbox (`published`)."""

    DDL = """
    CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT UNIQUE NOT NULL,
        topic TEXT NOT NULL,
        type TEXT NOT NULL,
        time TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS events_corr ON events(correlation_id);
    -- The outbox is the log itself: everything after `seq` is not yet published. Rows get
    -- their seq under SQLite's single writer lock, so they commit in seq order and a cursor
    -- never passes a row that is still to come.
    CREATE TABLE IF NOT EXISTS outbox_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO outbox_cursor(id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM events;
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        store.ensure_schema(self.DDL)

    @staticmethod
    def encode(event: Event) -> str:
        return json.dumps(redact_obj(event.model_dump(mode="json")), sort_keys=True)

    def append(self, event: Event) -> None:
        with self._store.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO events(id, topic, type, time, correlation_id, body)"
                " VALUES (?,?,?,?,?,?)",
                (
                    event.id,
                    event.topic,
                    event.type,
                    event.time.isoformat(),
                    event.correlation_id,
                    self.encode(event),
                ),
            )

    def read(
        self, topic: str | None = None, correlation_id: str | None = None, after_seq: int = 0
    ) -> list[Event]:
        return [e for _, e in self.read_with_seq(topic, correlation_id, after_seq)]

    def read_with_seq(
        self, topic: str | None = None, correlation_id: str | None = None, after_seq: int = 0
    ) -> list[tuple[int, Event]]:
        sql, params = "SELECT seq, body FROM events WHERE seq > ?", [str(after_seq)]
        if topic:
            sql, params = sql + " AND topic=?", [*params, topic]
        if correlation_id:
            sql, params = sql + " AND correlation_id=?", [*params, correlation_id]
        rows = self._store.query(sql + " ORDER BY seq", tuple(params))
        return [(r["seq"], Event.model_validate_json(r["body"])) for r in rows]

    def find(self, topic: str, types: tuple[str, ...], since: datetime, **data: str) -> list[Event]:
        """Events of these types since a time whose data fields equal the given values."""
        sql = (
            f"SELECT body FROM events WHERE topic=? AND type IN ({','.join('?' * len(types))})"
            " AND time >= ?"
        )
        params: list[str] = [topic, *types, since.isoformat()]
        for key, value in data.items():
            sql += f" AND json_extract(body, '$.data.{key}') = ?"
            params.append(value)
        return [
            Event.model_validate_json(r["body"])
            for r in self._store.query(sql + " ORDER BY seq", tuple(params))
        ]

    # --- outbox ------------------------------------------------------------------------------
    def unpublished(self, limit: int = 500) -> list[tuple[int, str, str, str]]:
        """(seq, topic, correlation id, body) of the oldest events not yet published."""
        rows = self._store.query(
            "SELECT seq, topic, correlation_id, body FROM events"
            " WHERE seq > (SELECT seq FROM outbox_cursor WHERE id=1) ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [(r["seq"], r["topic"], r["correlation_id"], r["body"]) for r in rows]

    def mark_published(self, up_to_seq: int) -> None:
        with self._store.tx() as db:
            db.execute("UPDATE outbox_cursor SET seq=MAX(seq, ?) WHERE id=1", (up_to_seq,))

    def mark_all_published(self) -> None:
        with self._store.tx() as db:
            db.execute(
                "UPDATE outbox_cursor SET seq=(SELECT COALESCE(MAX(seq), 0) FROM events) WHERE id=1"
            )

    def pending(self) -> int:
        row = self._store.one(
            "SELECT COUNT(*) AS n FROM events WHERE seq > "
            "(SELECT seq FROM outbox_cursor WHERE id=1)"
        )
        return int(row["n"]) if row else 0


class InProcessBus:
    """Default bus for `shipmate chat` and tests: staged events go to subscribers in order.
    A failing subscriber is logged and never breaks the publisher."""

    def __init__(self, log_: EventLog) -> None:
        self._log = log_
        self._subs: dict[str, list[Handler]] = {}
        self._staged: list[Event] = []

    def subscribe(self, topic: str, handler: Handler, *, group: str = "default") -> None:
        self._subs.setdefault(topic, []).append(handler)

    def stage(self, event: Event) -> None:
        self._log.append(event)
        self._staged.append(event)

    async def flush(self) -> None:
        staged, self._staged = self._staged, []
        if staged:  # delivered here; nothing else reads the in-process outbox
            self._log.mark_all_published()
        for event in staged:
            for handler in self._subs.get(event.topic, []):
                try:
                    await handler(event)
                except Exception:
                    log.exception("event handler failed", event_id=event.id, type=event.type)

    async def publish(self, event: Event) -> None:
        self.stage(event)
        await self.flush()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self.flush()
