"""The Kayenta NetflixACAJudge-v1.0 port against upstream test vectors (tests/data/canary)."""

from __future__ import annotations

import json
import math
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm

from bot.canary.judge import (
    ARGO_DEFAULT_CONSECUTIVE_ERROR_LIMIT,
    DEFAULT_OUTLIER_FACTOR,
    JUDGE_CONFIDENCE_LEVEL,
    JUDGE_NAME,
    JUDGE_TOLERANCE,
    NODATA_THRESHOLD,
    ZEROIN_EPSILON,
    ZEROIN_MAX_ITERATIONS,
    ZEROIN_TOLERANCE,
    CanaryMetricConfig,
    Classification,
    ClassifierParams,
    Direction,
    EffectSizeConfig,
    EffectSizeMeasure,
    MetricInput,
    NanStrategy,
    OutlierStrategy,
    ScoredMetric,
    ScoreThresholds,
    Verdict,
    argo_measurement_phase,
    argo_metric_phase,
    classify_mean_inequality,
    classify_metric,
    classify_score,
    clean_metric,
    cohen_d,
    effect_size,
    final_score_message,
    flagger_min_promotion_time,
    flagger_time_to_rollback,
    iqr_fences,
    iqr_outliers,
    judge,
    ksigma_outliers,
    mann_whitney,
    percentile,
    remove_nans,
    remove_outliers,
    replace_nans,
    round_score,
    score_metrics,
    summary_stats,
    wilcoxon_diff,
    zeroin,
)

DATA = Path(__file__).parent / "data" / "canary"
E = 1e-6  # the Scala suites' absolute tolerance


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def floats(values: list[Any]) -> list[float]:
    return [float(v) for v in values]  # float("NaN") -> nan


ALGORITHM = load("kayenta_judge_algorithm.json")
CLASSIFIER = load("kayenta_classifier_cases.json")
MANN_WHITNEY = load("kayenta_mannwhitney_known_answers.json")
SCORER = load("kayenta_scorer_cases.json")
STATS = load("kayenta_stats_detector_cases.json")
INTEGRATION = load("kayenta_integration_scenarios.json")
GATES = load("argo_rollouts_flagger_rules.json")


def by_name(cases: list[dict[str, Any]], key: str = "name") -> list[Any]:
    return [pytest.param(c, id=str(c.get(key, i))) for i, c in enumerate(cases)]


# ------------------------------------------------------------------------------------------
# Algorithm constants
# ------------------------------------------------------------------------------------------


def test_constants_match_the_algorithm_summary() -> None:
    assert ALGORITHM["judge_name"] == JUDGE_NAME
    used = ALGORITHM["classifier_as_used_by_judge"]
    assert used["tolerance"] == JUDGE_TOLERANCE
    assert used["confLevel"] == JUDGE_CONFIDENCE_LEVEL
    defaults = ALGORITHM["per_metric_config_defaults (analysisConfigurations.canary.*)"]
    assert defaults["outliers.outlierFactor"] == DEFAULT_OUTLIER_FACTOR
    assert "NODATA_THRESHOLD=50" in ALGORITHM["scoring"]["overrides"][1]
    assert NODATA_THRESHOLD == 50.0
    caveat = MANN_WHITNEY["_meta"]["root_finder_caveat"]
    assert "TOLERANCE=1E-4" in caveat and ZEROIN_TOLERANCE == 1e-4
    assert "EPSILON=2.22e-16" in caveat and sys.float_info.epsilon == ZEROIN_EPSILON
    assert pytest.approx(2.22e-16, rel=1e-3) == ZEROIN_EPSILON
    assert "MAX_ITERATIONS=1000" in caveat and ZEROIN_MAX_ITERATIONS == 1000


