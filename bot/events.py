"""Events: one envelope, a bus interface, and the in-process bus (Kafka comes behind the same
interface). Every event is also appended to the store's event log, which the learner, KPIs and
timelines read."""

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
    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: new_id("e"))
    type: str  # e.g. "deployment.started", "policy.decided"
    schema_version: int = 1
    time: datetime
    source: str = "shipmate"
    topic: Topic
    correlation_id: str
    actor: str
    data: dict[str, Any] = Field(default_factory=dict)


Handler = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    async def publish(self, event: Event) -> None: ...

    def subscribe(self, topic: Topic, handler: Handler) -> None: ...


class EventLog:
    """The append-only log of every event, in the store."""

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
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        store.ensure_schema(self.DDL)

    def append(self, event: Event) -> None:
        body = json.dumps(redact_obj(event.model_dump(mode="json")), sort_keys=True)
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
                    body,
                ),
            )

    def read(self, topic: Topic | None = None, correlation_id: str | None = None) -> list[Event]:
        sql, params = "SELECT body FROM events WHERE 1=1", list[str]()
        if topic:
            sql, params = sql + " AND topic=?", [*params, topic]
        if correlation_id:
            sql, params = sql + " AND correlation_id=?", [*params, correlation_id]
        rows = self._store.query(sql + " ORDER BY seq", tuple(params))
        return [Event.model_validate_json(r["body"]) for r in rows]


class InProcessBus:
    """Default bus for `shipmate chat` and tests: log, then hand to subscribers in order.
    A failing subscriber is logged and never breaks the publisher."""

    def __init__(self, log_: EventLog) -> None:
        self._log = log_
        self._subs: dict[str, list[Handler]] = {}

    def subscribe(self, topic: Topic, handler: Handler) -> None:
        self._subs.setdefault(topic, []).append(handler)

    async def publish(self, event: Event) -> None:
        self._log.append(event)
        for handler in self._subs.get(event.topic, []):
            try:
                await handler(event)
            except Exception:
                log.exception("event handler failed", event_id=event.id, type=event.type)
