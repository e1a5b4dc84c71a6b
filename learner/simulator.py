"""The synthetic world for a cold start: a generator of deploy contexts and the outcome model
that says what each rollout strategy would cost in that context. Written down, with its
assumptions, in docs/learner.md; every constant here is named there.

Costs are in "user-impact minutes": minutes of full-traffic failure, weighted by blast radius.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from learner.features import DeployFeatures

T = TypeVar("T")


@dataclass(frozen=True)
class Strategy:
    name: str
    kind: str  # rolling | canary | bluegreen | hold
    first_step: float = 1.0  # share of traffic in the first step (canary)
    window_min: int = 0  # analysis window (canary)

    @property
    def label(self) -> str:
        if self.kind == "canary":
            return f"canary {self.first_step:.0%} with a {self.window_min}-minute window"
        return {"rolling": "rolling", "bluegreen": "blue/green", "hold": "hold for a human"}[
            self.kind
        ]

    @property
    def deploy_strategy(self) -> str:
        """The strategy name the deploy skill runs (hold -> none)."""
        return self.kind


STRATEGIES: tuple[Strategy, ...] = (
    Strategy("rolling", "rolling"),
    Strategy("canary_small_short", "canary", 0.05, 15),
    Strategy("canary_small_long", "canary", 0.05, 45),
    Strategy("canary_medium_short", "canary", 0.25, 15),
    Strategy("canary_medium_long", "canary", 0.25, 45),
    Strategy("canary_large_short", "canary", 0.50, 15),
    Strategy("canary_large_long", "canary", 0.50, 45),
    Strategy("bluegreen", "bluegreen"),
    Strategy("hold", "hold"),
)
NAMES = tuple(s.name for s in STRATEGIES)

# --- outcome model constants (docs/learner.md) ---------------------------------------------
BASE_LOGIT = -3.5  # a small, tested change by a healthy service fails ~3 % of the time
DETECTION_POWER = 3.0  # canary detection: 1 - exp(-power * step * window_min * traffic)
ROLLING_DETECT_MIN, ROLLING_EXPOSURE = 30.0, 0.6
MISSED_CANARY_DETECT_MIN = 30.0  # a failure the canary missed is found after full rollout
BLUEGREEN_DETECT_MIN = 3.0  # full traffic on green, instant switch back
HOLD_CATCH = 0.8  # a human review stops 80 % of failing changes before they ship
HOLD_COST = 3.0  # the reviewer's time and the delay, whether or not it was needed
MINUTE_COST = 0.10  # cost per minute of deployment duration (people watching, slower flow)
DURATION_MIN = {"rolling": 10.0, "bluegreen": 25.0, "hold": 30.0}  # canary: window + 10
TIER_BLAST = {1: 10.0, 2: 2.0, 3: 0.5}
# Blue/green runs a second full fleet for the switch: bigger (tier-1) fleets cost more.
BLUEGREEN_CAPACITY = {1: 3.0, 2: 1.5, 3: 0.75}


# Log-odds of failure per feature (docs/learner.md).
RISK = {
    "lines": 0.7,  # per log(1 + lines/100)
    "migration": 0.8,
    "tests_failed": 2.5,
    "tests_unknown": 0.4,
    "coverage_drop": 0.1,  # per point of coverage lost
    "friday_evening": 0.8,
    "recent_failure_rate": 3.0,
    "recent_incident": 0.2,
    "freeze_near": 0.3,
    "stale_branch": 0.1,  # per log(1 + days since the last deploy)
}


def failure_probability(f: DeployFeatures) -> float:
    lines = f.change_lines if f.change_lines is not None else 120
    z = BASE_LOGIT + RISK["lines"] * math.log1p(lines / 100)
    z += RISK["migration"] * (f.migrations or 0)
    z += RISK["tests_failed"] * (f.tests_passed is False)
    z += RISK["tests_unknown"] * (f.tests_passed is None)
    z += RISK["coverage_drop"] * max(0.0, -(f.coverage_delta or 0.0))
    z += RISK["friday_evening"] * f.friday_evening
    rate = f.recent_failure_rate if f.recent_failure_rate is not None else 0.1
    z += RISK["recent_failure_rate"] * rate
    z += RISK["recent_incident"] * (f.recent_incidents or 0)
    z += RISK["freeze_near"] * bool(f.freeze_near)
    hours = f.hours_since_last_deploy if f.hours_since_last_deploy is not None else 24
    z += RISK["stale_branch"] * math.log1p(hours / 24)
    return 1 / (1 + math.exp(-z))


def blast_radius(f: DeployFeatures) -> float:
    dependents = f.dependents if f.dependents is not None else 3
    traffic = f.traffic if f.traffic is not None else 1.0
    # Business criticality sets the blast radius; traffic matters mostly for detection.
    return TIER_BLAST[f.tier] * (1 + 0.1 * dependents) * math.sqrt(traffic)


def shipped_impact(s: Strategy, f: DeployFeatures) -> float:
    """User impact of a bad change once it ships under strategy s (hold ships as rolling)."""
    blast = blast_radius(f)
    traffic = f.traffic if f.traffic is not None else 1.0
    if s.kind == "canary":
        detect = 1 - math.exp(-DETECTION_POWER * s.first_step * s.window_min * traffic)
        caught = blast * s.first_step * s.window_min  # the judge calls it at the window's end
        missed = blast * MISSED_CANARY_DETECT_MIN
        return detect * caught + (1 - detect) * missed
    if s.kind == "bluegreen":
        return blast * BLUEGREEN_DETECT_MIN
    return blast * ROLLING_EXPOSURE * ROLLING_DETECT_MIN  # rolling, and hold once approved


def failure_impact(s: Strategy, f: DeployFeatures) -> float:
    """Expected user impact if the change is bad, under strategy s."""
    impact = shipped_impact(s, f)
    return (1 - HOLD_CATCH) * impact if s.kind == "hold" else impact


def duration(s: Strategy) -> float:
    return s.window_min + 10.0 if s.kind == "canary" else DURATION_MIN[s.kind]


def cost_parts(f: DeployFeatures) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per strategy: expected failure cost, duration cost, and the fixed cost of the strategy
    (a needless hold's review; blue/green's second fleet)."""
    p = failure_probability(f)
    fail = np.array([p * failure_impact(s, f) for s in STRATEGIES])
    dur = np.array([MINUTE_COST * duration(s) for s in STRATEGIES])
    fixed = np.array([fixed_cost(s, f) for s in STRATEGIES])
    return fail, dur, fixed


