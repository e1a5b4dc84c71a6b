"""`shipmate policy test` and `shipmate policy eval`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SHIPMATE = Path(sys.executable).with_name("shipmate")


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHIPMATE_HOME": str(tmp_path / "home")}
    return subprocess.run(
        [str(SHIPMATE), "policy", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_policy_test_passes_on_shipped_cases(tmp_path: Path) -> None:
    result = _run(tmp_path, "test")
    assert result.returncode == 0, result.stdout
    assert " 0 failed" in result.stdout


def test_policy_test_reports_a_failing_case(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "wrong.yaml").write_text(
        "- name: staging is wrongly expected to be denied\n"
        "  input:\n"
        "    action: {name: deploy.rollout, params: {service: cart, environment: staging}}\n"
        "    requester: {name: alice, roles: [deployer]}\n"
        '    now: "2026-12-01T10:00:00Z"\n'
        "  expect: {verdict: deny}\n"
    )
    result = _run(tmp_path, "test", "--cases", str(cases))
    assert result.returncode == 1
    assert "FAIL wrong.yaml" in result.stdout and "verdict: want deny, got allow" in result.stdout


def test_policy_eval_prints_the_decision(tmp_path: Path) -> None:
    doc = tmp_path / "in.json"
    doc.write_text(json.dumps({"service": "ledger", "environment": "production"}))
    denied = _run(
        tmp_path, "eval", "--input", str(doc), "--action", "deploy.rollout", "--user", "carol"
    )
    assert denied.returncode == 1
    decision = json.loads(denied.stdout)
    assert decision["verdict"] == "deny"
    assert sorted(decision["rules"]) == ["deploy.freeze_window", "deploy.requester_not_deployer"]
    undefined = _run(tmp_path, "eval", "--input", str(doc), "--action", "nothing.here")
    assert undefined.returncode == 1 and "undefined" in undefined.stdout
    missing = _run(tmp_path, "eval", "--input", str(doc))
    assert missing.returncode == 2 and "--action" in missing.stderr


def test_policy_eval_is_audited(tmp_path: Path) -> None:
    from bot.events import EventLog
    from bot.gate.audit import AuditLog
    from bot.store import Store

    doc = tmp_path / "in.json"
    doc.write_text(json.dumps({"service": "cart", "environment": "staging"}))
    assert _run(tmp_path, "eval", "--input", str(doc), "--action", "deploy.rollout").returncode == 0
    store = Store(tmp_path / "home" / "shipmate.db")
    records = list(AuditLog(store).records())
    assert [r.kind for r in records] == ["decision"] and records[0].door == "cli"
    assert [e.type for e in EventLog(store).read("compliance")] == ["policy.evaluated"]


def test_chat_refuses_a_broken_policy_clearly(tmp_path: Path) -> None:
    import shutil

    from bot.paths import policies_dir

    folder = tmp_path / "policies"
    shutil.copytree(policies_dir(), folder)
    (folder / "deploy.rego").write_text("package shipmate.deploy\n\nx := \n")
    script = tmp_path / "s.txt"
    script.write_text("/status\n")
    env = {
        **os.environ,
        "SHIPMATE_HOME": str(tmp_path / "home"),
        "SHIPMATE_POLICY_DIR": str(folder),
    }
    result = subprocess.run(
        [str(SHIPMATE), "chat", "--script", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "policy does not load" in result.stderr and "deploy.rego:" in result.stderr
    assert "Traceback" not in result.stderr
