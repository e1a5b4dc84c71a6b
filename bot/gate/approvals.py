"""Pending approvals as server-side records: they survive restarts, expire, count distinct
approvers, and have exactly one winner when two people decide at once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from bot.models import Action, Decision
from bot.store import Store


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class PendingApproval(BaseModel):
    id: str
    action: Action
    decision: Decision
    status: ApprovalStatus
    required: int
    approvers: list[str]
    created_at: datetime
    expires_at: datetime
    channel: str
    message_id: str | None = None
    decided_by: str | None = None


class VoteResult(StrEnum):
    RECORDED = "recorded"  # counted; more approvals needed
    APPROVED = "approved"  # this vote completed the approval (the one winner)
    REJECTED = "rejected"  # this vote rejected it (the one winner)
    NOT_PENDING = "not_pending"  # someone else already decided, or it expired
    ALREADY_VOTED = "already_voted"
    EXPIRED = "expired"


class ApprovalStore:
    DDL = """
    CREATE TABLE IF NOT EXISTS approvals (
        id TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        decision TEXT NOT NULL,
        requester TEXT NOT NULL,
        status TEXT NOT NULL,
        required INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        channel TEXT NOT NULL,
        message_id TEXT,
        decided_by TEXT
    );
    CREATE TABLE IF NOT EXISTS approval_votes (
        approval_id TEXT NOT NULL REFERENCES approvals(id),
        approver TEXT NOT NULL,
        vote TEXT NOT NULL,
        time TEXT NOT NULL,
        PRIMARY KEY (approval_id, approver)
    );
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        store.ensure_schema(self.DDL)

    def create(
        self, approval_id: str, action: Action, decision: Decision, now: datetime, ttl_seconds: int
    ) -> PendingApproval:
        expires = now + timedelta(seconds=ttl_seconds)
        with self._store.tx() as db:
            db.execute(
                "INSERT INTO approvals(id, action, decision, requester, status, required,"
                " created_at, expires_at, channel) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    approval_id,
                    action.model_dump_json(),
                    decision.model_dump_json(),
                    action.requester.name,
                    ApprovalStatus.PENDING,
                    max(1, decision.approvals_required),
                    now.isoformat(),
                    expires.isoformat(),
                    action.origin.channel,
                ),
            )
        found = self.get(approval_id)
        assert found is not None
        return found

    def set_message(self, approval_id: str, message_id: str) -> None:
        with self._store.tx() as db:
            db.execute("UPDATE approvals SET message_id=? WHERE id=?", (message_id, approval_id))

    def get(self, approval_id: str) -> PendingApproval | None:
        row = self._store.one("SELECT * FROM approvals WHERE id=?", (approval_id,))
        if row is None:
            return None
        votes = self._store.query(
            "SELECT approver FROM approval_votes WHERE approval_id=? AND vote='approve'"
            " ORDER BY time",
            (approval_id,),
        )
        return PendingApproval(
            id=row["id"],
            action=Action.model_validate_json(row["action"]),
            decision=Decision.model_validate_json(row["decision"]),
            status=ApprovalStatus(row["status"]),
            required=row["required"],
            approvers=[v["approver"] for v in votes],
            created_at=datetime.fromisoformat(row["created_at"]),
            expires_at=datetime.fromisoformat(row["expires_at"]),
            channel=row["channel"],
            message_id=row["message_id"],
            decided_by=row["decided_by"],
        )

    def latest_pending(
        self, channel: str, now: datetime, exclude_requester: str | None = None
    ) -> PendingApproval | None:
        """The most recent unexpired pending approval visible in `channel`; where the speaker has
        their own pending request too, the one they could decide comes first."""
        rows = self._store.query(
            "SELECT id, requester FROM approvals WHERE status='pending' AND channel=?"
            " AND expires_at > ? ORDER BY created_at DESC, rowid DESC",
            (channel, now.isoformat()),
        )
        preferred = [r for r in rows if r["requester"] != exclude_requester] or rows
        return self.get(preferred[0]["id"]) if preferred else None

    def list_pending(self) -> list[PendingApproval]:
        rows = self._store.query("SELECT id FROM approvals WHERE status='pending' ORDER BY rowid")
        return [a for r in rows if (a := self.get(r["id"])) is not None]

    def expire(self, approval_id: str) -> bool:
        with self._store.tx() as db:
            cur = db.execute(
                "UPDATE approvals SET status='expired' WHERE id=? AND status='pending'",
                (approval_id,),
            )
            return cur.rowcount == 1

    def vote(self, approval_id: str, approver: str, approve: bool, now: datetime) -> VoteResult:
        """Record one vote atomically: the status check, the vote and the status change happen in
        one transaction, so of two simultaneous deciding votes exactly one wins."""
        with self._store.tx() as db:
            row = db.execute(
                "SELECT status, required, expires_at FROM approvals WHERE id=?", (approval_id,)
            ).fetchone()
            if row is None or row["status"] != ApprovalStatus.PENDING:
                return VoteResult.NOT_PENDING
            if datetime.fromisoformat(row["expires_at"]) <= now:
                db.execute("UPDATE approvals SET status='expired' WHERE id=?", (approval_id,))
                return VoteResult.EXPIRED
            if not approve:
                db.execute(
                    "UPDATE approvals SET status='rejected', decided_by=? WHERE id=?",
                    (approver, approval_id),
                )
                db.execute(
                    "INSERT OR REPLACE INTO approval_votes VALUES (?,?,?,?)",
                    (approval_id, approver, "reject", now.isoformat()),
                )
                return VoteResult.REJECTED
            cur = db.execute(
                "INSERT OR IGNORE INTO approval_votes VALUES (?,?,?,?)",
                (approval_id, approver, "approve", now.isoformat()),
            )
            if cur.rowcount == 0:
                return VoteResult.ALREADY_VOTED
            count = db.execute(
                "SELECT COUNT(*) FROM approval_votes WHERE approval_id=? AND vote='approve'",
                (approval_id,),
            ).fetchone()[0]
            if count >= row["required"]:
                db.execute(
                    "UPDATE approvals SET status='approved', decided_by=? WHERE id=?",
                    (approver, approval_id),
                )
                return VoteResult.APPROVED
            return VoteResult.RECORDED

    @staticmethod
    def describe(approval: PendingApproval) -> str:
        return json.dumps(
            {"id": approval.id, "action": approval.action.name, "target": approval.action.target}
        )
