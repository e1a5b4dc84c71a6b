"""Hot reload: edited policy and data are picked up without a restart; a broken policy file is
refused with file:line and the policy in force stays."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.gate.policy import DECISION_QUERY, PolicyError, RegorusEngine
from bot.paths import policies_dir

STAGING = {
    "action": {
        "name": "deploy.rollout",
        "params": {"service": "checkout", "environment": "staging"},
    },
    "requester": {"name": "alice", "roles": ["deployer"]},
    "now": "2026-12-01T10:00:00Z",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(policies_dir(), target)
    return target


def _bump(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    if path.stat().st_mtime_ns == before:  # coarse filesystem clocks
        import os

        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def test_data_change_is_picked_up(folder: Path) -> None:
    engine = RegorusEngine(folder, reload_interval=0)
    assert engine.evaluate_sync(DECISION_QUERY, STAGING)["allow"] is True
    services = folder / "data" / "services.yaml"
    _bump(
        services,
        services.read_text().replace(
            "checkout: {tier: 1, team: payments,", "checkout-old: {tier: 1, team: payments,"
        ),
    )
    decision = engine.evaluate_sync(DECISION_QUERY, STAGING)
    assert decision["rules"] == ["deploy.unknown_service"]


def test_broken_policy_is_refused_with_location_and_old_policy_kept(folder: Path) -> None:
    engine = RegorusEngine(folder, reload_interval=0)
    deploy = folder / "deploy.rego"
    lines = deploy.read_text().splitlines()
    lines.insert(9, "oops := )")
    _bump(deploy, "\n".join(lines) + "\n")
    decision = engine.evaluate_sync(DECISION_QUERY, STAGING)
    assert decision["allow"] is True  # the old policy is still in force
    assert engine.reload_error is not None
    assert engine.reload_error.startswith(f"{deploy}:10:")  # file:line
    with pytest.raises(PolicyError, match=r"deploy\.rego:\d+"):
        engine.reload()


def test_broken_policy_at_start_is_an_error(folder: Path) -> None:
    (folder / "extra.rego").write_text("package shipmate.extra\n\nx := \n")
    with pytest.raises(PolicyError, match=r"extra\.rego:\d+"):
        RegorusEngine(folder)
