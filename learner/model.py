"""The trained suggester: the exported policy network (numpy), the cost estimator for the
alternatives, and plain-word reasons from the features that moved the choice most."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from learner.features import FEATURE_NAMES, DeployFeatures, describe, vectorize
from learner.policy_net import PolicyNet
from learner.simulator import STRATEGIES, expected_costs, failure_probability
from learner.suggest import Alternative, DeployContext, NoModelSuggester, Suggester, Suggestion

SHIPPED = Path(__file__).resolve().parent / "models" / "current"

# Features that are read together when explaining (one sentence each).
_GROUPS: dict[str, tuple[str, ...]] = {
    "tier": ("tier_1", "tier_2", "tier_3"),
    "time": ("hour_sin", "hour_cos", "weekend", "friday_evening"),
}


def _groups() -> list[tuple[str, list[int]]]:
    grouped = {n for names in _GROUPS.values() for n in names}
    out = [
        (names[0] if key != "time" else "friday_evening", [FEATURE_NAMES.index(n) for n in names])
        for key, names in _GROUPS.items()
    ]
    out += [
        (n, [i])
        for i, n in enumerate(FEATURE_NAMES)
        if n not in grouped and not n.endswith("_missing") and n != "time_missing"
    ]
    return out


class LearnedSuggester:
    def __init__(self, folder: Path) -> None:
        started = time.perf_counter()
        self.folder = folder
        self.net = PolicyNet.load(folder)
        self._baseline = np.asarray(self.net.meta["feature_baseline"], dtype=np.float32)
        self._groups = _groups()
        self.version = str(self.net.meta["version"])
        self.load_seconds = time.perf_counter() - started

    def choose(self, f: DeployFeatures) -> tuple[int, np.ndarray]:
        probs: np.ndarray = self.net.probabilities(vectorize(f)[None, :])[0]
        return int(probs.argmax()), probs

    @staticmethod
    def costs(f: DeployFeatures) -> np.ndarray:
        """Expected cost of every strategy under the outcome model (docs/learner.md)."""
        return expected_costs(f)

    def _margin(self, x: np.ndarray, action: int) -> np.ndarray:
        logits = self.net.logits(x)
        others = np.delete(logits, action, axis=-1).max(axis=-1)
        result: np.ndarray = logits[..., action] - others
        return result

    def reasons(self, f: DeployFeatures, x: np.ndarray, action: int) -> list[str]:
        """The 2-3 feature groups whose replacement by a typical value shrinks the chosen
        strategy's lead over the runner-up most, in words."""
        probes = np.repeat(x[None, :], len(self._groups), axis=0)
        for row, (_, idx) in enumerate(self._groups):
            probes[row, idx] = self._baseline[idx]
        drops = self._margin(x[None, :], action)[0] - self._margin(probes, action)
        words: list[str] = []
        for row in np.argsort(-drops):
            text = describe(self._groups[int(row)][0], f)
            if drops[row] > 0 and text and text not in words:
                words.append(text)
            if len(words) == 3:
                break
        return words or ["a typical change for this service"]

    def suggest(self, context: DeployContext) -> Suggestion:
        f = context.features or DeployFeatures(tier=context.tier)
        x = vectorize(f)
        action, probs = self.choose(f)
        costs = self.costs(f)
        strategy = STRATEGIES[action]
        order = [int(i) for i in np.argsort(costs) if int(i) != action][:2]
        return Suggestion(
            strategy=strategy.name,
            label=strategy.label,
            deploy_strategy=strategy.kind,
            canary_first_step=strategy.first_step if strategy.kind == "canary" else None,
            canary_window_minutes=strategy.window_min or None,
            confidence=float(probs[action]),
            expected_cost=float(costs[action]),
            failure_probability=round(failure_probability(f), 3),
            reasons=tuple(self.reasons(f, x, action)),
            alternatives=tuple(
                Alternative(strategy=STRATEGIES[i].label, expected_cost=round(float(costs[i]), 2))
                for i in order
            ),
            model=self.version,
        )


def load_suggester(folder: Path | None = None) -> Suggester:
    """The newest promoted model: the one in `folder` (e.g. $SHIPMATE_HOME/learner/current)
    if there is one, else the model shipped with shipmate, else the no-model placeholder."""
    for candidate in (folder, SHIPPED):
        if candidate is not None and (candidate / "policy.npz").is_file():
            return LearnedSuggester(candidate)
    return NoModelSuggester()
