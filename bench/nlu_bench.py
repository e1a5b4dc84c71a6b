"""The embedded router on the dev split: intent accuracy, out-of-scope rejection, slot exact
match, routing latency on one CPU core, load time and memory.

    .venv/bin/python bench/nlu_bench.py
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main() -> dict[str, object]:
    before = rss_mb()
    started = time.perf_counter()
    from bot.nlu.evaluate import evaluate_rows
    from bot.nlu.understand import Understanding

    nlu = Understanding(["cart", "checkout", "ledger", "search"])
    nlu.semantic.route("warm up")
    load_s = time.perf_counter() - started
    after = rss_mb()
    rows = [json.loads(x) for x in (ROOT / "tests/data/nlu/dev.jsonl").read_text().splitlines()]
    report = await evaluate_rows(nlu, rows)
    return {
        "bench": "nlu_embedded_router",
        "dev_rows": report["rows"],
        "intent_accuracy": round(report["accuracy"], 4),
        "out_of_scope": {k: round(v, 4) for k, v in report["out_of_scope"].items()},
        "slot_exact_match": {k: round(v["accuracy"], 4) for k, v in report["slots"].items()},
        "latency_ms": {k: round(v, 2) for k, v in report["latency_ms"].items()},
        "load_seconds": round(load_s, 2),
        "memory_mb": round(after - before, 1),
        "mistakes": report["mistakes"],
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
