"""The learner: features, the documented outcome model, the gymnasium environment, training,
the shipped model against every baseline on held-out data, suggestions, shadow scoring,
retraining that promotes only a better model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from learner import simulator as sim
from learner.evaluate import evaluate
from learner.features import FEATURE_NAMES, DeployFeatures, vectorize
from learner.history import records
from learner.model import SHIPPED, LearnedSuggester, load_suggester
from learner.policy_net import PolicyNet
from learner.retrain import retrain
from learner.scorecard import scorecard
from learner.suggest import DeployContext
from learner.train import train
from tests.conftest import Harness

SHIPMATE = Path(sys.executable).with_name("shipmate")


def test_vector_matches_names_and_marks_missing() -> None:
    full = DeployFeatures(
        tier=1,
        dependents=3,
        change_lines=100,
        change_files=4,
        migrations=0,
        hours_since_last_deploy=5,
        recent_failure_rate=0.1,
        recent_incidents=0,
        tests_passed=True,
        coverage_delta=0.5,
        hour=9,
        weekday=2,
        traffic=1.0,
        freeze_near=False,
    )
    empty = DeployFeatures(tier=1)
    x, y = vectorize(full), vectorize(empty)
    assert x.shape == y.shape == (len(FEATURE_NAMES),)
    missing = [i for i, n in enumerate(FEATURE_NAMES) if n.endswith("_missing")]
    assert x[missing].sum() == 0
    assert y[missing].sum() == len(missing)


def test_outcome_model_follows_its_assumptions() -> None:
    base = DeployFeatures(
        tier=2, change_lines=50, tests_passed=True, weekday=1, hour=10, recent_failure_rate=0.0
    )
    p = sim.failure_probability
    assert p(base.model_copy(update={"change_lines": 2000})) > p(base)
    assert p(base.model_copy(update={"tests_passed": False})) > p(base)
    assert p(base.model_copy(update={"coverage_delta": -5.0})) > p(base)
    assert p(base.model_copy(update={"weekday": 4, "hour": 18})) > p(base)
    assert p(base.model_copy(update={"recent_failure_rate": 0.5})) > p(base)
    # Longer windows catch more at the same step; blast radius grows with the tier.
    short, long = (
        sim.STRATEGIES[sim.NAMES.index("canary_small_short")],
        sim.STRATEGIES[sim.NAMES.index("canary_small_long")],
    )
    low = base.model_copy(update={"traffic": 0.2})
    assert sim.shipped_impact(long, low) < sim.shipped_impact(short, low)
    assert sim.blast_radius(base.model_copy(update={"tier": 1})) > sim.blast_radius(base)
    # Change failure rates in the range DORA reports (elite ~5 %, low performers ~30 %+).
    contexts = sim.generate_contexts(3000, 3)
    cfr = np.mean([p(f) for f in contexts])
    assert 0.05 < cfr < 0.3
    shifted = np.mean([p(f) for f in sim.generate_contexts(3000, 3, shift=True)])
    assert shifted > cfr


def test_environment_passes_gymnasiums_checker() -> None:
    from gymnasium.utils.env_checker import check_env

    from learner.env import DeployEnv

    env = DeployEnv(n=200, seed=1)
    check_env(env, skip_render_check=True)
    env.reset(seed=3)
    _, reward, terminated, _, info = env.step(np.int64(0))
    assert terminated and reward == pytest.approx(-info["cost"] * 0.1)


def test_training_is_deterministic_and_exports_numpy(tmp_path: Path) -> None:
    a = train(tmp_path / "a", steps=2048, seed=3, version="t")
    train(tmp_path / "b", steps=2048, seed=3, version="t")
    net_a, net_b = PolicyNet.load(tmp_path / "a"), PolicyNet.load(tmp_path / "b")
    for (wa, ba), (wb, bb) in zip(net_a.layers, net_b.layers, strict=True):
        assert np.array_equal(wa, wb) and np.array_equal(ba, bb)
    assert a["model_bytes"] < 200_000 and (tmp_path / "a" / "report.json").is_file()
    assert net_a.meta["strategies"] == list(sim.NAMES)


@pytest.fixture(scope="module")
def held_out() -> dict[str, object]:
    return evaluate(SHIPPED, n=2000)


def test_shipped_model_beats_the_baselines_on_held_out_data(held_out: dict[str, object]) -> None:
    summary = held_out["summary"]  # type: ignore[index]
    assert summary["learned_vs_best_fixed"] >= 0.25, summary
    assert summary["learned_vs_oracle"] <= 0.10, summary
    assert summary["learned_vs_bandit"] > 0, summary
    policies = held_out["policies"]  # type: ignore[index]
    for name in (
        "learned",
        "best_fixed",
        "bandit",
        "oracle",
        "always_rolling",
        "always_canary",
        "rule_of_thumb",
    ):
        row = policies[name]
        assert row["ci_low"] <= row["mean_cost"] <= row["ci_high"]


def test_suggestion_says_what_and_why() -> None:
    suggester = load_suggester()
    assert isinstance(suggester, LearnedSuggester)
    risky = DeployFeatures(tier=1, change_lines=1240, weekday=4, hour=17, traffic=1.3)
    s = suggester.suggest(
        DeployContext(
            service="checkout",
            environment="production",
            tier=1,
            from_version="1",
            to_version="2",
            features=risky,
        )
    )
    assert s.strategy in sim.NAMES and s.deploy_strategy in {
        "rolling",
        "canary",
        "bluegreen",
        "hold",
    }
    assert 0 < s.confidence <= 1 and 1 <= len(s.reasons) <= 3
    assert len(s.alternatives) == 2 and s.expected_cost is not None
    assert "tier-1" in " ".join(s.reasons)
    other = "rolling" if s.deploy_strategy != "rolling" else "canary"
    assert f"You chose {other}" in s.sentence(chosen=other)
    trivial = DeployFeatures(tier=3, change_lines=8, tests_passed=True, weekday=1, hour=10)
    t = suggester.suggest(
        DeployContext(
            service="docs",
            environment="production",
            tier=3,
            from_version="1",
            to_version="2",
            features=trivial,
        )
    )
    assert t.deploy_strategy == "rolling"


def test_the_bot_does_not_import_torch() -> None:
    code = (
        "import sys; from bot.compose import build; from bot.settings import Settings; "
        "import tempfile, pathlib; build(Settings(home=pathlib.Path(tempfile.mkdtemp())));"
        " print('torch' in sys.modules, 'stable_baselines3' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False False"


async def test_history_and_scorecard_from_real_deploys(harness: Harness) -> None:
    await harness.say("alice", "/deploy cart 2.4.0 to staging")
    await harness.say("alice", "/deploy search 1.0.0 to staging --strategy canary")
    await harness.say("alice", "/deploy ledger 3.2.0 to production")  # denied: not in history
    history = records((e.type, e.data) for e in harness.app.events.read())
    assert sorted(r.service for r in history) == ["cart", "search"]
    assert all(r.outcome == "success" and r.suggested for r in history)
    assert {r.chosen for r in history} == {"rolling", "canary"}
    card = scorecard(history)
    assert card["deploys"] == 2 and set(card["services"]) == {"cart", "search"}
    agree = sum(r.suggested_deploy == r.chosen for r in history) / 2
    assert card["agreement"] == agree


def test_retrain_promotes_only_a_better_model(tmp_path: Path) -> None:
    home = tmp_path / "home"
    weak = home / "learner" / "current"
    train(weak, steps=256, seed=5, version="weak")  # barely trained: the model in use
    report = retrain(home, [], steps=4096)
    assert report["promoted"] is True, report
    assert PolicyNet.load(weak).meta["version"] == report["candidate"]
    again = retrain(home, [], steps=256)  # a weaker candidate is not promoted
    assert again["promoted"] is False
    assert PolicyNet.load(weak).meta["version"] == report["candidate"]


def test_evaluate_json_contract(tmp_path: Path) -> None:
    env = {**os.environ, "SHIPMATE_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [
            str(SHIPMATE),
            "learner",
            "evaluate",
            "--json",
            "--n",
            "300",
            "--plot",
            str(tmp_path / "e.png"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for name in ("learned", "best_fixed", "bandit", "oracle"):
        assert {"mean_cost", "ci_low", "ci_high"} <= set(result["policies"][name])
    assert (tmp_path / "e.png").stat().st_size > 1000
