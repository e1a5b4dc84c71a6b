"""The audit chain detects edited, deleted, reordered and truncated records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.gate.audit import AuditLog
from bot.store import Store

SHIPMATE = Path(sys.executable).with_name("shipmate")


def _fill(db: Path, n: int = 5) -> None:
    log = AuditLog(Store(db))
    for i in range(n):
        log.append(
            time=datetime(2026, 12, 1, 10, i, tzinfo=UTC),
            kind="request",
            actor="alice",
            door="test",
            correlation_id=f"r{i}",
            payload={"text": f"/status {i}"},
        )


def _sql(db: Path, statement: str) -> None:
    store = Store(db)
    with store.tx() as conn:
        conn.execute(statement)
    store.close()


def test_intact_chain_verifies(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _fill(db)
    report = AuditLog(Store(db)).verify()
    assert report.ok and report.records == 5 and report.problems == []


TAMPER: dict[str, tuple[Callable[[Path], None], str]] = {
    "edited": (lambda db: _sql(db, "UPDATE audit SET actor='mallory' WHERE seq=3"), "edited"),
    "payload": (
        lambda db: _sql(db, 'UPDATE audit SET payload=\'{"text":"x"}\' WHERE seq=2'),
        "edited",
    ),
    "deleted": (lambda db: _sql(db, "DELETE FROM audit WHERE seq=2"), "deleted"),
    "truncated": (lambda db: _sql(db, "DELETE FROM audit WHERE seq=5"), "removed from the end"),
}


@pytest.mark.parametrize("how", sorted(TAMPER))
def test_tampering_is_detected(tmp_path: Path, how: str) -> None:
    db = tmp_path / "s.db"
    _fill(db)
    tamper, needle = TAMPER[how]
    tamper(db)
    report = AuditLog(Store(db)).verify()
    assert not report.ok
    assert any(needle in p for p in report.problems), report.problems


def test_reordering_is_detected(tmp_path: Path) -> None:
    """Records 2 and 3 swap places: each keeps its content and hashes, under the other's number."""
    db = tmp_path / "s.db"
    _fill(db)
    store = Store(db)
    rows = {r["seq"]: dict(r) for r in store.query("SELECT * FROM audit")}
    with store.tx() as conn:
        for seq, other in ((2, 3), (3, 2)):
            row = {**rows[other], "seq": seq}
            conn.execute(
                "UPDATE audit SET time=:time, kind=:kind, actor=:actor, door=:door,"
                " correlation_id=:correlation_id, payload=:payload,"
                " prev_hash=:prev_hash, hash=:hash WHERE seq=:seq",
                row,
            )
    report = AuditLog(store).verify()
    assert not report.ok
    assert any("does not follow" in p for p in report.problems), report.problems


def test_cli_verify_and_export(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _fill(home / "shipmate.db")
    env = {**os.environ, "SHIPMATE_HOME": str(home)}
    ok = subprocess.run(
        [str(SHIPMATE), "audit", "verify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert "intact: 5 records" in ok.stdout
    out = tmp_path / "audit.jsonl"
    exp = subprocess.run(
        [str(SHIPMATE), "audit", "export", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert exp.returncode == 0, exp.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["seq"] for x in lines] == [1, 2, 3, 4, 5]
    _sql(home / "shipmate.db", "UPDATE audit SET kind='approval' WHERE seq=4")
    bad = subprocess.run(
        [str(SHIPMATE), "audit", "verify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    assert "record 4" in bad.stderr
