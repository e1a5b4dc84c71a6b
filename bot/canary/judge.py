"""Kayenta's NetflixACAJudge-v1.0 canary judge, as pure functions (numpy and scipy only).

Ported from spinnaker/kayenta (Apache-2.0, Copyright 2017-2018 Netflix, Inc.), commit
a69573be9d8fededacf80817e4151a2c8df41276:

* ``kayenta-mannwhitney/.../MannWhitney.scala`` and ``BrentSolver.java``: the Wilcoxon rank-sum
  confidence interval and Hodges-Lehmann estimate (normal approximation with continuity and tie
  correction), roots found by R's ``zeroin`` with tol 1e-4 (:func:`mann_whitney`, :func:`zeroin`).
* ``kayenta-judge/.../MannWhitneyClassifier.scala``: Pass/High/Low/Nodata per metric
  (:func:`classify_metric`); ``MeanInequalityClassifier`` (:func:`classify_mean_inequality`).
* ``detectors/IQRDetector.scala``, ``KSigmaDetector``, ``stats/EffectSizes.scala``,
  ``preprocessing/Transforms.scala``: data cleaning and effect sizes.
* ``scorers/WeightedSumScorer.scala``, ``ThresholdScoreClassifier.scala`` and
  ``NetflixACAJudge.scala``: group scores, summary score and verdict (:func:`score_metrics`,
  :func:`classify_score`, :func:`judge`).

A few progressive-delivery gate rules from Argo Rollouts and Flagger (Apache-2.0) sit at the end:
:func:`argo_measurement_phase`, :func:`argo_metric_phase`, :func:`flagger_min_promotion_time`,
:func:`flagger_time_to_rollback`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy.stats import norm, rankdata

JUDGE_NAME = "NetflixACAJudge-v1.0"

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = Sequence[float] | FloatArray

# R's zeroin / Kayenta's BrentSolver.java constants.
ZEROIN_TOLERANCE = 1e-4
ZEROIN_EPSILON = 2.220446049250313e-16
ZEROIN_MAX_ITERATIONS = 1000

# NetflixACAJudge.scala: the classifier as the judge builds it.
JUDGE_TOLERANCE = 0.25
JUDGE_CONFIDENCE_LEVEL = 0.98
DEFAULT_OUTLIER_FACTOR = 3.0
# ScoringHelper / WeightedSumScorer: >= this percentage of Nodata metrics fails the canary.
NODATA_THRESHOLD = 50.0
# MannWhitneyClassifier: noise added to two constant samples (tied ranks).
TIED_RANKS_NOISE_SCALE = 1e-5


class Classification(StrEnum):
    PASS = "Pass"
    HIGH = "High"
    LOW = "Low"
    NODATA = "Nodata"
    NODATA_FAIL_METRIC = "NodataFailMetric"
    ERROR = "Error"


class Direction(StrEnum):
    EITHER = "either"
    INCREASE = "increase"
    DECREASE = "decrease"

    @classmethod
    def parse(cls, value: str | None) -> Direction:
        """Kayenta's MetricDirection.parse: unknown or missing -> either (case-insensitive)."""
        try:
            return cls((value or "either").strip().lower())
        except ValueError:
            return cls.EITHER


class NanStrategy(StrEnum):
    REMOVE = "remove"
    REPLACE = "replace"

    @classmethod
    def parse(cls, value: str | None) -> NanStrategy:
        """Kayenta's NaNStrategy.parse: 'replace' -> Replace, anything else ('none') -> Remove."""
        return cls.REPLACE if (value or "").strip().lower() == "replace" else cls.REMOVE


class OutlierStrategy(StrEnum):
    KEEP = "keep"
    REMOVE = "remove"

    @classmethod
    def parse(cls, value: str | None) -> OutlierStrategy:
        return cls.REMOVE if (value or "").strip().lower() == "remove" else cls.KEEP


class EffectSizeMeasure(StrEnum):
    MEAN_RATIO = "meanRatio"
    CLES = "cles"

    @classmethod
    def parse(cls, value: str | None) -> EffectSizeMeasure:
        return cls.CLES if (value or "").strip().lower() == "cles" else cls.MEAN_RATIO


class Verdict(StrEnum):
    PASS = "Pass"
    MARGINAL = "Marginal"
    FAIL = "Fail"


