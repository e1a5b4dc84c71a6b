"""Online improvement: retrain on the synthetic world plus the contexts of shipmate's real
deploys, and promote the candidate only if it beats the model in use on held-out data."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from learner.evaluate import EVAL_SEED
from learner.features import DeployFeatures
from learner.history import DeploymentRecord
from learner.model import SHIPPED, LearnedSuggester
from learner.simulator import expected_costs, generate_contexts
from learner.train import DEFAULT_STEPS, TRAIN_CONTEXTS, TRAIN_SEED, train

REAL_WEIGHT = 20  # each real deploy's context counts this many times in training


def mean_cost(model: LearnedSuggester, contexts: list[DeployFeatures]) -> float:
    return float(np.mean([expected_costs(f)[model.choose(f)[0]] for f in contexts]))


def retrain(
    home: Path,
    history: list[DeploymentRecord],
    *,
    steps: int = DEFAULT_STEPS,
    seed: int = TRAIN_SEED,
) -> dict[str, Any]:
    learner_home = home / "learner"
    current_dir = learner_home / "current"
    current = LearnedSuggester(current_dir if (current_dir / "policy.npz").is_file() else SHIPPED)
    real = [r.features for r in history]
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate_dir = learner_home / "candidates" / version
    contexts = generate_contexts(TRAIN_CONTEXTS, seed) + real * REAL_WEIGHT
    report = train(candidate_dir, steps=steps, seed=seed, version=version, contexts=contexts)
    candidate = LearnedSuggester(candidate_dir)
    held_out = generate_contexts(5000, EVAL_SEED, shift=True) + real
    scores = {"current": mean_cost(current, held_out), "candidate": mean_cost(candidate, held_out)}
    promoted = scores["candidate"] < scores["current"]
    if promoted:
        if current_dir.exists():
            shutil.rmtree(current_dir)
        shutil.copytree(candidate_dir, current_dir)
    return {
        "candidate": version,
        "current_model": current.version,
        "real_deploys": len(real),
        "held_out": len(held_out),
        "mean_cost": {k: round(v, 4) for k, v in scores.items()},
        "promoted": promoted,
        "training": report,
    }
