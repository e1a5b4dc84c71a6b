"""The data that flows through the pipeline: requests, intents, actions, decisions, outcomes."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Transport = Literal["terminal", "slack", "webhook", "event", "test"]


def new_id(prefix: str = "") -> str:
    """Short, readable ids: users type them (`approve a1b2c3`)."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Principal(Frozen):
    """Who asked. `name` is the stable identity (Slack user IDs map onto it), never a display
    name."""

    name: str
    roles: tuple[str, ...] = ()


class Origin(Frozen):
    """Where a request came from and where its story is told."""

    transport: Transport
    channel: str
    thread: str | None = None  # id of the parent message of the thread, if any


class Request(Frozen):
    """What every door turns its input into."""

    id: str = Field(default_factory=lambda: new_id("r"))
    principal: Principal
    origin: Origin
    text: str
    received_at: datetime


class Intent(Frozen):
    skill: str
    slots: dict[str, Any] = Field(default_factory=dict)
    confidence: float = 1.0


class Action(Frozen):
    """A side effect, as data. Only the Gate turns it into a change in the world."""

    id: str = Field(default_factory=lambda: new_id("a"))
    name: str
    target: str
    params: dict[str, Any] = Field(default_factory=dict)
    risk: dict[str, Any] = Field(default_factory=dict)
    requester: Principal
    origin: Origin
    correlation_id: str
    idempotency_key: str
    # Name of a registered follow-up (skill.hook) told the result; by name so it survives restarts.
    followup: str | None = None
    summary: str = ""

    @staticmethod
    def key_for(request_id: str, name: str, target: str) -> str:
        return hashlib.sha256(f"{request_id}|{name}|{target}".encode()).hexdigest()[:24]


class Verdict(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    NEEDS_APPROVAL = "needs_approval"


class Finding(Frozen):
    """One thing a policy found (e.g. in a Terraform plan), with its severity."""

    rule: str
    severity: Literal["deny", "high", "approval", "info"]
    address: str
    reason: str


class Decision(Frozen):
    """The one decision document every policy returns (see policies/README.md)."""

    allow: bool
    approvals_required: int = 0
    eligible_approvers: tuple[str, ...] = ()
    mode: Literal["execute", "shadow"] = "execute"
    reasons: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def verdict(self) -> Verdict:
        if not self.allow:
            return Verdict.DENY
        return Verdict.NEEDS_APPROVAL if self.approvals_required > 0 else Verdict.ALLOW

    @classmethod
    def deny(cls, reason: str, rule: str) -> Decision:
        return cls(allow=False, reasons=(reason,), rules=(rule,))


class EligibilityCheck(Frozen):
    eligible: bool
    reasons: tuple[str, ...] = ()


class OutcomeStatus(StrEnum):
    DENIED = "denied"
    PENDING = "pending"  # waiting for approval
    STARTED = "started"  # accepted; executing in the background
    SHADOW = "shadow"  # recorded what would happen, did nothing
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    REJECTED = "rejected"
    EXPIRED = "expired"
    DUPLICATE = "duplicate"


class Outcome(Frozen):
    action_id: str
    status: OutcomeStatus
    message: str = ""
    decision: Decision | None = None
    approval_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ApprovalAnswer(Frozen):
    """What to tell the person who clicked or typed approve/deny, where they did it."""

    kind: str  # a ReplyKind value
    text: str
    approval_id: str | None = None


class ExecutionResult(Frozen):
    """What a writer reports back: it either completed, rolled itself back, or failed (and says
    what state it left)."""

    status: Literal["succeeded", "failed", "rolled_back"]
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)
