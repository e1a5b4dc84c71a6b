"""Per-strategy linear cost models (ridge regression): the contextual bandit's arms (LinUCB)
and the estimator behind "expected cost of the alternatives" in a suggestion."""

from __future__ import annotations

import numpy as np


def basis(x: np.ndarray, interactions: bool) -> np.ndarray:
    """The features, a bias, and (for the cost estimator) the features again per tier."""
    x = np.atleast_2d(x)
    parts = [x, np.ones((len(x), 1), dtype=x.dtype)]
    if interactions:
        parts += [x * x[:, i : i + 1] for i in range(3)]  # columns 0..2 are the tier one-hot
    return np.concatenate(parts, axis=1)


class LinearArms:
    def __init__(
        self,
        n_arms: int,
        dim: int,
        ridge: float = 1.0,
        interactions: bool = False,
        alpha: float = 0.5,
    ) -> None:
        d = basis(np.zeros((1, dim)), interactions).shape[1]
        self.interactions = interactions
        self.alpha = alpha
        self.a = np.stack([np.eye(d) * ridge for _ in range(n_arms)])
        self.b = np.zeros((n_arms, d))
        self._theta: np.ndarray | None = None

    def update(self, x: np.ndarray, arm: int, cost: float) -> None:
        phi = basis(x, self.interactions)[0]
        self.a[arm] += np.outer(phi, phi)
        self.b[arm] += cost * phi
        self._theta = None

    def fit(self, x: np.ndarray, arms: np.ndarray, costs: np.ndarray) -> None:
        phi = basis(x, self.interactions)
        for arm in range(len(self.b)):
            rows = arms == arm
            self.a[arm] += phi[rows].T @ phi[rows]
            self.b[arm] += phi[rows].T @ costs[rows]
        self._theta = None

    @property
    def theta(self) -> np.ndarray:
        if self._theta is None:
            self._theta = np.stack(
                [np.linalg.solve(a, b) for a, b in zip(self.a, self.b, strict=True)]
            )
        return self._theta

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Expected cost of every arm, for each row of x: shape [n, arms]."""
        result: np.ndarray = basis(x, self.interactions) @ self.theta.T
        return result

    def choose(self, x: np.ndarray, explore: bool) -> int:
        """LinUCB on costs: the lowest optimistic (lower-confidence) cost."""
        phi = basis(x, self.interactions)[0]
        est = self.theta @ phi
        if explore:
            widths = np.array([np.sqrt(phi @ np.linalg.solve(a, phi)) for a in self.a])
            est = est - self.alpha * widths
        return int(np.argmin(est))

    def save(self) -> dict[str, np.ndarray]:
        return {"theta": self.theta}