class MannWhitneyError(ValueError):
    """The test cannot be computed (e.g. every observation is tied)."""


def _as_array(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


# --------------------------------------------------------------------------------------------
# Mann-Whitney (Wilcoxon rank-sum) confidence interval and Hodges-Lehmann estimate
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MannWhitneyResult:
    """CI ``[lower, upper]`` and estimate of the location shift ``experiment - control``."""

    lower_confidence: float
    upper_confidence: float
    estimate: float
    confidence_level: float

    @property
    def confidence_interval(self) -> tuple[float, float]:
        return (self.lower_confidence, self.upper_confidence)


def zeroin(
    f: Callable[[float], float],
    lower: float,
    upper: float,
    f_lower: float,
    f_upper: float,
    *,
    tol: float = ZEROIN_TOLERANCE,
    max_iterations: int = ZEROIN_MAX_ITERATIONS,
) -> float:
    """R's ``R_zeroin2`` (Brent's method), as ported by Kayenta's BrentSolver.java.

    Stops once the bracket is within ``2*EPSILON*|b| + tol/2``; the exact stopping point matters,
    since the known answers come from R's ``uniroot(..., tol = 1e-4)``.
    """
    a, b = lower, upper
    fa, fb = f_lower, f_upper
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    remaining = max_iterations + 1
    while remaining > 0:
        remaining -= 1
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2.0 * ZEROIN_EPSILON * abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2.0) and p < abs(prev_step * q / 2.0):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0.0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0.0 and fc > 0.0) or (fb < 0.0 and fc < 0.0):
            c, fc = a, fa
    return b


def wilcoxon_diff(
    mu: float, quantile: float, x: ArrayLike, y: ArrayLike, *, correct: bool = True
) -> float:
    """R's ``wdiff(d, zq)``: standardized rank-sum statistic of ``x - mu`` vs ``y``, minus ``zq``.

    Average ranks with tie correction of the variance; ``correct`` applies the continuity
    correction ``sign(dz) * 0.5`` (two-sided).
    """
    xa, ya = _as_array(x), _as_array(y)
    nx, ny = float(xa.size), float(ya.size)
    ranks = rankdata(np.concatenate((xa - mu, ya)), method="average")
    _, ties = np.unique(ranks, return_counts=True)
    dz = float(ranks[: xa.size].sum()) - nx * (nx + 1.0) / 2.0 - nx * ny / 2.0
    correction = math.copysign(0.5, dz) if (correct and dz != 0.0 and dz == dz) else 0.0
    tie_term = float(np.sum(ties.astype(np.float64) ** 3 - ties)) / ((nx + ny) * (nx + ny - 1.0))
    sigma = math.sqrt((nx * ny / 12.0) * ((nx + ny + 1.0) - tie_term))
    if sigma == 0.0:
        raise MannWhitneyError("cannot compute confidence interval when all observations are tied")
    return (dz - correction) / sigma - quantile


def mann_whitney(
    experiment: ArrayLike,
    control: ArrayLike,
    confidence_level: float = 0.95,
    *,
    estimate_correction: bool = True,
) -> MannWhitneyResult:
    """Two-sided Wilcoxon rank-sum CI and Hodges-Lehmann estimate for ``experiment - control``.

    Kayenta's ``MannWhitney.mannWhitneyUTest(x=experiment, y=control, confidenceLevel)``, itself
    R's asymptotic ``wilcox.test(x, y, conf.int=TRUE)`` logic. ``estimate_correction=True``
    (Kayenta) keeps the continuity correction when solving for the estimate; ``False`` is R's
    ``wilcox.test``, which drops it there. The CI is identical either way.
    """
    x, y = _as_array(experiment), _as_array(control)
    if x.size == 0 or y.size == 0:
        raise MannWhitneyError("not enough observations")
    if np.isnan(x).any() or np.isnan(y).any():
        raise MannWhitneyError("observations must not be NaN")
    alpha = 1.0 - confidence_level
    mu_min = float(x.min() - y.max())
    mu_max = float(x.max() - y.min())

    def root(zq: float) -> float:
        f_lower = wilcoxon_diff(mu_min, zq, x, y)
        if f_lower <= 0.0:
            return mu_min
        f_upper = wilcoxon_diff(mu_max, zq, x, y)
        if f_upper >= 0.0:
            return mu_max
        return zeroin(lambda d: wilcoxon_diff(d, zq, x, y), mu_min, mu_max, f_lower, f_upper)

    z_quant = float(norm.ppf(alpha / 2.0))
    lower = root(-z_quant)
    upper = root(z_quant)

    def diff0(d: float) -> float:
        return wilcoxon_diff(d, 0.0, x, y, correct=estimate_correction)

    f_lo, f_hi = diff0(mu_min), diff0(mu_max)
    if (f_lo > 0.0 and f_hi > 0.0) or (f_lo < 0.0 and f_hi < 0.0):
        raise MannWhitneyError("estimate is not bracketed by [mu_min, mu_max]")
    estimate = zeroin(diff0, mu_min, mu_max, f_lo, f_hi)
    return MannWhitneyResult(float(lower), float(upper), float(estimate), confidence_level)