def test_config_defaults_and_parsing() -> None:
    cfg = CanaryMetricConfig.from_analysis_configurations({"canary": {}})
    assert cfg == CanaryMetricConfig()
    assert cfg.direction is Direction.EITHER
    assert cfg.nan_strategy is NanStrategy.REMOVE  # code default "none" parses to Remove
    assert cfg.outlier_strategy is OutlierStrategy.KEEP
    assert cfg.effect_size.thresholds == (1.0, 1.0)
    assert EffectSizeConfig(measure=EffectSizeMeasure.CLES).critical_thresholds == (0.5, 0.5)
    example = ALGORITHM["per_metric_config_defaults (analysisConfigurations.canary.*)"][
        "docs example values"
    ]
    parsed = CanaryMetricConfig.from_analysis_configurations(
        {
            "canary": {
                "direction": "sideways",
                "nanStrategy": "replace",
                "outliers": {"strategy": "remove", "outlierFactor": 2.0},
                "critical": True,
                "mustHaveData": True,
                "muted": True,
                "effectSize": {"measure": "meanRatio", **example},
            }
        }
    )
    assert parsed.direction is Direction.EITHER  # unknown -> either
    assert parsed.nan_strategy is NanStrategy.REPLACE
    assert parsed.outlier_strategy is OutlierStrategy.REMOVE and parsed.outlier_factor == 2.0
    assert parsed.critical and parsed.must_have_data and parsed.muted
    assert parsed.effect_size.thresholds == (0.9, 1.1)
    assert parsed.effect_size.critical_thresholds == (0.5, 5.0)


# ------------------------------------------------------------------------------------------
# Mann-Whitney known answers
# ------------------------------------------------------------------------------------------


def _mw_actual(case: dict[str, Any], expr: str) -> float:
    level = float(case["confidence_level"])
    x = case.get("experiment") or case.get("experimentData") or case.get("x")
    y = case.get("control") or case.get("controlData") or case.get("y")
    call = re.fullmatch(r"wilcoxonDiff\(mu=([-\d.]+), quantile=([-\d.]+), x, y\)", expr)
    if call:
        assert x is not None and y is not None
        return wilcoxon_diff(float(call[1]), float(call[2]), x, y)
    if expr == "NormalDistribution(0,1).inverseCumulativeProbability(0.02/2)":
        return float(norm.ppf(0.02 / 2))
    assert x is not None and y is not None
    result = mann_whitney(x, y, level)
    alpha = 1.0 - level
    mu_min, mu_max = min(x) - max(y), max(x) - min(y)
    zq_lower, zq_upper = -float(norm.ppf(alpha / 2)), float(norm.ppf(alpha / 2))
    values = {
        "result.confidenceInterval.head": result.lower_confidence,
        "result.confidenceInterval.last": result.upper_confidence,
        "result.estimate": result.estimate,
        "muMin": mu_min,
        "muMax": mu_max,
        "zqLower": zq_lower,
        "zqUpper": zq_upper,
        "fLower1": wilcoxon_diff(mu_min, zq_lower, x, y),
        "fUpper1": wilcoxon_diff(mu_max, zq_lower, x, y),
        "fLower2": wilcoxon_diff(mu_min, zq_upper, x, y),
        "fUpper2": wilcoxon_diff(mu_max, zq_upper, x, y),
        "ciLower": result.lower_confidence,  # root at zq = +1.96
        "ciUpper": result.upper_confidence,  # root at zq = -1.96
        "estimate": result.estimate,
    }
    return values[expr]


@pytest.mark.parametrize("case", by_name(MANN_WHITNEY["cases"]))
def test_mann_whitney_known_answers(case: dict[str, Any]) -> None:
    refs = case.get("r_reference_values", {})
    assert case["asserts"]
    for check in case["asserts"]:
        expected_text = check["expected"]
        expected = float(refs[expected_text]) if expected_text in refs else float(expected_text)
        tol = E if check["tolerance"] == "E" else float(check["tolerance"])
        actual = _mw_actual(case, check["actual_expr"])
        assert actual == pytest.approx(expected, abs=tol), check["actual_expr"]


@pytest.mark.parametrize(
    "case",
    by_name([c for c in MANN_WHITNEY["cases"] if "Tie out with R Version" in c["name"]]),
)
def test_mann_whitney_r_semantics_estimate_is_exact(case: dict[str, Any]) -> None:
    """R's wilcox.test drops the continuity correction for the estimate; so does
    estimate_correction=False, matching R to 1e-6 (Kayenta keeps it: within 1e-4)."""
    refs = case["r_reference_values"]
    r = mann_whitney(
        case["experiment"], case["control"], case["confidence_level"], estimate_correction=False
    )
    assert r.lower_confidence == pytest.approx(refs["rCiLow"], abs=E)
    assert r.upper_confidence == pytest.approx(refs["rCiHigh"], abs=E)
    assert r.estimate == pytest.approx(refs["rEst"], abs=E)


