"""The audit chain: append-only, hash-chained records of every request, decision, approval,
execution and outcome.

Each record's hash covers its content and the previous record's hash, so an edited record breaks
its own hash, a deleted or reordered one breaks the chain (and the sequence), and a truncated tail
disagrees with the head row kept beside the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from pydantic import BaseModel

from bot.redact import redact_obj
from bot.store import Store

GENESIS = "0" * 64


class AuditRecord(BaseModel):
    seq: int
    time: str
    kind: str  # request | decision | approval | execution | outcome | ...
    actor: str
    door: str
    correlation_id: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyReport(BaseModel):
    ok: bool
    records: int
    problems: list[str]


def _digest(
    prev: str, seq: int, time: str, kind: str, actor: str, door: str, corr: str, payload_json: str
) -> str:
    body = json.dumps(
        [prev, seq, time, kind, actor, door, corr, payload_json], separators=(",", ":")
    )
    return hashlib.sha256(body.encode()).hexdigest()


class AuditLog:
    DDL = """
    CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        door TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        store.ensure_schema(self.DDL)

    def append(
        self,
        *,
        time: datetime,
        kind: str,
        actor: str,
        door: str,
        correlation_id: str,
        payload: dict[str, Any],
    ) -> AuditRecord:
        payload_json = json.dumps(redact_obj(payload), sort_keys=True, default=str)
        ts = time.isoformat()
        with self._store.tx() as db:
            head = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (head["seq"] + 1, head["hash"]) if head else (1, GENESIS)
            digest = _digest(prev, seq, ts, kind, actor, door, correlation_id, payload_json)
            db.execute(
                "INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?)",
                (seq, ts, kind, actor, door, correlation_id, payload_json, prev, digest),
            )
            db.execute(
                "INSERT INTO audit_head(id, seq, hash) VALUES (1, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, hash=excluded.hash",
                (seq, digest),
            )
        return AuditRecord(
            seq=seq,
            time=ts,
            kind=kind,
            actor=actor,
            door=door,
            correlation_id=correlation_id,
            payload=json.loads(payload_json),
            prev_hash=prev,
            hash=digest,
        )

    def records(self, correlation_id: str | None = None) -> Iterator[AuditRecord]:
        sql = "SELECT * FROM audit"
        params: tuple[Any, ...] = ()
        if correlation_id:
            sql, params = sql + " WHERE correlation_id=?", (correlation_id,)
        for row in self._store.query(sql + " ORDER BY seq", params):
            data = dict(row)
            data["payload"] = json.loads(data["payload"])
            yield AuditRecord(**data)

    def verify(self) -> VerifyReport:
        problems: list[str] = []
        prev, expected_seq, count = GENESIS, 1, 0
        for row in self._store.query("SELECT * FROM audit ORDER BY rowid"):
            count += 1
            if row["seq"] != expected_seq:
                problems.append(
                    f"record {row['seq']}: expected sequence {expected_seq} "
                    "(a record was deleted or moved)"
                )
            if row["prev_hash"] != prev:
                problems.append(f"record {row['seq']}: does not follow the record before it")
            digest = _digest(
                row["prev_hash"],
                row["seq"],
                row["time"],
                row["kind"],
                row["actor"],
                row["door"],
                row["correlation_id"],
                row["payload"],
            )
            if digest != row["hash"]:
                problems.append(f"record {row['seq']}: content does not match its hash (edited)")
            prev, expected_seq = row["hash"], row["seq"] + 1
        head = self._store.one("SELECT seq, hash FROM audit_head WHERE id=1")
        if head is not None and (head["seq"] != expected_seq - 1 or head["hash"] != prev):
            problems.append(
                f"the chain ends at record {expected_seq - 1} but its head says "
                f"{head['seq']} (records were removed from the end)"
            )
        if head is None and count:
            problems.append("the chain's head record is missing")
        return VerifyReport(ok=not problems, records=count, problems=problems)

    def export(self, out: TextIO) -> int:
        n = 0
        for record in self.records():
            out.write(record.model_dump_json() + "\n")
            n += 1
        return n