# --------------------------------------------------------------------------------------------
# Descriptive statistics, transforms, outlier detectors, effect sizes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryStats:
    """Kayenta's DescriptiveStatistics.summary (sample std; all zeros when empty)."""

    count: int
    mean: float
    std: float
    min: float
    max: float


def percentile(data: ArrayLike, p: float) -> float:
    """Linear interpolation between order statistics (Hyndman-Fan type 7), ``p`` in [0, 100]."""
    values = _as_array(data)
    if values.size == 0:
        return math.nan
    return float(np.percentile(values, p, method="linear"))


def summary_stats(data: ArrayLike) -> SummaryStats:
    values = _as_array(data)
    if values.size == 0:
        return SummaryStats(count=0, mean=0.0, std=0.0, min=0.0, max=0.0)
    std = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return SummaryStats(
        count=int(values.size),
        mean=float(values.mean()),
        std=std,
        min=float(values.min()),
        max=float(values.max()),
    )


def remove_nans(data: ArrayLike) -> FloatArray:
    values = _as_array(data)
    return values[~np.isnan(values)]


def replace_nans(data: ArrayLike, value: float = 0.0) -> FloatArray:
    values = _as_array(data)
    return np.where(np.isnan(values), value, values)


def iqr_fences(
    data: ArrayLike, factor: float = 1.5, *, reduce_sensitivity: bool = False
) -> tuple[float, float]:
    """IQRDetector fences ``Q1 - f*IQR``, ``Q3 + f*IQR``; with ``reduce_sensitivity`` the fences
    are widened to at least the 1st/99th percentiles."""
    if factor <= 0.0:
        raise ValueError("factor must be greater than zero")
    q1, q3 = percentile(data, 25.0), percentile(data, 75.0)
    iqr = q3 - q1
    lower, upper = q1 - factor * iqr, q3 + factor * iqr
    if reduce_sensitivity:
        lower = min(percentile(data, 1.0), lower)
        upper = max(percentile(data, 99.0), upper)
    return lower, upper


def iqr_outliers(
    data: ArrayLike, factor: float = 1.5, *, reduce_sensitivity: bool = False
) -> BoolArray:
    """IQRDetector.detect: True where a value lies strictly outside the fences."""
    values = _as_array(data)
    if values.size == 0:
        return np.zeros(0, dtype=np.bool_)
    lower, upper = iqr_fences(values, factor, reduce_sensitivity=reduce_sensitivity)
    return np.asarray((values > upper) | (values < lower), dtype=np.bool_)


def ksigma_outliers(data: ArrayLike, k: float = 3.0) -> BoolArray:
    """KSigmaDetector.detect: ``|x - mean| > k * sample std``."""
    values = _as_array(data)
    if values.size == 0:
        return np.zeros(0, dtype=np.bool_)
    std = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return np.asarray(np.abs(values - values.mean()) > k * std, dtype=np.bool_)


def remove_outliers(
    data: ArrayLike, factor: float = 1.5, *, reduce_sensitivity: bool = False
) -> FloatArray:
    """Transforms.removeOutliers with an IQRDetector."""
    values = _as_array(data)
    return values[~iqr_outliers(values, factor, reduce_sensitivity=reduce_sensitivity)]


def mean_ratio(canary: ArrayLike, baseline: ArrayLike) -> float:
    """``mean(canary) / mean(baseline)``; NaN when either mean is 0 (or a sample is empty)."""
    c, b = _as_array(canary), _as_array(baseline)
    if c.size == 0 or b.size == 0:
        return math.nan
    c_mean, b_mean = float(c.mean()), float(b.mean())
    if c_mean == 0.0 or b_mean == 0.0:
        return math.nan
    return c_mean / b_mean