def test_zeroin_stops_at_r_tolerance() -> None:
    root = zeroin(lambda v: v * v - 2.0, 0.0, 2.0, -2.0, 2.0)
    assert abs(root - math.sqrt(2.0)) < ZEROIN_TOLERANCE
    assert zeroin(lambda v: v, 0.0, 1.0, 0.0, 1.0) == 0.0  # root at an endpoint


# ------------------------------------------------------------------------------------------
# Metric classifier
# ------------------------------------------------------------------------------------------


def _params(raw: dict[str, Any]) -> ClassifierParams:
    kw: dict[str, Any] = {}
    if "tolerance" in raw:
        kw["tolerance"] = float(raw["tolerance"])
    if "confLevel" in raw:
        kw["confidence_level"] = float(raw["confLevel"])
    if "effectSizeThresholds" in raw:
        kw["effect_size_thresholds"] = tuple(floats(raw["effectSizeThresholds"]))
    if "criticalThresholds" in raw:
        kw["critical_thresholds"] = tuple(floats(raw["criticalThresholds"]))
    if "effectSizeMeasure" in raw:
        kw["effect_size_measure"] = EffectSizeMeasure.parse(raw["effectSizeMeasure"])
    return ClassifierParams(**kw)


@pytest.mark.parametrize("case", by_name(CLASSIFIER["cases"]))
def test_classifier_cases(case: dict[str, Any]) -> None:
    direction = Direction.parse(case["direction"])
    nan_strategy = NanStrategy.parse(case["nan_strategy"].split()[0])
    canary, baseline = floats(case["experiment_canary"]), floats(case["control_baseline"])
    if case["classifier"] == "MeanInequalityClassifier":
        result = classify_mean_inequality(
            canary, baseline, direction=direction, critical=case["is_critical_metric"]
        )
    else:
        assert case["classifier"] == "MannWhitneyClassifier"
        result = classify_metric(
            canary,
            baseline,
            _params(case["params"]),
            direction=direction,
            nan_strategy=nan_strategy,
            critical=case["is_critical_metric"],
            name=case["metric_name"],
        )
    expected = case["expected"]
    assert expected
    if "classification" in expected:
        assert result.classification.value == expected["classification"]
    if "critical" in expected:
        assert result.critical is expected["critical"]
    if "deviation" in expected:
        if expected["deviation"] == "NaN":
            assert math.isnan(result.deviation)
        else:
            assert result.deviation == pytest.approx(float(expected["deviation"]))
    if expected.get("reason_nonempty"):
        assert result.reason


TIED_RANKS = [c for c in CLASSIFIER["cases"] if c["name"].startswith("Mann-Whitney Tied Ranks")]


@pytest.mark.parametrize("case", by_name(TIED_RANKS))
@pytest.mark.parametrize("seed", range(25))
def test_tied_ranks_outcome_does_not_depend_on_the_noise(case: dict[str, Any], seed: int) -> None:
    """Kayenta's noise (stdev value*1e-5) is random; the verdict must not depend on the draw."""
    result = classify_metric(
        case["experiment_canary"],
        case["control_baseline"],
        _params(case["params"]),
        rng=np.random.default_rng(seed),
    )
    assert result.classification.value == case["expected"]["classification"]
    assert result.mann_whitney is not None
    assert result.mann_whitney.lower_confidence > 0.0


def test_nodata_must_have_data_and_error() -> None:
    fail = classify_metric([], [1.0, 2.0], must_have_data=True, name="m")
    assert fail.classification is Classification.NODATA_FAIL_METRIC
    assert fail.reason == "Missing data for m" and not fail.critical
    critical = classify_metric([], [1.0], must_have_data=True, critical=True)
    assert critical.classification is Classification.NODATA and critical.critical


# ------------------------------------------------------------------------------------------
# Statistics, detectors, transforms, effect sizes
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", by_name(STATS["outlier_cases"]))
def test_outlier_detectors(case: dict[str, Any]) -> None:
    data = floats(case["data"])
    if case["detector"] == "KSigma":
        flags = ksigma_outliers(data, case["k"])
    else:
        assert case["detector"] == "IQR"
        flags = iqr_outliers(
            data, case["factor"], reduce_sensitivity=case.get("reduceSensitivity", False)
        )
    assert flags.tolist() == case["expected_outlier"]


