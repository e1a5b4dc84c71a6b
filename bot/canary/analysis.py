"""One canary analysis step: fetch each metric for canary and baseline over the step's window,
judge them with the NetflixACAJudge port, and say the verdict in words (per metric: its class
and effect size). The metric source is a port, so Prometheus, the sandbox's simulated
telemetry and tests all feed the same judge."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal, Protocol

import numpy as np

from bot.canary.judge import (
    CanaryMetricConfig,
    Classification,
    Direction,
    EffectSizeConfig,
    JudgeResult,
    MetricInput,
    ScoreThresholds,
    judge,
)
from bot.models import Frozen

VerdictWord = Literal["pass", "marginal", "fail"]


class MetricSpec(Frozen):
    """One metric of the analysis, as configured (defaults: the success rate must not drop by
    more than 0.5 % of itself, e.g. 99.7 % -> 99.2 %, and is critical; p95 latency must not
    rise by more than 20 %). Effect sizes are Kayenta's mean ratio, canary / baseline."""

    name: str
    group: str
    direction: Literal["increase", "decrease", "either"] = "either"
    critical: bool = False
    allowed_increase: float | None = None
    allowed_decrease: float | None = None


DEFAULT_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        name="success_rate",
        group="errors",
        direction="decrease",
        critical=True,
        allowed_decrease=0.995,
    ),
    MetricSpec(name="latency_p95", group="latency", direction="increase", allowed_increase=1.2),
)


class MetricSource(Protocol):
    async def metric(
        self,
        metric: str,
        service: str,
        version: str,
        start: datetime,
        end: datetime,
        step_seconds: float = 15.0,
    ) -> list[float]: ...


class MetricLine(Frozen):
    name: str
    classification: str  # Pass | High | Low | Nodata | NodataFailMetric | Error
    effect_size: float
    critical: bool
    canary_mean: float
    baseline_mean: float

    def sentence(self) -> str:
        effect = "n/a" if np.isnan(self.effect_size) else f"{self.effect_size:.2f}"
        flag = " (critical)" if self.critical else ""
        return (
            f"{self.name}{flag}: {self.classification}, effect size {effect} "
            f"(canary {_num(self.canary_mean)} vs baseline {_num(self.baseline_mean)})"
        )


class StepVerdict(Frozen):
    verdict: VerdictWord
    score: float
    metrics: tuple[MetricLine, ...]
    reason: str | None = None

    def headline(self) -> str:
        return f"score {self.score:g}/100, {self.verdict}"


def _num(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.4g}"


def _config(spec: MetricSpec) -> CanaryMetricConfig:
    return CanaryMetricConfig(
        direction=Direction.parse(spec.direction),
        critical=spec.critical,
        effect_size=EffectSizeConfig(
            allowed_increase=spec.allowed_increase, allowed_decrease=spec.allowed_decrease
        ),
    )


def to_verdict(result: JudgeResult) -> StepVerdict:
    words: dict[str, VerdictWord] = {"Pass": "pass", "Marginal": "marginal", "Fail": "fail"}
    lines = tuple(
        MetricLine(
            name=m.name,
            classification=m.classification.value,
            effect_size=float(m.effect_size),
            critical=m.critical,
            canary_mean=float(m.canary_stats.mean),
            baseline_mean=float(m.baseline_stats.mean),
        )
        for m in result.metric_results
    )
    return StepVerdict(
        verdict=words.get(result.verdict.value, "fail"),
        score=result.score,
        metrics=lines,
        reason=result.reason,
    )


async def analyze(
    source: MetricSource,
    service: str,
    baseline: str,
    canary: str,
    start: datetime,
    end: datetime,
    *,
    metrics: tuple[MetricSpec, ...] = DEFAULT_METRICS,
    step_seconds: float = 15.0,
    thresholds: ScoreThresholds | None = None,
) -> StepVerdict:
    """Judge canary against baseline over [start, end]. A source that cannot answer makes the
    metric NoData, which fails a critical metric: no data is never a pass."""
    inputs = []
    for spec in metrics:
        pair = await asyncio.gather(
            source.metric(spec.name, service, canary, start, end, step_seconds),
            source.metric(spec.name, service, baseline, start, end, step_seconds),
        )
        inputs.append(
            MetricInput(
                name=spec.name,
                canary=np.asarray(pair[0], dtype=float),
                baseline=np.asarray(pair[1], dtype=float),
                groups=(spec.group,),
                config=_config(spec),
            )
        )
    # The judge is CPU work (tens of ms): keep it off the event loop. A fixed seed makes the
    # tie-breaking noise Kayenta adds repeatable.
    result = await asyncio.to_thread(judge, inputs, None, thresholds, rng=np.random.default_rng(0))
    verdict = to_verdict(result)
    if any(m.classification == Classification.NODATA.value and m.critical for m in verdict.metrics):
        return verdict.model_copy(
            update={"verdict": "fail", "reason": "no data for a critical metric"}
        )
    return verdict
