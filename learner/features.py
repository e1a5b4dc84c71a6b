"""The context of a deploy request, and the vector the learner sees.

Every optional feature becomes two numbers: its value (a neutral default when missing) and a
"missing" flag, so the model can tell "coverage unchanged" from "coverage unknown".
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class DeployFeatures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    tier: int = Field(2, ge=1, le=3)  # 1 = most critical
    dependents: int | None = None  # services that call this one (blast radius)
    change_lines: int | None = None
    change_files: int | None = None
    migrations: int | None = None
    hours_since_last_deploy: float | None = None
    recent_failure_rate: float | None = None  # share of the last deploys that failed, 0..1
    recent_incidents: int | None = None  # in the last 7 days
    tests_passed: bool | None = None
    coverage_delta: float | None = None  # percentage points
    hour: int | None = Field(None, ge=0, le=23)  # UTC
    weekday: int | None = Field(None, ge=0, le=6)  # Monday = 0
    traffic: float | None = None  # current traffic relative to the service's normal, ~0..2
    freeze_near: bool | None = None  # a change freeze starts within 48 h

    @property
    def friday_evening(self) -> bool:
        return self.weekday == 4 and (self.hour or 0) >= 15


# (name, default when missing, transform)
_NUMERIC: tuple[tuple[str, float], ...] = (
    ("dependents", 3.0),
    ("change_lines", 120.0),
    ("change_files", 6.0),
    ("migrations", 0.0),
    ("hours_since_last_deploy", 24.0),
    ("recent_failure_rate", 0.1),
    ("recent_incidents", 0.0),
    ("coverage_delta", 0.0),
    ("traffic", 1.0),
)
_LOG = {"dependents", "change_lines", "change_files", "hours_since_last_deploy", "recent_incidents"}

FEATURE_NAMES: tuple[str, ...] = (
    "tier_1",
    "tier_2",
    "tier_3",
    *[f"{name}{'_log' if name in _LOG else ''}" for name, _ in _NUMERIC],
    *[f"{name}_missing" for name, _ in _NUMERIC],
    "tests_failed",
    "tests_missing",
    "hour_sin",
    "hour_cos",
    "weekend",
    "friday_evening",
    "time_missing",
    "freeze_near",
    "freeze_missing",
)


def vectorize(f: DeployFeatures) -> np.ndarray:
    values: list[float] = [float(f.tier == 1), float(f.tier == 2), float(f.tier == 3)]
    missing: list[float] = []
    for name, default in _NUMERIC:
        raw = getattr(f, name)
        value = float(default if raw is None else raw)
        values.append(math.log1p(max(value, 0.0)) if name in _LOG else value)
        missing.append(float(raw is None))
    values += missing
    values += [float(f.tests_passed is False), float(f.tests_passed is None)]
    if f.hour is None or f.weekday is None:
        values += [0.0, 0.0, 0.0, 0.0, 1.0]
    else:
        angle = 2 * math.pi * f.hour / 24
        values += [
            math.sin(angle),
            math.cos(angle),
            float(f.weekday >= 5),
            float(f.friday_evening),
            0.0,
        ]
    values += [float(bool(f.freeze_near)), float(f.freeze_near is None)]
    return np.asarray(values, dtype=np.float32)


def describe(name: str, f: DeployFeatures) -> str | None:
    """The feature in plain words, for the suggestion's reasons (None: nothing worth saying)."""
    if name.startswith("tier_"):
        return f"a tier-{f.tier} service"
    if name.startswith("change_lines") and f.change_lines is not None:
        size = "large" if f.change_lines >= 500 else "small" if f.change_lines < 100 else "mid-size"
        return f"{size} change ({f.change_lines:,} lines)"
    if name.startswith("change_files") and f.change_files is not None:
        return f"{f.change_files} files changed"
    if name.startswith("migrations") and f.migrations:
        return f"{f.migrations} database migration{'s' if f.migrations > 1 else ''}"
    if name.startswith("dependents") and f.dependents is not None:
        return f"{f.dependents} dependent services"
    if name.startswith("recent_failure_rate") and f.recent_failure_rate is not None:
        return f"{f.recent_failure_rate:.0%} of recent deploys failed"
    if name.startswith("recent_incidents") and f.recent_incidents:
        return f"{f.recent_incidents} incidents this week"
    if name.startswith("coverage_delta") and f.coverage_delta is not None:
        return f"test coverage {f.coverage_delta:+.1f} pts"
    if name == "tests_failed" and f.tests_passed is False:
        return "failing tests"
    if name.startswith("hours_since") and f.hours_since_last_deploy is not None:
        return f"{f.hours_since_last_deploy:.0f} h since the last deploy"
    if name.startswith("traffic") and f.traffic is not None:
        return f"{'high' if f.traffic > 1.2 else 'low' if f.traffic < 0.6 else 'normal'} traffic"
    if name in {"friday_evening", "hour_sin", "hour_cos", "weekend"} and f.weekday is not None:
        if f.friday_evening:
            return "a Friday evening"
        if f.weekday >= 5:
            return "the weekend"
        return None
    if name == "freeze_near" and f.freeze_near:
        return "a change freeze starts within 48 h"
    if name.endswith("_missing"):
        return f"unknown {name.removesuffix('_missing').replace('_', ' ')}"
    return None
