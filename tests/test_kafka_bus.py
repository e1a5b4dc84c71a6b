"""The Kafka bus through a real Kafka-protocol broker (tansu): delivery, the outbox across a
broker outage, replicas sharing a consumer group, dead letters, and tolerant consumers.

The outage is made by cutting every connection to the broker (tests/kafka_broker.Cuttable), not
by restarting the broker process: tansu is memory-only, so a restarted one comes back with no
topics, renumbered logs and (as seen with aiokafka 0.14) acknowledges writes to topics it no
longer has, which a real cluster never does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bot.events import Event, EventLog
from bot.store import Store
from tests.kafka_broker import Broker, Cuttable, bootstrap_from_env
from tools.kafka.bus import KafkaBus

FAST = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 300}


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    real = bootstrap_from_env()
    if real:
        yield real
        return
    broker = Broker().start()
    yield broker.bootstrap
    broker.stop()


def _event(i: int, corr: str = "dep-1", type_: str = "action.started") -> Event:
    return Event(
        type=type_,
        time=datetime(2026, 12, 1, tzinfo=UTC),
        topic="deployments",
        correlation_id=corr,
        actor="alice",
        data={"action_id": f"a{i}", "action": "deploy.rollout", "target": f"svc/{i}"},
    )


def _bus(tmp: Path, bootstrap: str, prefix: str, db: str = "s.db") -> tuple[KafkaBus, Store]:
    store = Store(tmp / db)
    return KafkaBus(EventLog(store), store, bootstrap=bootstrap, prefix=prefix, **FAST), store


async def _until(predicate: object, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def test_publish_and_handle_in_order(tmp_path: Path, bootstrap: str) -> None:
    bus, _ = _bus(tmp_path, bootstrap, "t1.")
    seen: list[str] = []

    async def handler(event: Event) -> None:
        seen.append(event.data["action_id"])

    bus.subscribe("deployments", handler, group="timeline")
    await bus.start()
    for i in range(100):
        await bus.publish(_event(i))
    await _until(lambda: len(seen) == 100)
    assert seen == [f"a{i}" for i in range(100)]  # one correlation id: one partition, in order
    assert await bus.drained()
    await bus.close()


async def test_outage_loses_nothing_and_delivers_in_order(tmp_path: Path) -> None:
    link = await Cuttable().start()
    bus, store = _bus(tmp_path, link.bootstrap, "t2.")
    seen: list[str] = []

    async def handler(event: Event) -> None:
        seen.append(event.data["action_id"])

    bus.subscribe("deployments", handler, group="kpis")
    await bus.start()
    for i in range(10):
        await bus.publish(_event(i))
    await _until(lambda: len(seen) == 10)

    await link.cut()  # the broker goes away mid-stream
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(10, 60):
        await bus.publish(_event(i))  # the bot keeps answering
    assert loop.time() - started < 1.0
    await asyncio.sleep(0.5)
    assert EventLog(store).pending() == 50  # held in the outbox

    await link.restore()
    await _until(lambda: len(seen) >= 60, within=60)
    await asyncio.sleep(1.0)
    assert seen == [f"a{i}" for i in range(60)]  # every event, once, in order
    assert EventLog(store).pending() == 0
    assert await _read_ids(link.bootstrap, "t2.deployments", 60) == [f"a{i}" for i in range(60)]
    await bus.close()
    await link.stop()


async def _read_ids(bootstrap: str, topic: str, n: int) -> list[str]:
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await reader.start()
    ids: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while len(set(ids)) < n and loop.time() < deadline:
        batch = await reader.getmany(timeout_ms=500)
        for msgs in batch.values():
            ids += [json.loads(m.value)["data"]["action_id"] for m in msgs]
    await reader.stop()
    return list(dict.fromkeys(ids))  # first occurrence order (a resend may repeat a tail)


async def test_two_replicas_share_the_work_once(tmp_path: Path, bootstrap: str) -> None:
    # Two processes' views of one store (separate connections to one SQLite file).
    a, _ = _bus(tmp_path, bootstrap, "t3.")
    b, _ = _bus(tmp_path, bootstrap, "t3.")
    handled: dict[str, list[str]] = {"a": [], "b": []}

    def handler_for(name: str):  # type: ignore[no-untyped-def]
        async def handler(event: Event) -> None:
            handled[name].append(event.id)

        return handler

    a.subscribe("deployments", handler_for("a"), group="learner")
    b.subscribe("deployments", handler_for("b"), group="learner")
    await a.start()
    await b.start()
    await _until(lambda: a.consumers_ready.is_set() and b.consumers_ready.is_set())
    await asyncio.sleep(2.0)  # let the group settle on two members
    events = [_event(i, corr=f"dep-{i}") for i in range(200)]
    for e in events:
        a.stage(e)
    await a.flush()
    await _until(lambda: len(handled["a"]) + len(handled["b"]) >= 200, within=60)
    await asyncio.sleep(0.5)
    everything = handled["a"] + handled["b"]
    assert sorted(everything) == sorted(e.id for e in events)  # all, and none twice
    assert handled["a"] and handled["b"], "both replicas should get partitions"
    await a.close()
    await b.close()


async def test_poison_and_foreign_messages_go_to_the_dead_letter_topic(
    tmp_path: Path, bootstrap: str
) -> None:
    bus, _ = _bus(tmp_path, bootstrap, "t4.")
    seen: list[str] = []

    async def handler(event: Event) -> None:
        if event.data["action_id"] == "a1":
            raise ValueError("cannot digest a1")
        seen.append(event.data["action_id"])

    bus.subscribe("deployments", handler, group="incidents")
    await bus.start()
    raw = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await raw.start()
    await raw.send_and_wait("t4.deployments", b"not json at all", key=b"dep-1")
    newer = _event(9).model_copy(update={"schema_version": 7})
    await raw.send_and_wait("t4.deployments", newer.model_dump_json().encode(), key=b"dep-1")
    await raw.stop()
    for i in range(3):
        await bus.publish(_event(i))
    await _until(lambda: seen == ["a0", "a2"])
    assert bus.dead_lettered == 2

    dlq = AIOKafkaConsumer(
        "t4.dlq",
        bootstrap_servers=bootstrap,
        group_id="t4-dlq-reader",
        auto_offset_reset="earliest",
        **FAST,
    )
    await dlq.start()
    letters = []
    while len(letters) < 2:
        batch = await dlq.getmany(timeout_ms=1000)
        letters += [m for msgs in batch.values() for m in msgs]
    await dlq.stop()
    reasons = sorted(dict(m.headers)["error"].decode() for m in letters)
    assert reasons[0].startswith("ValueError: cannot digest a1")
    assert reasons[1].startswith("not a shipmate event")
    assert (
        json.loads(
            letters[0].value if letters[0].value != b"not json at all" else letters[1].value
        )["data"]["action_id"]
        == "a1"
    )
    await bus.close()


async def test_bus_starts_while_the_broker_is_down(tmp_path: Path) -> None:
    broker = Broker()  # not started
    bus, store = _bus(tmp_path, broker.bootstrap, "t5.")
    await bus.start()
    await bus.publish(_event(1))
    assert EventLog(store).pending() == 1
    broker.start()
    assert await bus.drained(within=30)
    await bus.close()
    broker.stop()


@pytest.fixture
async def two_gates(tmp_path: Path) -> AsyncIterator[tuple[object, object]]:
    from tests.conftest import make_harness

    first = make_harness(tmp_path / "home")
    second = make_harness(tmp_path / "home")  # a second process on the same store
    yield first, second
    await first.app.close()
    await second.app.close()


async def test_an_action_seen_by_two_replicas_runs_once(two_gates: tuple[object, object]) -> None:
    from bot.models import OutcomeStatus
    from tests.test_gate import _action, _safe

    first, second = two_gates
    results = await asyncio.gather(
        first.app.gate.submit(_action(first, env="staging", key="same-key"), _safe(first)),  # type: ignore[attr-defined]
        second.app.gate.submit(_action(second, env="staging", key="same-key"), _safe(second)),  # type: ignore[attr-defined]
    )
    statuses = sorted(r.status for r in results)
    assert statuses == sorted([OutcomeStatus.STARTED, OutcomeStatus.DUPLICATE])


async def test_the_app_on_kafka_publishes_every_gate_step(tmp_path: Path, bootstrap: str) -> None:
    from bot.clock import FakeClock
    from bot.compose import build
    from bot.settings import Settings
    from tests.conftest import RecordingChannel

    settings = Settings(
        home=tmp_path / "home",
        sandbox_step_seconds=0,
        event_bus="kafka",
        kafka_bootstrap=bootstrap,
        kafka_topic_prefix="t7.",
    )
    app = build(settings, clock=FakeClock())
    channel = RecordingChannel()
    app.channels.register("test", lambda origin: channel)
    await app.start()
    from tests.conftest import Harness

    h = Harness(app=app, channel=channel, clock=app.clock)  # type: ignore[arg-type]
    await h.say("alice", "/deploy cart 2.4.0 to staging")
    assert await app.bus.drained()  # type: ignore[attr-defined]
    reader = AIOKafkaConsumer(
        "t7.deployments",
        "t7.compliance",
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await reader.start()
    types: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while len(types) < 3 and loop.time() < deadline:
        batch = await reader.getmany(timeout_ms=500)
        types += [json.loads(m.value)["type"] for msgs in batch.values() for m in msgs]
    await reader.stop()
    assert sorted(types) == ["action.started", "action.succeeded", "policy.decided"]
    await app.close()


def test_events_tail_reads_kafka(tmp_path: Path, bootstrap: str) -> None:
    import os
    import subprocess
    import sys

    store = Store(tmp_path / "s.db")
    log = EventLog(store)

    async def fill() -> None:
        bus = KafkaBus(log, store, bootstrap=bootstrap, prefix="t8.", **FAST)
        await bus.start()
        for i in range(3):
            await bus.publish(_event(i))
        assert await bus.drained()
        await bus.close()

    asyncio.run(fill())
    env = {
        **os.environ,
        "SHIPMATE_HOME": str(tmp_path / "home"),
        "SHIPMATE_EVENT_BUS": "kafka",
        "SHIPMATE_KAFKA_BOOTSTRAP": bootstrap,
        "SHIPMATE_KAFKA_TOPIC_PREFIX": "t8.",
    }
    shipmate = Path(sys.executable).with_name("shipmate")
    result = subprocess.run(
        [str(shipmate), "events", "tail", "deployments", "--limit", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [line.split()[3] for line in result.stdout.splitlines()] == ["action.started"] * 3
