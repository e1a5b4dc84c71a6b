"""The import-linter contracts hold, and they do catch a skill that reaches for a tool."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    assert LINT.exists(), f"lint-imports is not installed next to {sys.executable}"
    return subprocess.run(
        [str(LINT), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_contracts_are_kept() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _copy_tree(tmp: Path) -> None:
    for pkg in ("bot", "skills", "tools", "learner"):
        shutil.copytree(ROOT / pkg, tmp / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")


def test_a_skill_importing_a_tool_breaks_the_contract(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    (tmp_path / "skills" / "sneaky.py").write_text("from tools.sandbox.fleet import SandboxFleet\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "skills.sneaky -> tools.sandbox.fleet" in result.stdout


def test_a_skill_importing_subprocess_breaks_the_contract(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    (tmp_path / "skills" / "shell.py").write_text("import subprocess\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "skills.shell -> subprocess" in result.stdout