def test_iqr_reduce_sensitivity_doc_example() -> None:
    """docs: Q1=50ms, Q3=100ms, factor 3 -> fences -100ms and 250ms."""
    data = [0.0, 50.0, 75.0, 100.0, 150.0]
    assert (percentile(data, 25), percentile(data, 75)) == (50.0, 100.0)
    assert iqr_fences(data, 3.0) == (-100.0, 250.0)
    assert iqr_fences(data, 3.0, reduce_sensitivity=True) == (-100.0, 250.0)
    # With a zero IQR the 1st/99th percentiles widen the fences instead.
    tight = [10.0] * 20 + [11.0, 12.0]
    assert iqr_fences(tight, 3.0) == (10.0, 10.0)
    assert iqr_fences(tight, 3.0, reduce_sensitivity=True) == pytest.approx((10.0, 11.79))
    assert iqr_outliers(tight, 3.0).tolist() == [False] * 20 + [True, True]
    assert iqr_outliers(tight, 3.0, reduce_sensitivity=True).tolist() == [False] * 21 + [True]


@pytest.mark.parametrize("case", by_name(STATS["percentile_cases"], key="p"))
def test_percentile(case: dict[str, Any]) -> None:
    tol = case.get("tol", 1e-9)
    assert percentile(case["data"], case["p"]) == pytest.approx(case["expected"], abs=tol)


@pytest.mark.parametrize("case", by_name(STATS["summary_stats_cases"], key="expected"))
def test_summary_stats(case: dict[str, Any]) -> None:
    stats, expected = summary_stats(case["data"]), case["expected"]
    assert stats.count == expected["count"]
    assert stats.min == expected["min"] and stats.max == expected["max"]
    assert stats.mean == pytest.approx(expected["mean"])
    assert stats.std == pytest.approx(expected["std"], abs=expected.get("std_tol", 1e-12))


@pytest.mark.parametrize("case", by_name(STATS["effect_size_cases"], key="measure"))
def test_effect_sizes(case: dict[str, Any]) -> None:
    if case["measure"] == "cohenD":
        actual = cohen_d(case["a"], case["b"])
    else:
        actual = effect_size(
            EffectSizeMeasure.parse(case["measure"]), case["canary"], case["baseline"]
        )
    if case["expected"] == "NaN":
        assert math.isnan(actual)
    else:
        assert actual == pytest.approx(float(case["expected"]), abs=case.get("tol", 1e-9))


@pytest.mark.parametrize("case", by_name(STATS["transform_cases"], key="op"))
def test_transforms(case: dict[str, Any]) -> None:
    data = floats(case["data"])
    if case["op"] == "removeNaNs":
        actual = remove_nans(data)
    elif case["op"] == "replaceNaNs(0.0)":
        actual = replace_nans(data, 0.0)
    else:
        assert case["op"] == "removeOutliers(IQR 1.5)"
        actual = remove_outliers(data, 1.5)
    assert actual.tolist() == floats(case["expected"])


# ------------------------------------------------------------------------------------------
# Scorer and score classifier
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", by_name(SCORER["cases"]))
def test_weighted_sum_scorer(case: dict[str, Any]) -> None:
    metrics = [
        ScoredMetric(
            m["name"], Classification(m["classification"]), m["critical"], tuple(m["groups"])
        )
        for m in case["metric_results"]
    ]
    result = score_metrics(metrics, case["group_weights"])
    expected = case["expected"]
    assert result.summary_score == pytest.approx(expected["summary_score"], abs=1e-9)
    assert result.num_metrics == len(metrics)
    if "group_score" in expected:
        assert [g.score for g in result.group_scores] == [expected["group_score"]]
    if "group_scores_sorted" in expected:
        assert sorted(g.score for g in result.group_scores) == expected["group_scores_sorted"]
    if expected["summary_score"] == 0.0 and any(m.critical for m in metrics):
        assert result.reason is not None and result.reason.startswith("Canary Failed")


