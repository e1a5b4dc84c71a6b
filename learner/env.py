"""A gymnasium environment over the deploy history: each episode is one deploy request; the
action is a rollout strategy (or a hold for a human); the reward is minus the expected cost of
that strategy in that context (user impact of a failure, weighted by blast radius and detection
time, plus duration, plus the fixed cost of a hold or of blue/green's second fleet)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from learner.features import FEATURE_NAMES, DeployFeatures, vectorize
from learner.simulator import STRATEGIES, expected_costs, generate_contexts

REWARD_SCALE = 0.1  # costs of ~0.5-60 become rewards of ~-0.05..-6 (PPO prefers small)


class DeployEnv(gym.Env[np.ndarray, np.int64]):
    metadata = {"render_modes": []}  # noqa: RUF012  (gymnasium declares it per instance)

    def __init__(
        self, contexts: list[DeployFeatures] | None = None, n: int = 20000, seed: int = 0
    ) -> None:
        super().__init__()
        self.contexts = contexts or generate_contexts(n, seed)
        # Features are logs, flags and small numbers; clip the rare outlier into the box.
        self._x = np.clip(np.stack([vectorize(f) for f in self.contexts]), -100.0, 100.0)
        self._costs = np.stack([expected_costs(f) for f in self.contexts])
        self.observation_space = gym.spaces.Box(
            -100.0, 100.0, shape=(len(FEATURE_NAMES),), dtype=np.float32
        )
        self.action_space = gym.spaces.Discrete(len(STRATEGIES))
        self._i = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._i = int(self.np_random.integers(len(self.contexts)))
        return self._x[self._i].copy(), {}

    def step(self, action: np.int64) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        cost = float(self._costs[self._i, int(action)])
        return self._x[self._i].copy(), -cost * REWARD_SCALE, True, False, {"cost": cost}