def cles(canary: ArrayLike, baseline: ArrayLike) -> float:
    """Common-language effect size P(canary > baseline) + 0.5 P(tie), from pooled average ranks:
    ``(2*R1 - m(m+1)) / (2nm)`` with R1 the canary rank sum, m = |canary|, n = |baseline|."""
    c, b = _as_array(canary), _as_array(baseline)
    m, n = float(c.size), float(b.size)
    if m == 0 or n == 0:
        return math.nan
    ranks = rankdata(np.concatenate((c, b)), method="average")
    r1 = float(ranks[: c.size].sum())
    return (2.0 * r1 - m * (m + 1.0)) / (2.0 * n * m)


def cohen_d(a: ArrayLike, b: ArrayLike) -> float:
    """Cohen's d, ``|mean(a) - mean(b)|`` over the pooled sample standard deviation."""
    x, y = _as_array(a), _as_array(b)
    n1, n2 = float(x.size), float(y.size)
    var1 = float(np.var(x, ddof=1)) if x.size > 1 else 0.0
    var2 = float(np.var(y, ddof=1)) if y.size > 1 else 0.0
    pooled = math.sqrt(((n1 - 1.0) * var1 + (n2 - 1.0) * var2) / (n1 + n2 - 2.0))
    return abs(float(x.mean()) - float(y.mean())) / pooled


def effect_size(measure: EffectSizeMeasure, canary: ArrayLike, baseline: ArrayLike) -> float:
    if measure is EffectSizeMeasure.CLES:
        return cles(canary, baseline)
    return mean_ratio(canary, baseline)


# --------------------------------------------------------------------------------------------
# Metric classification
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassifierParams:
    """MannWhitneyClassifier constructor arguments (defaults are the constructor's; the judge
    passes tolerance 0.25 and confidence 0.98). Threshold pairs are ``(decrease, increase)``."""

    tolerance: float = 0.25
    confidence_level: float = 0.95
    effect_size_thresholds: tuple[float, float] = (1.0, 1.0)
    critical_thresholds: tuple[float, float] = (1.0, 1.0)
    effect_size_measure: EffectSizeMeasure = EffectSizeMeasure.MEAN_RATIO


@dataclass(frozen=True)
class MetricClassification:
    classification: Classification
    reason: str | None
    deviation: float  # Kayenta's reported "ratio": mean(canary) / mean(baseline)
    critical: bool
    effect_size: float = math.nan  # in params.effect_size_measure units
    mann_whitney: MannWhitneyResult | None = None


def _high_effect(value: float, threshold: float) -> bool:
    return math.isnan(value) or value >= threshold


def _low_effect(value: float, threshold: float) -> bool:
    return math.isnan(value) or value <= threshold


