"""Canary judge time per analysis step: 10 metrics, canary and baseline, 300 points each
(half the metrics with outlier removal), Kayenta's NetflixACAJudge as ported in
bot/canary/judge.py.

    .venv/bin/python bench/canary_judge.py [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from bot.canary.judge import CanaryMetricConfig, MetricInput, OutlierStrategy, judge


def step(rng: np.random.Generator) -> list[MetricInput]:
    metrics = []
    for i in range(10):
        baseline = rng.normal(100, 10, 300)
        canary = rng.normal(100 + (15 if i == 3 else 0), 10, 300)
        config = CanaryMetricConfig(
            outlier_strategy=OutlierStrategy.REMOVE if i % 2 else OutlierStrategy.KEEP
        )
        metrics.append(
            MetricInput(
                name=f"m{i}",
                canary=canary.tolist(),
                groups=("service",),
                baseline=baseline.tolist(),
                config=config,
            )
        )
    return metrics


def main(runs: int) -> dict[str, object]:
    rng = np.random.default_rng(7)
    inputs = [step(rng) for _ in range(runs)]
    judge(inputs[0])  # warm up
    times = []
    for metrics in inputs:
        started = time.perf_counter()
        result = judge(metrics)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "bench": "canary_judge_step",
        "metrics": 10,
        "points": 300,
        "runs": runs,
        "p50_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "last_verdict": str(result.verdict),
        "last_score": result.score,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    print(json.dumps(main(parser.parse_args().runs)))
