"""Events through a real Kafka-protocol broker (tansu on 127.0.0.1), end to end: outbox ->
relay -> broker -> consumer group -> handler (with the inbox's dedupe); and the outbox drain
rate after an outage.

The producing side (staging events in the store, one transaction per step, and the relay) and
the consuming side (a replica with its own store) run in two processes, as two shipmate
replicas would; `--one-process` runs both on one event loop instead.

    .venv/bin/python bench/events_throughput.py [--n 20000] [--outage-n 10000] [--per-tx 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.events import Event, EventLog
from bot.store import Store
from tests.kafka_broker import Cuttable
from tools.kafka.bus import KafkaBus

FAST = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 300}


def event(i: int) -> Event:
    return Event(
        type="action.started",
        time=datetime.now(UTC),
        topic="deployments",
        correlation_id=f"dep-{i % 64}",
        actor="bench",
        data={
            "action_id": f"a{i}",
            "action": "deploy.rollout",
            "target": f"s/{i}",
            "sent": time.time(),
        },
    )


async def consume(bootstrap: str, db: Path, n: int, ready: Any = None) -> list[float]:
    """Handle n events (plus one warm-up); returns publish-to-handle latencies in ms."""
    store = Store(db)
    bus = KafkaBus(EventLog(store), store, bootstrap=bootstrap, prefix="bench.", **FAST)
    latencies: list[float] = []
    done = asyncio.Event()

    async def handler(e: Event) -> None:
        if e.data["action_id"] == "warmup":
            if ready is not None:
                ready.set()
            return
        latencies.append((time.time() - e.data["sent"]) * 1000)
        if len(latencies) >= n:
            done.set()

    bus.subscribe("deployments", handler, group="bench")
    await bus.start()
    await asyncio.wait_for(done.wait(), 600)
    await bus.close()
    return latencies


def _consumer_process(bootstrap: str, db: str, n: int, ready: Any, out: Any) -> None:
    out.put(asyncio.run(consume(bootstrap, Path(db), n, ready)))


async def produce(bus: KafkaBus, store: Store, first: int, n: int, per_tx: int) -> None:
    for start in range(first, first + n, per_tx):
        with store.tx():
            for i in range(start, min(first + n, start + per_tx)):
                bus.stage(event(i))
        await bus.flush()
        await asyncio.sleep(0)


async def main(
    n: int, outage_n: int, per_tx: int = 1, one_process: bool = False
) -> dict[str, object]:
    link = await Cuttable().start()
    direct = link.broker.bootstrap  # throughput straight to the broker; the proxy only to cut
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "producer.db")
        bus = KafkaBus(EventLog(store), store, bootstrap=direct, prefix="bench.", **FAST)
        await bus.start()
        warm = event(0).model_copy(
            update={
                "data": {"action_id": "warmup", "action": "x", "target": "x", "sent": time.time()}
            }
        )
        if one_process:
            consumer = asyncio.create_task(consume(direct, Path(tmp) / "consumer.db", n))
            await bus.publish(warm)
            await asyncio.sleep(4)  # group join
            start = time.perf_counter()
            await produce(bus, store, 0, n, per_tx)
            latencies = await consumer
        else:
            ctx = mp.get_context("spawn")
            ready, out = ctx.Event(), ctx.Queue()
            proc = ctx.Process(
                target=_consumer_process,
                args=(direct, str(Path(tmp) / "consumer.db"), n, ready, out),
            )
            proc.start()
            await bus.publish(warm)
            await asyncio.to_thread(ready.wait, 120)
            start = time.perf_counter()
            await produce(bus, store, 0, n, per_tx)
            latencies = await asyncio.to_thread(out.get, True, 600)
            proc.join(30)
        wall = time.perf_counter() - start
        await bus.close()

        # The outbox after an outage: events staged while the broker is cut off, then drained.
        outage_bus = KafkaBus(
            EventLog(store), store, bootstrap=link.bootstrap, prefix="bench.", **FAST
        )
        await outage_bus.start()
        await link.cut()
        await produce(outage_bus, store, n, outage_n, per_tx)
        pending = EventLog(store).pending()
        drain_start = time.perf_counter()
        await link.restore()
        await outage_bus.flush()
        assert await outage_bus.drained(within=300)
        drain = time.perf_counter() - drain_start
        await outage_bus.close()
    await link.stop()
    return {
        "bench": "events_end_to_end",
        "n": n,
        "events_per_transaction": per_tx,
        "processes": 1 if one_process else 2,
        "events_per_s": round(n / wall),
        "publish_to_handle_p50_ms": round(statistics.median(latencies), 2),
        "publish_to_handle_p99_ms": round(statistics.quantiles(latencies, n=100)[98], 2),
        "outage_events": pending,
        "outbox_drain_s": round(drain, 2),
        "outbox_drain_events_per_s": round(pending / drain),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--outage-n", type=int, default=10000)
    parser.add_argument("--per-tx", type=int, default=1)
    parser.add_argument("--one-process", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.n, args.outage_n, args.per_tx, args.one_process))))
