"""Policy decision latency on the embedded engine (in-process regorus), p50/p99 and rate.

.venv/bin/python bench/policy_latency.py [--n 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from bot.gate.policy import DECISION_QUERY, RegorusEngine
from bot.paths import policies_dir

INPUTS = [
    {
        "action": {"name": "deploy.rollout", "params": {"service": svc, "environment": env}},
        "requester": {"name": who, "roles": roles},
        "now": "2026-12-01T10:00:00Z",
    }
    for svc in ("checkout", "ledger", "nosuch")
    for env in ("staging", "production")
    for who, roles in (("alice", ["deployer"]), ("carol", ["viewer"]))
]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


async def main(n: int) -> dict[str, object]:
    engine = RegorusEngine(policies_dir())
    for doc in INPUTS:  # warm up
        await engine.evaluate(DECISION_QUERY, doc)
    samples: list[float] = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        value = await engine.evaluate(DECISION_QUERY, INPUTS[i % len(INPUTS)])
        samples.append((time.perf_counter() - t0) * 1000)
        assert value is not None
    wall = time.perf_counter() - start
    return {
        "bench": "policy_decision_latency",
        "engine": "embedded (regorus, in-process)",
        "policy": "deploy",
        "n": n,
        "p50_ms": round(pct(samples, 50), 4),
        "p99_ms": round(pct(samples, 99), 4),
        "decisions_per_s": round(n / wall),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    print(json.dumps(asyncio.run(main(parser.parse_args().n))))
