"""Policies to beat: fixed strategies, a careful SRE's rule of thumb, a contextual bandit
(LinUCB) learning from realised outcomes, and the oracle that knows the outcome model."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from learner.features import DeployFeatures, vectorize
from learner.linear import LinearArms
from learner.simulator import NAMES, STRATEGIES, expected_costs, generate_contexts, sample_cost

Policy = Callable[[DeployFeatures], int]

ROLLING = NAMES.index("rolling")
DEFAULT_CANARY = NAMES.index("canary_medium_short")


def fixed(index: int) -> Policy:
    return lambda f: index


def best_fixed_index(contexts: list[DeployFeatures]) -> int:
    """The one strategy with the lowest mean cost on the training contexts."""
    costs = np.stack([expected_costs(f) for f in contexts])
    return int(costs.mean(axis=0).argmin())


def rule_of_thumb(f: DeployFeatures) -> int:
    """What a careful SRE would write down."""
    if f.tests_passed is False:
        return NAMES.index("hold")
    big = (f.change_lines or 0) >= 500 or bool(f.migrations)
    if f.tier == 1:
        return NAMES.index("canary_small_long" if big else "canary_small_short")
    if big or f.friday_evening:
        return NAMES.index("canary_small_short")
    if (f.change_lines or 0) < 50 and f.tier == 3:
        return ROLLING
    return DEFAULT_CANARY


def oracle(f: DeployFeatures) -> int:
    return int(expected_costs(f).argmin())


def train_bandit(n: int, seed: int, alpha: float = 0.5) -> LinearArms:
    """LinUCB, online: one deploy at a time, it picks a strategy, sees the realised cost."""
    rng = np.random.default_rng(seed)
    contexts = generate_contexts(n, seed)
    dim = len(vectorize(contexts[0]))
    arms = LinearArms(len(STRATEGIES), dim, ridge=1.0, alpha=alpha)
    for f in contexts:
        x = vectorize(f).astype(np.float64)
        arm = arms.choose(x, explore=True)
        cost, _ = sample_cost(f, arm, rng)
        arms.update(x, arm, cost)
    return arms


def bandit_policy(arms: LinearArms) -> Policy:
    return lambda f: arms.choose(vectorize(f).astype(np.float64), explore=False)