def _add_noise(values: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Gaussian noise with stdev ``|value| * 1e-5`` for a constant sample."""
    stdev = abs(float(values[0])) * TIED_RANKS_NOISE_SCALE
    if stdev == 0.0:
        return values.copy()
    return np.asarray(values + rng.normal(0.0, stdev, size=values.size), dtype=np.float64)


def classify_metric(
    canary: ArrayLike,
    baseline: ArrayLike,
    params: ClassifierParams | None = None,
    *,
    direction: Direction = Direction.EITHER,
    nan_strategy: NanStrategy = NanStrategy.REMOVE,
    critical: bool = False,
    must_have_data: bool = False,
    name: str = "metric",
    rng: np.random.Generator | None = None,
) -> MetricClassification:
    """MannWhitneyClassifier.classify on already-cleaned samples.

    When both samples are constant (tied ranks), Kayenta adds random noise of stdev
    ``value*1e-5``; ``rng`` supplies it (default: a fresh ``default_rng(0)``, so results are
    reproducible). The outcome does not depend on the draw: the noise cannot reorder two
    distinct constants.
    """
    p = params or ClassifierParams()
    c, b = _as_array(canary), _as_array(baseline)

    if c.size == 0 or b.size == 0:
        if nan_strategy is NanStrategy.REMOVE:
            reason = f"Missing data for {name}"
            if must_have_data and not critical:
                return MetricClassification(
                    Classification.NODATA_FAIL_METRIC, reason, 1.0, critical=False
                )
            return MetricClassification(Classification.NODATA, reason, 1.0, critical=critical)
        return MetricClassification(Classification.PASS, None, 1.0, critical=False)

    if c.size == b.size and np.array_equal(np.sort(c), np.sort(b)):
        reason = "The Canary and Baseline data are identical"
        return MetricClassification(Classification.PASS, reason, 1.0, critical=False)

    if np.unique(np.concatenate((c, b))).size == 1:
        return MetricClassification(Classification.PASS, None, 1.0, critical=False)

    if np.unique(c).size == 1 and np.unique(b).size == 1:
        gen = rng if rng is not None else np.random.default_rng(0)
        c, b = _add_noise(c, gen), _add_noise(b, gen)

    try:
        mw = mann_whitney(c, b, p.confidence_level)
    except MannWhitneyError as exc:
        return MetricClassification(
            Classification.ERROR, f"Metric Classification Failed: {exc}", math.nan, critical=False
        )

    deviation = mean_ratio(c, b)
    effect = effect_size(p.effect_size_measure, c, b)
    bound = p.tolerance * abs(mw.estimate)
    allowed_decrease, allowed_increase = p.effect_size_thresholds
    critical_decrease, critical_increase = p.critical_thresholds

    if (
        direction in (Direction.INCREASE, Direction.EITHER)
        and mw.lower_confidence > bound
        and _high_effect(effect, allowed_increase)
    ):
        is_critical = critical and _high_effect(effect, critical_increase)
        suffix = " (Critical)" if is_critical else ""
        return MetricClassification(
            Classification.HIGH,
            f"The metric was classified as High{suffix}",
            deviation,
            critical=is_critical,
            effect_size=effect,
            mann_whitney=mw,
        )
    if (
        direction in (Direction.DECREASE, Direction.EITHER)
        and mw.upper_confidence < -bound
        and _low_effect(effect, allowed_decrease)
    ):
        is_critical = critical and _low_effect(effect, critical_decrease)
        suffix = " (Critical)" if is_critical else ""
        return MetricClassification(
            Classification.LOW,
            f"The metric was classified as Low{suffix}",
            deviation,
            critical=is_critical,
            effect_size=effect,
            mann_whitney=mw,
        )
    return MetricClassification(
        Classification.PASS, None, deviation, critical=False, effect_size=effect, mann_whitney=mw
    )


def classify_mean_inequality(
    canary: ArrayLike,
    baseline: ArrayLike,
    *,
    direction: Direction = Direction.EITHER,
    critical: bool = False,
) -> MetricClassification:
    """MeanInequalityClassifier: High/Low by comparing the sample means, no statistics."""
    c, b = _as_array(canary), _as_array(baseline)
    if c.size == 0 or b.size == 0:
        return MetricClassification(Classification.NODATA, None, 1.0, critical=critical)
    ratio = mean_ratio(c, b)
    c_mean, b_mean = float(c.mean()), float(b.mean())
    if direction in (Direction.INCREASE, Direction.EITHER) and c_mean > b_mean:
        return MetricClassification(
            Classification.HIGH, "The metric was classified as High", ratio, critical=critical
        )
    if direction in (Direction.DECREASE, Direction.EITHER) and c_mean < b_mean:
        return MetricClassification(
            Classification.LOW, "The metric was classified as Low", ratio, critical=critical
        )
    return MetricClassification(Classification.PASS, None, ratio, critical=False)


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


class Scorable(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def classification(self) -> Classification: ...
    @property
    def critical(self) -> bool: ...
    @property
    def groups(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class ScoredMetric:
    """The minimum the scorer needs about one classified metric."""

    name: str
    classification: Classification
    critical: bool = False
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupScore:
    name: str
    score: float
    no_data: bool
    label_counts: Mapping[str, int]
    num_metrics: int


@dataclass(frozen=True)
class ScoreResult:
    group_scores: tuple[GroupScore, ...]
    summary_score: float
    num_metrics: int
    reason: str | None = None


def round_score(value: float, places: int = 2) -> float:
    """Round half up on the decimal representation (33.335 -> 33.34), as BigDecimal does."""
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def group_score(name: str, classifications: Sequence[Classification]) -> GroupScore:
    """``100 * Pass / (Pass + High + Low + NodataFailMetric)``; Nodata and Error do not count."""
    counts: dict[str, int] = {}
    for label in classifications:
        counts[label.value] = counts.get(label.value, 0) + 1
    n_pass = counts.get(Classification.PASS.value, 0)
    total = n_pass + sum(
        counts.get(label.value, 0)
        for label in (Classification.HIGH, Classification.LOW, Classification.NODATA_FAIL_METRIC)
    )
    no_data = total == 0
    score = 0.0 if no_data else 100.0 * n_pass / total
    return GroupScore(name, score, no_data, counts, len(classifications))


def score_metrics(
    results: Sequence[Scorable], group_weights: Mapping[str, float] | None = None
) -> ScoreResult:
    """WeightedSumScorer.score (muted metrics must already be excluded).

    Groups without a weight share ``(100 - sum(weights)) / n_missing``; a group with no counted
    metric scores 0 but counts as 100 in the summary. Any critical metric not classified Pass, or
    Nodata for at least half of the metrics, makes the summary 0. Rounded to 2 decimals.
    """
    weights = dict(group_weights or {})
    by_group: dict[str, list[Classification]] = {}
    for result in results:
        for group in result.groups:
            by_group.setdefault(group, []).append(result.classification)
    groups = tuple(group_score(name, labels) for name, labels in by_group.items())

    missing = [g.name for g in groups if g.name not in weights]
    shared = (100.0 - sum(weights.values())) / len(missing) if missing else 0.0
    summary = 0.0
    for g in groups:
        weight = weights.get(g.name, shared)
        summary += (100.0 if g.no_data else g.score) * (weight / 100.0)
    summary = round_score(summary)

    failed = [r.name for r in results if r.critical and r.classification is not Classification.PASS]
    if failed:
        reason = f"Canary Failed: critical metric(s) did not pass: {', '.join(failed)}"
        return ScoreResult(groups, 0.0, len(results), reason)
    n_nodata = sum(1 for r in results if r.classification is Classification.NODATA)
    if results and 100.0 * n_nodata / len(results) >= NODATA_THRESHOLD:
        reason = (
            f"Canary Failed: {n_nodata} of {len(results)} metrics had no data "
            f"(threshold {NODATA_THRESHOLD:g}%)"
        )
        return ScoreResult(groups, 0.0, len(results), reason)
    return ScoreResult(groups, summary, len(results))


@dataclass(frozen=True)
class ScoreThresholds:
    """``classifier.scoreThresholds``: pass and marginal score."""

    pass_score: float = 90.0
    marginal_score: float = 75.0


def classify_score(score: float, thresholds: ScoreThresholds | None = None) -> Verdict:
    """ThresholdScoreClassifier: ``>= pass`` -> Pass, ``>= marginal`` -> Marginal, else Fail."""
    t = thresholds or ScoreThresholds()
    if score >= t.pass_score:
        return Verdict.PASS
    if score >= t.marginal_score:
        return Verdict.MARGINAL
    return Verdict.FAIL


def final_score_message(score: float, thresholds: ScoreThresholds | None = None) -> str:
    """Kayenta standalone analysis message for the final score (two wordings are Kayenta's; the
    in-between one is ours)."""
    t = thresholds or ScoreThresholds()
    if score >= t.pass_score:
        return f"Final canary score {score} met or exceeded the pass score threshold."
    if score <= t.marginal_score:
        return f"Final canary score {score} is not above the marginal score threshold."
    return f"Final canary score {score} is above the marginal but below the pass score threshold."


# --------------------------------------------------------------------------------------------
# The judge
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectSizeConfig:
    """``analysisConfigurations.canary.effectSize``; None -> 1.0 (meanRatio) or 0.5 (cles)."""

    measure: EffectSizeMeasure = EffectSizeMeasure.MEAN_RATIO
    allowed_increase: float | None = None
    allowed_decrease: float | None = None
    critical_increase: float | None = None
    critical_decrease: float | None = None

    def _value(self, value: float | None) -> float:
        if value is not None:
            return value
        return 0.5 if self.measure is EffectSizeMeasure.CLES else 1.0

    @property
    def thresholds(self) -> tuple[float, float]:
        return (self._value(self.allowed_decrease), self._value(self.allowed_increase))

    @property
    def critical_thresholds(self) -> tuple[float, float]:
        return (self._value(self.critical_decrease), self._value(self.critical_increase))


@dataclass(frozen=True)
class CanaryMetricConfig:
    """``analysisConfigurations.canary`` of one metric, with Kayenta's defaults."""

    direction: Direction = Direction.EITHER
    nan_strategy: NanStrategy = NanStrategy.REMOVE
    outlier_strategy: OutlierStrategy = OutlierStrategy.KEEP
    outlier_factor: float = DEFAULT_OUTLIER_FACTOR
    critical: bool = False
    must_have_data: bool = False
    muted: bool = False
    effect_size: EffectSizeConfig = field(default_factory=EffectSizeConfig)

    @classmethod
    def from_analysis_configurations(cls, config: Mapping[str, Any]) -> CanaryMetricConfig:
        """Parse Kayenta's ``analysisConfigurations`` (or its ``canary`` member)."""
        canary: Mapping[str, Any] = config.get("canary", config)
        outliers: Mapping[str, Any] = canary.get("outliers") or {}
        effect: Mapping[str, Any] = canary.get("effectSize") or {}

        def opt(key: str) -> float | None:
            value = effect.get(key)
            return None if value is None else float(value)

        return cls(
            direction=Direction.parse(canary.get("direction")),
            nan_strategy=NanStrategy.parse(canary.get("nanStrategy")),
            outlier_strategy=OutlierStrategy.parse(outliers.get("strategy")),
            outlier_factor=float(outliers.get("outlierFactor", DEFAULT_OUTLIER_FACTOR)),
            critical=bool(canary.get("critical", False)),
            must_have_data=bool(canary.get("mustHaveData", False)),
            muted=bool(canary.get("muted", False)),
            effect_size=EffectSizeConfig(
                measure=EffectSizeMeasure.parse(effect.get("measure")),
                allowed_increase=opt("allowedIncrease"),
                allowed_decrease=opt("allowedDecrease"),
                critical_increase=opt("criticalIncrease"),
                critical_decrease=opt("criticalDecrease"),
            ),
        )


@dataclass(frozen=True)
class MetricInput:
    name: str
    canary: ArrayLike
    baseline: ArrayLike
    groups: tuple[str, ...] = ()
    config: CanaryMetricConfig = field(default_factory=CanaryMetricConfig)


@dataclass(frozen=True)
class MetricResult:
    name: str
    classification: Classification
    reason: str | None
    critical: bool
    deviation: float
    effect_size: float
    effect_size_measure: EffectSizeMeasure
    groups: tuple[str, ...]
    muted: bool
    canary_stats: SummaryStats
    baseline_stats: SummaryStats
    mann_whitney: MannWhitneyResult | None


@dataclass(frozen=True)
class JudgeResult:
    judge_name: str
    score: float
    verdict: Verdict
    reason: str | None
    metric_results: tuple[MetricResult, ...]
    group_scores: tuple[GroupScore, ...]

    def metric(self, name: str) -> MetricResult:
        for result in self.metric_results:
            if result.name == name:
                return result
        raise KeyError(name)


def clean_metric(values: ArrayLike, config: CanaryMetricConfig) -> FloatArray:
    """NetflixACAJudge.transformMetric: NaN handling, then optional IQR outlier removal
    (``reduceSensitivity=true``)."""
    if config.nan_strategy is NanStrategy.REMOVE:
        cleaned = remove_nans(values)
    else:
        cleaned = replace_nans(values, 0.0)
    if config.outlier_strategy is OutlierStrategy.REMOVE:
        cleaned = remove_outliers(cleaned, config.outlier_factor, reduce_sensitivity=True)
    return cleaned


def judge_metric(metric: MetricInput, *, rng: np.random.Generator | None = None) -> MetricResult:
    """NetflixACAJudge.classifyMetric for one metric."""
    cfg = metric.config
    canary = clean_metric(metric.canary, cfg)
    baseline = clean_metric(metric.baseline, cfg)
    params = ClassifierParams(
        tolerance=JUDGE_TOLERANCE,
        confidence_level=JUDGE_CONFIDENCE_LEVEL,
        effect_size_thresholds=cfg.effect_size.thresholds,
        critical_thresholds=cfg.effect_size.critical_thresholds,
        effect_size_measure=cfg.effect_size.measure,
    )
    mc = classify_metric(
        canary,
        baseline,
        params,
        direction=cfg.direction,
        nan_strategy=cfg.nan_strategy,
        critical=cfg.critical,
        must_have_data=cfg.must_have_data,
        name=metric.name,
        rng=rng,
    )
    return MetricResult(
        name=metric.name,
        classification=mc.classification,
        reason=mc.reason,
        critical=mc.critical,
        deviation=mc.deviation,
        effect_size=mc.effect_size,
        effect_size_measure=cfg.effect_size.measure,
        groups=tuple(metric.groups),
        muted=cfg.muted,
        canary_stats=summary_stats(canary),
        baseline_stats=summary_stats(baseline),
        mann_whitney=mc.mann_whitney,
    )


def judge(
    metrics: Sequence[MetricInput],
    group_weights: Mapping[str, float] | None = None,
    thresholds: ScoreThresholds | None = None,
    *,
    rng: np.random.Generator | None = None,
) -> JudgeResult:
    """Judge one analysis step: classify every metric, score the unmuted ones, classify the
    score. Muted metrics are classified and reported but never scored."""
    results = tuple(judge_metric(m, rng=rng) for m in metrics)
    scored = score_metrics([r for r in results if not r.muted], group_weights)
    return JudgeResult(
        judge_name=JUDGE_NAME,
        score=scored.summary_score,
        verdict=classify_score(scored.summary_score, thresholds),
        reason=scored.reason,
        metric_results=results,
        group_scores=scored.group_scores,
    )


# --------------------------------------------------------------------------------------------
# Argo Rollouts and Flagger gate rules
# --------------------------------------------------------------------------------------------

ARGO_DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4


def argo_measurement_phase(
    success_condition: str, failure_condition: str, evaluate: Callable[[str], bool]
) -> str:
    """Argo Rollouts ``evaluate.EvaluateResult``: the phase of one measurement.

    ``evaluate`` decides a non-empty condition; an exception from it yields ``Error``. Empty
    conditions: none at all -> Successful; only a success condition -> Failed when it is false;
    only a failure condition -> Successful when it is false. Failure wins over success; neither
    -> Inconclusive.
    """
    success = failure = False
    try:
        if success_condition:
            success = evaluate(success_condition)
        if failure_condition:
            failure = evaluate(failure_condition)
    except Exception:
        return "Error"
    if not success_condition and not failure_condition:
        return "Successful"
    if success_condition and not failure_condition:
        failure = not success
    elif failure_condition and not success_condition:
        success = not failure
    if failure:
        return "Failed"
    if not success:
        return "Inconclusive"
    return "Successful"


def argo_metric_phase(
    *,
    measurements: int,
    failed: int = 0,
    inconclusive: int = 0,
    consecutive_errors: int = 0,
    failure_limit: int = 0,
    inconclusive_limit: int = 0,
    consecutive_error_limit: int = ARGO_DEFAULT_CONSECUTIVE_ERROR_LIMIT,
    count: int | None = None,
    terminating: bool = False,
    last_in_flight: bool = False,
) -> str:
    """Argo Rollouts ``analysis.assessMetricStatus``: limits are exceeded only when strictly
    greater (``failureLimit: 3`` tolerates 3 failed measurements, the 4th fails)."""
    if measurements == 0:
        return "Successful" if terminating else "Pending"
    if last_in_flight:
        return "Running"
    if failed > failure_limit:
        return "Failed"
    if inconclusive > inconclusive_limit:
        return "Inconclusive"
    if consecutive_errors > consecutive_error_limit:
        return "Error"
    if count is not None and measurements >= count:
        return "Successful"
    if terminating:
        return "Successful"
    return "Running"


def flagger_min_promotion_time(
    interval: timedelta,
    *,
    max_weight: float | None = None,
    step_weight: float | None = None,
    iterations: int | None = None,
) -> timedelta:
    """Flagger: canary ``interval * (maxWeight / stepWeight)``; A/B and blue/green
    ``interval * iterations``."""
    if iterations is not None:
        return interval * iterations
    if max_weight is None or step_weight is None or step_weight <= 0:
        raise ValueError("need iterations, or max_weight and a positive step_weight")
    return interval * (max_weight / step_weight)


def flagger_time_to_rollback(interval: timedelta, threshold: int) -> timedelta:
    """Flagger: failed checks reach ``threshold`` after ``interval * threshold``."""
    return interval * threshold