def fixed_cost(s: Strategy, f: DeployFeatures) -> float:
    if s.kind == "hold":
        return HOLD_COST
    if s.kind == "bluegreen":
        return BLUEGREEN_CAPACITY[f.tier]
    return 0.0


def expected_costs(f: DeployFeatures) -> np.ndarray:
    fail, dur, fixed = cost_parts(f)
    total: np.ndarray = fail + dur + fixed
    return total


def sample_cost(f: DeployFeatures, action: int, rng: np.random.Generator) -> tuple[float, bool]:
    """One realised outcome: (cost, failed)."""
    s = STRATEGIES[action]
    failed = bool(rng.random() < failure_probability(f))
    if s.kind == "hold" and failed and rng.random() < HOLD_CATCH:
        failed = False  # the reviewer stopped it before it shipped
    cost = (shipped_impact(s, f) if failed else 0.0) + MINUTE_COST * duration(s)
    return cost + fixed_cost(s, f), failed


# --- context generator ---------------------------------------------------------------------
def generate_contexts(n: int, seed: int, shift: bool = False) -> list[DeployFeatures]:
    """Deploy contexts in the ranges teams see. `shift` moves the held-out set: bigger changes,
    more tier-1 services and Friday evenings, lower coverage, busier traffic."""
    rng = np.random.default_rng(seed)
    tier_p = [0.35, 0.45, 0.20] if shift else [0.25, 0.5, 0.25]
    out = []
    for _ in range(n):
        lines = int(rng.lognormal(math.log(160 if shift else 80), 1.3))
        weekday = int(
            rng.choice(
                7,
                p=[0.17, 0.18, 0.18, 0.17, 0.2, 0.05, 0.05]
                if shift
                else [0.19, 0.2, 0.2, 0.19, 0.14, 0.04, 0.04],
            )
        )

        def maybe(value: T, p_missing: float = 0.05) -> T | None:
            return None if rng.random() < p_missing else value

        out.append(
            DeployFeatures(
                tier=int(rng.choice([1, 2, 3], p=tier_p)),
                dependents=maybe(int(rng.poisson(4))),
                change_lines=maybe(lines),
                change_files=maybe(max(1, lines // 25 + int(rng.poisson(2)))),
                migrations=maybe(int(rng.random() < (0.15 if shift else 0.08))),
                hours_since_last_deploy=maybe(float(rng.exponential(30))),
                recent_failure_rate=maybe(float(rng.beta(1.2, 7 if shift else 9))),
                recent_incidents=maybe(int(rng.poisson(0.4))),
                tests_passed=maybe(bool(rng.random() > (0.07 if shift else 0.04))),
                coverage_delta=maybe(float(rng.normal(-0.8 if shift else 0.0, 2.0)), 0.2),
                hour=maybe(int(rng.integers(0, 24))),
                weekday=weekday,
                traffic=maybe(float(rng.lognormal(0.15 if shift else 0.0, 1.0))),
                freeze_near=maybe(bool(rng.random() < 0.1)),
            )
        )
    return out
