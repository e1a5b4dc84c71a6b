"""Held-out evaluation: every policy on contexts from other seeds and a shifted distribution,
scored by the outcome model's expected cost (no sampling noise), with 95 % intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from learner import baselines
from learner.features import DeployFeatures
from learner.model import LearnedSuggester
from learner.simulator import cost_parts, generate_contexts
from learner.train import TRAIN_CONTEXTS, TRAIN_SEED

EVAL_SEED = 1001
BANDIT_SEED = 11


def _interval(values: np.ndarray) -> tuple[float, float]:
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    return float(low), float(high)


def evaluate(
    model: Path, n: int = 5000, seed: int = EVAL_SEED, shift: bool = True
) -> dict[str, Any]:
    contexts = generate_contexts(n, seed, shift)
    parts = [cost_parts(f) for f in contexts]
    fail = np.stack([p[0] for p in parts])
    dur = np.stack([p[1] for p in parts])
    total = fail + dur + np.stack([p[2] for p in parts])
    train = generate_contexts(TRAIN_CONTEXTS, TRAIN_SEED)
    learned = LearnedSuggester(model)
    bandit = baselines.train_bandit(TRAIN_CONTEXTS, BANDIT_SEED)
    policies: dict[str, baselines.Policy] = {
        "learned": lambda f: learned.choose(f)[0],
        "best_fixed": baselines.fixed(baselines.best_fixed_index(train)),
        "always_rolling": baselines.fixed(baselines.ROLLING),
        "always_canary": baselines.fixed(baselines.DEFAULT_CANARY),
        "rule_of_thumb": baselines.rule_of_thumb,
        "bandit": baselines.bandit_policy(bandit),
        "oracle": baselines.oracle,
    }
    rows = np.arange(n)
    oracle_choice = total.argmin(axis=1)
    out: dict[str, Any] = {}
    for name, policy in policies.items():
        choice = np.array([policy(f) for f in contexts])
        cost = total[rows, choice]
        low, high = _interval(cost)
        out[name] = {
            "mean_cost": round(float(cost.mean()), 4),
            "ci_low": round(low, 4),
            "ci_high": round(high, 4),
            "failure_impact": round(float(fail[rows, choice].mean()), 4),
            "duration_cost": round(float(dur[rows, choice].mean()), 4),
            "agrees_with_oracle": round(float((choice == oracle_choice).mean()), 4),
        }
    learned_cost = out["learned"]["mean_cost"]
    summary = {
        "learned_vs_best_fixed": round(1 - learned_cost / out["best_fixed"]["mean_cost"], 4),
        "learned_vs_oracle": round(learned_cost / out["oracle"]["mean_cost"] - 1, 4),
        "learned_vs_bandit": round(1 - learned_cost / out["bandit"]["mean_cost"], 4),
        "oracle_vs_best_fixed": round(
            1 - out["oracle"]["mean_cost"] / out["best_fixed"]["mean_cost"], 4
        ),
    }
    return {
        "policies": out,
        "summary": summary,
        "n": n,
        "seed": seed,
        "shifted": shift,
        "model": learned.version,
    }


def plot(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["policies"])
    means = [result["policies"][k]["mean_cost"] for k in names]
    errors = [
        [m - result["policies"][k]["ci_low"] for k, m in zip(names, means, strict=True)],
        [result["policies"][k]["ci_high"] - m for k, m in zip(names, means, strict=True)],
    ]
    fig, ax = plt.subplots(figsize=(8, 4))
    colors = ["#1d3557" if k == "learned" else "#a8dadc" for k in names]
    ax.bar(names, means, yerr=errors, capsize=4, color=colors)
    ax.set_ylabel("mean expected cost per deploy (lower is better)")
    ax.set_title(f"Held-out deploys (n={result['n']}, shifted), 95% intervals")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def describe_context(f: DeployFeatures) -> str:
    return f.model_dump_json(exclude_none=True)
