"""A non-editable install ships the policies and runbooks as data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_carries_policies_and_runbooks(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("shipmate-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "bot/_bundled/policies/deploy.rego",
        "bot/_bundled/policies/data/team.yaml",
        "bot/_bundled/policies/tests/deploy.yaml",
        "bot/_bundled/runbooks/README.md",
        "tools/sandbox/fleet.yaml",
        "skills/deploy.py",
        "learner/suggest.py",
    ):
        assert needed in names, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "shipmate = bot.cli:app" in zipfile.ZipFile(wheel).read(entry).decode()
