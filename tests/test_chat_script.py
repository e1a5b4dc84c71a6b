"""`shipmate chat --script` end to end, as a newcomer would run it (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPMATE = Path(sys.executable).with_name("shipmate")


def _chat(home: Path, script: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SHIPMATE_HOME": str(home),
        "SHIPMATE_SANDBOX_STEP_SECONDS": "0",
        "SHIPMATE_INCIDENT_ARCHIVE_AFTER_SECONDS": "0",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [str(SHIPMATE), "chat", "--script", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_script_tells_the_whole_story(tmp_path: Path) -> None:
    result = _chat(tmp_path / "home", ROOT / "examples" / "demo.txt")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    # staging straight through
    assert "checkout in staging is on 1.5.0" in out
    # prod waits, the requester is refused, another on-call approves
    assert "Approval needed (1 of 1)" in out
    assert "alice may not approve" in out and "cannot approve their own action" in out
    assert "approved by bob" in out
    assert "checkout in production is on 1.5.0" in out
    # freeze window denial, with the window
    assert "Denied by policy" in out and "FRZ-112" in out
    audit = subprocess.run(
        [str(SHIPMATE), "audit", "verify"],
        capture_output=True,
        text=True,
        env={**os.environ, "SHIPMATE_HOME": str(tmp_path / "home")},
        timeout=60,
    )
    assert audit.returncode == 0, audit.stderr


def test_bad_version_fails_and_rolls_back_exit_1(tmp_path: Path) -> None:
    result = _chat(tmp_path / "home", ROOT / "examples" / "bad-version.txt")
    out = result.stdout
    assert result.returncode == 1, out
    assert "Failed and rolled back: 2.4.0 failed its health check" in out
    assert "cart in staging is back on 2.3.1" in out
    assert "Roll cart back 2.3.2 -> 2.3.1 in staging" in out


def test_bad_input_gets_usage_and_exit_1(tmp_path: Path) -> None:
    result = _chat(tmp_path / "home", ROOT / "examples" / "bad-input.txt")
    out = result.stdout
    assert result.returncode == 1
    assert out.count("✖") == 5, out
    assert "Missing version. Usage: /deploy <service> <version>" in out
    assert "Unknown service 'nosuch'" in out
    assert "Unknown command /launch" in out


def test_unknown_user_switch_is_an_error(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("/as zed\n/status\n")
    result = _chat(tmp_path / "home", script)
    assert result.returncode == 1
    assert "Unknown user 'zed'" in result.stdout


def test_missing_script_file(tmp_path: Path) -> None:
    result = _chat(tmp_path / "home", tmp_path / "nope.txt")
    assert result.returncode == 2
    assert "No such script" in result.stderr


def test_progressive_script_judges_aborts_and_switches(tmp_path: Path) -> None:
    result = _chat(tmp_path / "home", ROOT / "examples" / "progressive.txt")
    out = result.stdout
    assert result.returncode == 1, out  # the aborted canary is an error reply
    assert "Canary verdict at 10%: score 0/100, fail." in out
    assert "success_rate: Low, effect size" in out
    assert "Policy allows the automatic deploy.abort" in out
    assert "search in staging is back on 0.9.3" in out
    assert "Switched traffic to green (2.1.1)" in out
    assert "Done: search in staging is on 2.1.1 (rollback window passed)" in out


def test_incident_script_runs_the_whole_loop(tmp_path: Path) -> None:
    result = _chat(tmp_path / "home", ROOT / "examples" / "incident.txt")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "INC-1 declared: war room #inc-" in out
    assert "Dry run of rollback-last-deploy" in out and "<now.previous_version>" in out
    assert "Runbook restart-deployment finished: 3 step(s) done, 0 skipped." in out
    assert "Timeline of INC-1" in out and "[runbook] 2. Rolling restart of checkout" in out
    assert "archived" in out