def test_rounding_and_score_thresholds() -> None:
    assert round_score(100.0 / 3.0) == 33.33
    assert round_score(2.675) == 2.68  # half up on the decimal text, not the binary value
    assert classify_score(90.0) is Verdict.PASS
    assert classify_score(89.99) is Verdict.MARGINAL
    assert classify_score(75.0) is Verdict.MARGINAL
    assert classify_score(74.99) is Verdict.FAIL
    nine_of_ten = [ScoredMetric(f"m{i}", Classification.PASS, groups=("g",)) for i in range(9)]
    nine_of_ten.append(ScoredMetric("m9", Classification.HIGH, groups=("g",)))
    assert score_metrics(nine_of_ten).summary_score == 90.0  # the docs' 9 of 10 example


def test_nodata_fail_metric_counts_and_nodata_threshold() -> None:
    one_fail = [
        ScoredMetric("a", Classification.PASS, groups=("g",)),
        ScoredMetric("b", Classification.NODATA_FAIL_METRIC, groups=("g",)),
        ScoredMetric("c", Classification.ERROR, groups=("g",)),
    ]
    assert score_metrics(one_fail).summary_score == 50.0
    half_nodata = [
        ScoredMetric("a", Classification.PASS, groups=("g",)),
        ScoredMetric("b", Classification.NODATA, groups=("g",)),
    ]
    result = score_metrics(half_nodata)
    assert result.summary_score == 0.0 and result.reason is not None


# ------------------------------------------------------------------------------------------
# The judge
# ------------------------------------------------------------------------------------------

# Samples per scope: the integration test generates a 1-minute lifetime; we draw one value per
# second (60) uniformly in [lower-bound, upper-bound]. Fixed seeds keep the test deterministic.
SAMPLES_PER_SCOPE = 60
SEEDS = range(20)


def _scenario_inputs(case: dict[str, Any], seed: int) -> tuple[list[MetricInput], dict[str, Any]]:
    config = INTEGRATION["canary_configs"][case["config"]]
    rng = np.random.default_rng(seed)
    inputs = []
    for i, metric in enumerate(config["metrics"]):
        control = case["spec"]["control"]["metrics"][i]
        experiment = case["spec"]["experiment"]["metrics"][i]
        inputs.append(
            MetricInput(
                name=metric["name"],
                canary=rng.uniform(
                    experiment["lower-bound"], experiment["upper-bound"], SAMPLES_PER_SCOPE
                ),
                baseline=rng.uniform(
                    control["lower-bound"], control["upper-bound"], SAMPLES_PER_SCOPE
                ),
                groups=tuple(metric["groups"]),
                config=CanaryMetricConfig.from_analysis_configurations(
                    metric["analysisConfigurations"]
                ),
            )
        )
    return inputs, config


@pytest.mark.parametrize("case", by_name(INTEGRATION["cases"], key="case"))
@pytest.mark.parametrize("seed", SEEDS)
def test_integration_scenarios(case: dict[str, Any], seed: int) -> None:
    inputs, config = _scenario_inputs(case, seed)
    raw = config["classifier"]["scoreThresholds"]
    thresholds = ScoreThresholds(pass_score=raw["pass"], marginal_score=raw["marginal"])
    result = judge(inputs, config["classifier"]["groupWeights"], thresholds)
    expected = case["expected"]
    assert result.judge_name == JUDGE_NAME
    for name, label in expected["metric_classification"].items():
        assert result.metric(name).classification.value == label
    assert (result.verdict is Verdict.PASS) is expected["didPassThresholds"]
    if "canaryScoreMessage" in expected:
        assert final_score_message(result.score, thresholds) == expected["canaryScoreMessage"]
    if case["case"] == "muted-metric-analysis-case":
        assert result.metric("Failing metric").muted
        assert result.score == 100.0


