"""The learner's figures: held-out cost of the learned policy against every baseline (with 95 %
intervals), suggestion latency after load, model load time, training wall time on this machine
and the model's size.

    .venv/bin/python bench/learner_bench.py [--steps 60000] [--n 5000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from learner.evaluate import evaluate
from learner.model import SHIPPED, LearnedSuggester
from learner.simulator import generate_contexts
from learner.suggest import DeployContext
from learner.train import train


def main(steps: int, n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        report = train(Path(tmp) / "model", steps=steps, version="bench")
        training_s = time.perf_counter() - started
    loads = []
    for _ in range(20):
        t0 = time.perf_counter()
        suggester = LearnedSuggester(SHIPPED)
        loads.append((time.perf_counter() - t0) * 1000)
    contexts = generate_contexts(2000, 99, shift=True)
    samples = []
    for f in contexts:
        ctx = DeployContext(
            service="s",
            environment="production",
            tier=f.tier,
            from_version="1",
            to_version="2",
            features=f,
        )
        t0 = time.perf_counter()
        suggester.suggest(ctx)
        samples.append((time.perf_counter() - t0) * 1000)
    result = evaluate(SHIPPED, n=n)
    size = sum(p.stat().st_size for p in SHIPPED.iterdir() if p.is_file())
    return {
        "bench": "learner",
        "held_out": result["policies"],
        "summary": result["summary"],
        "suggestion_ms": {
            "p50": round(statistics.median(samples), 3),
            "p99": round(statistics.quantiles(samples, n=100)[98], 3),
        },
        "model_load_ms": round(statistics.median(loads), 2),
        "training_seconds": round(training_s, 1),
        "training_steps": steps,
        "trained_seconds_reported": report["trained_seconds"],
        "model_bytes": size,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60000)
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    print(json.dumps(main(args.steps, args.n)))
