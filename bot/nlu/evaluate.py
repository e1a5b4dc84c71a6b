"""Scoring the router on labelled utterances (`shipmate nlu eval`)."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from typing import Any, Protocol

from bot.nlu.semantic import Routed


class Router(Protocol):
    async def understand(self, text: str) -> Routed: ...


async def evaluate_rows(router: Router, rows: list[dict[str, Any]]) -> dict[str, Any]:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    slots: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    latencies, mistakes = [], []
    tp = fp = fn = 0
    for row in rows:
        started = time.perf_counter()
        routed = await router.understand(row["text"])
        latencies.append((time.perf_counter() - started) * 1000)
        want = row["intent"]
        per[want][1] += 1
        if routed.intent == want:
            per[want][0] += 1
        else:
            mistakes.append({"text": row["text"], "want": want, "got": routed.intent})
        oos_want, oos_got = want == "out_of_scope", routed.intent == "out_of_scope"
        tp += oos_want and oos_got
        fp += oos_got and not oos_want
        fn += oos_want and not oos_got
        for name, value in (row.get("slots") or {}).items():
            slots[name][1] += 1
            slots[name][0] += routed.slots.get(name) == value
    total = sum(t for _, t in per.values())
    slot_total = sum(t for _, t in slots.values())
    return {
        "rows": total,
        "accuracy": sum(c for c, _ in per.values()) / total if total else 0.0,
        "per_intent": {
            k: {"correct": c, "total": t, "accuracy": c / t} for k, (c, t) in sorted(per.items())
        },
        "slot_accuracy": sum(c for c, _ in slots.values()) / slot_total if slot_total else 1.0,
        "slots": {
            k: {"correct": c, "total": t, "accuracy": c / t} for k, (c, t) in sorted(slots.items())
        },
        "out_of_scope": {
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
        },
        "latency_ms": {
            "p50": statistics.median(latencies),
            "p99": statistics.quantiles(latencies, n=100)[98]
            if len(latencies) > 1
            else latencies[0],
        },
        "mistakes": mistakes,
    }
