"""Where shipped data (policies, runbooks) lives: the repo copy in a checkout or an editable
install, else the copy bundled inside the wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    repo = _PKG.parent / name
    if repo.is_dir():
        return repo
    bundled = _PKG / "_bundled" / name
    if bundled.is_dir():
        return bundled
    raise FileNotFoundError(
        f"shipmate's {name}/ folder is missing (looked in {repo} and {bundled})"
    )


def policies_dir() -> Path:
    return _data_dir("policies")


def runbooks_dir() -> Path:
    return _data_dir("runbooks")