def test_judge_cleans_data_and_weights_groups() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(100.0, 5.0, 300)
    spiky = np.concatenate((rng.normal(100.0, 5.0, 299), [1e6]))
    with_nans = base.copy()
    with_nans[::10] = np.nan
    remove = CanaryMetricConfig(outlier_strategy=OutlierStrategy.REMOVE)
    assert clean_metric(spiky, remove).size == 299
    assert clean_metric(with_nans, CanaryMetricConfig()).size == 270
    assert clean_metric(with_nans, CanaryMetricConfig(nan_strategy=NanStrategy.REPLACE)).size == 300
    metrics = [
        MetricInput("latency", spiky, base, ("perf",), remove),
        MetricInput("errors", base * 2.0, base, ("errors",), CanaryMetricConfig()),
        MetricInput("gaps", with_nans, base, ("perf",), CanaryMetricConfig()),
        MetricInput("empty", [], base, ("perf",), CanaryMetricConfig()),
    ]
    result = judge(metrics, {"errors": 40.0}, ScoreThresholds(90.0, 50.0))
    labels = {r.name: r.classification for r in result.metric_results}
    assert labels == {
        "latency": Classification.PASS,
        "errors": Classification.HIGH,
        "gaps": Classification.PASS,
        "empty": Classification.NODATA,
    }
    assert result.metric("errors").deviation == pytest.approx(2.0)
    assert result.metric("latency").canary_stats.count == 299
    assert {g.name: g.score for g in result.group_scores} == {"perf": 100.0, "errors": 0.0}
    assert result.score == 60.0 and result.verdict is Verdict.MARGINAL
    critical = [MetricInput("errors", base * 2.0, base, ("e",), CanaryMetricConfig(critical=True))]
    failed = judge(critical)
    assert failed.score == 0.0 and failed.verdict is Verdict.FAIL and failed.reason


# ------------------------------------------------------------------------------------------
# Argo Rollouts and Flagger gate rules
# ------------------------------------------------------------------------------------------


def _literal(expr: str) -> bool:
    """Only boolean literals; anything else is an unknown name, as expr-lang reports it."""
    if expr in ("true", "false"):
        return expr == "true"
    raise ValueError(f"unknown name {expr.split()[0]}")


@pytest.mark.parametrize(
    "case",
    by_name(
        GATES["argo_evaluate_result_cases"]["cases"],
        key="expected_phase",
    ),
)
def test_argo_evaluate_result(case: dict[str, Any]) -> None:
    phase = argo_measurement_phase(case["successCondition"], case["failureCondition"], _literal)
    assert phase == case["expected_phase"]


@pytest.mark.parametrize(
    "case", by_name(GATES["argo_assess_metric_status_rules"]["known_outcomes"], key="failureLimit")
)
def test_argo_assess_metric_status(case: dict[str, Any]) -> None:
    if "consecutiveErrorLimit" in case:
        assert case["consecutiveErrorLimit"] == f"unset ({ARGO_DEFAULT_CONSECUTIVE_ERROR_LIMIT})"
        errors = case["consecutive_errors"]
        phase = argo_metric_phase(measurements=errors, consecutive_errors=errors)
        assert phase == case["expected_metric_phase"]
        assert argo_metric_phase(measurements=4, consecutive_errors=4) == "Running"
        return
    limit, failed = case["failureLimit"], case["failed_measurements"]
    phase = argo_metric_phase(measurements=failed, failed=failed, failure_limit=limit)
    if case["expected_metric_phase"].startswith("Running"):
        assert phase == "Running"
        counted = argo_metric_phase(
            measurements=failed, failed=failed, failure_limit=limit, count=failed
        )
        assert counted == "Successful"
    else:
        assert phase == case["expected_metric_phase"]


def test_argo_metric_phase_order() -> None:
    assert argo_metric_phase(measurements=0) == "Pending"
    assert argo_metric_phase(measurements=0, terminating=True) == "Successful"
    assert argo_metric_phase(measurements=2, failed=5, last_in_flight=True) == "Running"
    assert argo_metric_phase(measurements=3, inconclusive=1) == "Inconclusive"
    assert argo_metric_phase(measurements=3, terminating=True) == "Successful"


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smh])", text)
    assert match, text
    unit = {"s": "seconds", "m": "minutes", "h": "hours"}[match[2]]
    return timedelta(**{unit: int(match[1])})


@pytest.mark.parametrize("case", by_name(GATES["flagger_timing_known_answers"], key="strategy"))
def test_flagger_timing(case: dict[str, Any]) -> None:
    interval = _duration(case["interval"])
    if case["strategy"] == "canary":
        promotion = flagger_min_promotion_time(
            interval, max_weight=case["maxWeight"], step_weight=case["stepWeight"]
        )
    else:
        promotion = flagger_min_promotion_time(interval, iterations=case["iterations"])
    assert promotion == _duration(case["expected_min_promotion_time"])
    rollback = case.get("expected_time_to_rollback") or case.get(
        "expected_time_to_rollback_derived_by_us"
    )
    if rollback is not None:
        assert flagger_time_to_rollback(interval, case["threshold"]) == _duration(rollback)
