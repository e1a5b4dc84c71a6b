"""The Gate: the one choke point for side effects.

submit(action): vocabulary -> policy decision (fail closed) -> deny | shadow | pending approval |
execute. decide(approval): the requester never approves; eligibility re-checked by policy on every
vote; N distinct approvers; expiry. Execution runs in the background under the executor's grant;
every step is an audit record and an event with the action's correlation id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError

from bot.channel import Channels, MessageRef, Reply, ReplyKind, SafeChannel
from bot.clock import Clock
from bot.events import Event, EventBus
from bot.gate import render
from bot.gate.approvals import ApprovalStore, PendingApproval, VoteResult
from bot.gate.audit import AuditLog
from bot.gate.executor import Executor
from bot.gate.policy import DECISION_QUERY, ELIGIBILITY_QUERY, PolicyEngine, PolicyError
from bot.models import (
    Action,
    ApprovalAnswer,
    Decision,
    EligibilityCheck,
    ExecutionResult,
    Outcome,
    OutcomeStatus,
    Principal,
    new_id,
)
from bot.store import Store
from bot.tasks import Tasks
from bot.vocab import ACTIONS, topic_for_action

log = structlog.get_logger(__name__)

Notify = Callable[[Action, Outcome], Awaitable[None]]


class Gate:
    EXECUTIONS_DDL = """
    CREATE TABLE IF NOT EXISTS executions (
        idempotency_key TEXT PRIMARY KEY,
        action_id TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        summary TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE IF NOT EXISTS action_log (
        idempotency_key TEXT PRIMARY KEY,
        action TEXT NOT NULL
    );
    """

    def __init__(
        self,
        *,
        store: Store,
        engine: PolicyEngine,
        approvals: ApprovalStore,
        executor: Executor,
        audit: AuditLog,
        bus: EventBus,
        clock: Clock,
        tasks: Tasks,
        channels: Channels,
        approval_ttl_seconds: int,
    ) -> None:
        self._store = store
        self.engine = engine
        self.approvals = approvals
        self._executor = executor
        self.executor = executor  # the composition root registers late writers on it
        self.audit = audit
        self._bus = bus
        self._clock = clock
        self._tasks = tasks
        self._channels = channels
        self._ttl = approval_ttl_seconds
        self.notify: Notify | None = None  # the pipeline's follow-up dispatcher
        store.ensure_schema(self.EXECUTIONS_DDL)

    # ---- policy -------------------------------------------------------------------------

    def policy_input(self, action: Action) -> dict[str, Any]:
        now = self._clock.now()
        return {
            "action": {
                "name": action.name,
                "target": action.target,
                "params": action.params,
                "risk": action.risk,
            },
            "requester": {"name": action.requester.name, "roles": list(action.requester.roles)},
            "origin": action.origin.model_dump(),
            "now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    async def decide(self, action: Action, input_doc: dict[str, Any] | None = None) -> Decision:
        """The policy decision for an action. Anything but a well-formed decision is a denial."""
        if action.name not in ACTIONS:
            return Decision.deny(
                f"'{action.name}' is not an action shipmate knows, so it is refused.",
                "gate.unknown_action",
            )
        try:
            value = await self.engine.evaluate(
                DECISION_QUERY, input_doc if input_doc is not None else self.policy_input(action)
            )
        except PolicyError as exc:
            log.error("policy evaluation failed", action=action.name, error=str(exc))
            return Decision.deny(
                f"The policy engine failed ({exc}), so the action is denied (fail closed).",
                "gate.policy_error",
            )
        except Exception as exc:  # an engine that crashes is still a denial
            log.exception("policy engine crashed", action=action.name)
            return Decision.deny(
                f"The policy engine crashed ({type(exc).__name__}), so the "
                "action is denied (fail closed).",
                "gate.policy_error",
            )
        if value is None:
            return Decision.deny(
                f"No policy decides {action.name}, so it is denied (fail closed).",
                "gate.policy_undefined",
            )
        try:
            return Decision.model_validate(value)
        except ValidationError:
            log.error("malformed policy decision", action=action.name, value=str(value)[:500])
            return Decision.deny(
                "The policy returned a malformed decision, so the action is denied (fail closed).",
                "gate.policy_malformed",
            )

    async def authorize_automatic(
        self, parent: Action, name: str, params: dict[str, Any], reason: str
    ) -> Decision:
        """Policy's word on a step shipmate takes on its own inside running work (aborting a
        failing canary, switching traffic back to blue): the same decision as any action, by
        the requester "shipmate" with `risk.automatic`, audited like any decision. Nothing but
        an allow lets the writer go on."""
        action = Action(
            name=name,
            target=parent.target,
            params=params,
            risk={**parent.risk, "automatic": True, "reason": reason},
            requester=Principal(name="shipmate", roles=("automation",)),
            origin=parent.origin,
            correlation_id=parent.correlation_id,
            idempotency_key=Action.key_for(parent.id, name, parent.target),
            summary=f"{name} of {parent.target} ({reason})",
        )
        input_doc = self.policy_input(action)
        decision = await self.decide(action, input_doc)
        await self._record(
            action,
            "decision",
            "shipmate",
            "policy.decided",
            "compliance",
            {
                "proposal": action.model_dump(mode="json"),
                "input": input_doc,
                "engine": self.engine.name,
                "decision": decision.model_dump(mode="json"),
            },
        )
        return decision

    async def eligibility(self, approval: PendingApproval, approver: Principal) -> EligibilityCheck:
        doc = self.policy_input(approval.action)
        doc["approver"] = {"name": approver.name, "roles": list(approver.roles)}
        doc["decision"] = approval.decision.model_dump(mode="json")
        try:
            value = await self.engine.evaluate(ELIGIBILITY_QUERY, doc)
            if value is None:
                raise PolicyError("eligibility is undefined")
            return EligibilityCheck.model_validate(
                {"eligible": value.get("eligible") is True, "reasons": value.get("reasons", [])}
            )
        except (PolicyError, ValidationError, AttributeError) as exc:
            log.error("eligibility check failed", approval=approval.id, error=str(exc))
            return EligibilityCheck(
                eligible=False,
                reasons=(
                    "The approval policy could not be evaluated, so no approval is accepted "
                    "(fail closed).",
                ),
            )

    # ---- submit -------------------------------------------------------------------------

    async def submit(self, action: Action, channel: SafeChannel) -> Outcome:
        input_doc = self.policy_input(action)
        decision = await self.decide(action, input_doc)
        # The proposal, the exact policy input and the decision, in the audit chain.
        await self._record(
            action,
            "decision",
            action.requester.name,
            "policy.decided",
            "compliance",
            {
                "proposal": action.model_dump(mode="json"),
                "input": input_doc,
                "engine": self.engine.name,
                "decision": decision.model_dump(mode="json"),
            },
        )
        thread = action.origin.thread
        if not decision.allow:
            await channel.post(render.denial(action, decision), thread)
            return Outcome(
                action_id=action.id,
                status=OutcomeStatus.DENIED,
                decision=decision,
                message=" ".join(decision.reasons),
            )
        if self._executed(action.idempotency_key):
            await channel.post(
                Reply(
                    kind=ReplyKind.INFO,
                    text="This request was already carried out; not running it twice.",
                ),
                thread,
            )
            return Outcome(action_id=action.id, status=OutcomeStatus.DUPLICATE, decision=decision)
        if decision.mode == "shadow":
            await self._record(
                action,
                "shadow",
                action.requester.name,
                "action.shadowed",
                topic_for_action(action.name),
                {"decision": decision.model_dump()},
            )
            await channel.post(render.shadow(action, decision), thread)
            return Outcome(action_id=action.id, status=OutcomeStatus.SHADOW, decision=decision)
        if decision.approvals_required > 0:
            approval = self.approvals.create(
                new_id("ap"), action, decision, self._clock.now(), self._ttl
            )
            ref = await channel.post(render.approval_request(approval), thread)
            if ref.id:
                self.approvals.set_message(approval.id, ref.id)
            await self._record(
                action,
                "approval.requested",
                action.requester.name,
                "approval.requested",
                "compliance",
                {
                    "approval_id": approval.id,
                    "required": approval.required,
                    "eligible": list(decision.eligible_approvers),
                    "expires_at": approval.expires_at.isoformat(),
                },
            )
            return Outcome(
                action_id=action.id,
                status=OutcomeStatus.PENDING,
                decision=decision,
                approval_id=approval.id,
            )
        await channel.post(render.allowed(action, decision), thread)
        return self._start(action, decision, channel)

    # ---- approvals ----------------------------------------------------------------------

    async def vote(
        self, approver: Principal, approval_id: str | None, approve: bool, channel: SafeChannel
    ) -> ApprovalAnswer:
        now = self._clock.now()
        approval = (
            self.approvals.get(approval_id)
            if approval_id
            else self.approvals.latest_pending(channel.channel_id, now, approver.name)
        )
        if approval is None:
            what = (
                f"No approval with id {approval_id}."
                if approval_id
                else "There is no pending approval in this channel."
            )
            return ApprovalAnswer(kind=ReplyKind.ERROR, text=what)
        verb = "approve" if approve else "deny"
        if approval.status != "pending":
            return ApprovalAnswer(
                kind=ReplyKind.INFO,
                approval_id=approval.id,
                text=f"Approval {approval.id} is already {approval.status}"
                f"{' by ' + approval.decided_by if approval.decided_by else ''}.",
            )
        action = approval.action
        target_channel = self._channels.resolve(action.origin) or channel
        if approval.expires_at <= now:
            return await self._expired(
                approval, target_channel, approver, announce=self.approvals.expire(approval.id)
            )
        is_requester = approver.name == action.requester.name
        if is_requester and not approve:
            withdrawn = self.approvals.vote(approval.id, approver.name, False, now)
            if withdrawn is VoteResult.REJECTED:
                await self._closed(
                    approval,
                    target_channel,
                    f"withdrawn by {approver.name}.",
                    ReplyKind.WARNING,
                    "approval.withdrawn",
                    approver,
                )
                return ApprovalAnswer(
                    kind=ReplyKind.INFO,
                    approval_id=approval.id,
                    text=f"Withdrawn: {action.summary}.",
                )
            return ApprovalAnswer(
                kind=ReplyKind.INFO,
                approval_id=approval.id,
                text=f"Approval {approval.id} was already decided.",
            )
        # The requester can never approve, whatever the policy data says (defence in depth).
        check = (
            EligibilityCheck(
                eligible=False, reasons=("The requester cannot approve their own action.",)
            )
            if is_requester
            else await self.eligibility(approval, approver)
        )
        if not check.eligible:
            await self._record(
                action,
                "approval.refused",
                approver.name,
                "approval.refused",
                "compliance",
                {"approval_id": approval.id, "verb": verb, "reasons": list(check.reasons)},
            )
            who = ", ".join(n for n in approval.decision.eligible_approvers if n != approver.name)
            return ApprovalAnswer(
                kind=ReplyKind.DENIED,
                approval_id=approval.id,
                text=f"{approver.name} may not {verb} {action.summary}: "
                f"{' '.join(check.reasons)} Who can: {who or 'nobody'}.",
            )
        result = self.approvals.vote(approval.id, approver.name, approve, now)
        return await self._after_vote(approval, approver, result, target_channel)

    async def _after_vote(
        self,
        approval: PendingApproval,
        approver: Principal,
        result: VoteResult,
        channel: SafeChannel,
    ) -> ApprovalAnswer:
        action = approval.action
        if result is VoteResult.APPROVED:
            when = self._clock.now().strftime("%H:%M UTC")
            await self._closed(
                approval,
                channel,
                f"approved by {approver.name} at {when}.",
                ReplyKind.SUCCESS,
                "approval.granted",
                approver,
            )
            await channel.post(
                Reply(kind=ReplyKind.INFO, text=f"Approved by {approver.name}. Starting."),
                action.origin.thread,
            )
            self._start(action, approval.decision, channel)
            return ApprovalAnswer(
                kind=ReplyKind.SUCCESS, approval_id=approval.id, text=f"Approved: {action.summary}."
            )
        if result is VoteResult.REJECTED:
            await self._closed(
                approval,
                channel,
                f"denied by {approver.name}; nothing was changed.",
                ReplyKind.DENIED,
                "approval.rejected",
                approver,
            )
            return ApprovalAnswer(
                kind=ReplyKind.INFO, approval_id=approval.id, text=f"Denied: {action.summary}."
            )
        if result is VoteResult.RECORDED:
            fresh = self.approvals.get(approval.id)
            have = len(fresh.approvers) if fresh else 1
            await self._record(
                action,
                "approval.vote",
                approver.name,
                "approval.vote",
                "compliance",
                {"approval_id": approval.id, "have": have, "required": approval.required},
            )
            text = (
                f"{approver.name} approved ({have} of {approval.required}); waiting for "
                f"{approval.required - have} more."
            )
            await channel.post(Reply(kind=ReplyKind.INFO, text=text), action.origin.thread)
            return ApprovalAnswer(kind=ReplyKind.INFO, approval_id=approval.id, text=text)
        if result is VoteResult.ALREADY_VOTED:
            return ApprovalAnswer(
                kind=ReplyKind.INFO,
                approval_id=approval.id,
                text="You already approved this; another approver is needed.",
            )
        if result is VoteResult.EXPIRED:
            return await self._expired(approval, channel, approver, announce=True)
        current = self.approvals.get(approval.id)
        state = current.status if current else "gone"
        by = f" by {current.decided_by}" if current and current.decided_by else ""
        return ApprovalAnswer(
            kind=ReplyKind.INFO,
            approval_id=approval.id,
            text=f"Approval {approval.id} was already {state}{by}.",
        )

    async def _expired(
        self, approval: PendingApproval, channel: SafeChannel, approver: Principal, announce: bool
    ) -> ApprovalAnswer:
        """The approval ran out of time: say so in its thread (once) and to the clicker."""
        if announce:
            await self._closed(
                approval,
                channel,
                "expired before anyone approved it; nothing was changed.",
                ReplyKind.WARNING,
                "approval.expired",
                approver,
            )
        return ApprovalAnswer(
            kind=ReplyKind.DENIED,
            approval_id=approval.id,
            text=f"Approval {approval.id} expired at "
            f"{approval.expires_at:%H:%M UTC}; ask for it again.",
        )

    async def _closed(
        self,
        approval: PendingApproval,
        channel: SafeChannel,
        text: str,
        kind: ReplyKind,
        event_type: str,
        actor: Principal,
    ) -> None:
        await self._record(
            approval.action,
            event_type,
            actor.name,
            event_type,
            "compliance",
            {"approval_id": approval.id, "text": text},
        )
        if approval.message_id:
            ref = MessageRef(
                channel=approval.action.origin.channel,
                id=approval.message_id,
                thread=approval.action.origin.thread,
            )
            await channel.update(ref, render.approval_closed(approval, text, kind))
        if event_type != "approval.granted":
            await channel.post(
                Reply(kind=kind, text=f"{approval.action.summary}: {text}"),
                approval.action.origin.thread,
            )
            if self.notify and event_type in {
                "approval.rejected",
                "approval.expired",
                "approval.withdrawn",
            }:
                status = (
                    OutcomeStatus.EXPIRED
                    if event_type == "approval.expired"
                    else OutcomeStatus.REJECTED
                )
                await self.notify(
                    approval.action,
                    Outcome(action_id=approval.action.id, status=status, message=text),
                )

    # ---- execution ----------------------------------------------------------------------

    def _executed(self, key: str) -> bool:
        return (
            self._store.one("SELECT 1 FROM executions WHERE idempotency_key=?", (key,)) is not None
        )

    def _start(self, action: Action, decision: Decision, channel: SafeChannel) -> Outcome:
        with self._store.tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO executions(idempotency_key, action_id, name, status,"
                " started_at) VALUES (?,?,?,?,?)",
                (
                    action.idempotency_key,
                    action.id,
                    action.name,
                    "running",
                    self._clock.now().isoformat(),
                ),
            )
            if cur.rowcount:  # keep the action, so a restart can report it by name
                db.execute(
                    "INSERT OR REPLACE INTO action_log VALUES (?,?)",
                    (action.idempotency_key, action.model_dump_json()),
                )
        if cur.rowcount == 0:
            return Outcome(action_id=action.id, status=OutcomeStatus.DUPLICATE, decision=decision)
        self._tasks.spawn(self._run(action, channel), name=f"execute:{action.id}")
        return Outcome(action_id=action.id, status=OutcomeStatus.STARTED, decision=decision)

    async def _run(self, action: Action, channel: SafeChannel) -> None:
        topic = topic_for_action(action.name)
        await self._record(action, "execution.started", "shipmate", "action.started", topic, {})

        async def progress(step: str | Reply) -> None:
            reply = step if isinstance(step, Reply) else Reply(kind=ReplyKind.PROGRESS, text=step)
            await channel.post(reply, action.origin.thread)

        result: ExecutionResult = await self._executor.run(action, progress)
        with self._store.tx() as db:
            db.execute(
                "UPDATE executions SET status=?, summary=?, finished_at=? WHERE idempotency_key=?",
                (
                    result.status,
                    result.summary,
                    self._clock.now().isoformat(),
                    action.idempotency_key,
                ),
            )
        await self._record(
            action,
            "outcome",
            "shipmate",
            f"action.{result.status}",
            topic,
            {"status": result.status, "summary": result.summary, "details": result.details},
        )
        outcome = Outcome(
            action_id=action.id,
            status=OutcomeStatus(result.status),
            message=result.summary,
            details=result.details,
        )
        if self.notify:
            await self.notify(action, outcome)
        else:
            kind = ReplyKind.SUCCESS if result.status == "succeeded" else ReplyKind.ERROR
            await channel.post(Reply(kind=kind, text=result.summary), action.origin.thread)

    async def recover(self) -> int:
        """Actions that were executing when the process stopped are reported, never left
        silent: marked interrupted, audited, and told to their thread. Returns how many."""
        rows = self._store.query(
            "SELECT idempotency_key, action_id FROM executions WHERE status='running'"
        )
        if not rows:
            return 0
        keys = [r["idempotency_key"] for r in rows]
        with self._store.tx() as db:
            db.executemany(
                "UPDATE executions SET status='interrupted', summary=? WHERE idempotency_key=?",
                [("interrupted by a restart", k) for k in keys],
            )
        for key in keys:
            action = self._action_for(key)
            if action is None:
                continue
            text = (
                f"{action.summary or action.name} was interrupted by a restart of shipmate "
                "before it finished; check /status for the state it left, then retry."
            )
            await self._record(
                action,
                "outcome",
                "shipmate",
                "action.interrupted",
                topic_for_action(action.name),
                {"status": "interrupted"},
            )
            outcome = Outcome(action_id=action.id, status=OutcomeStatus.FAILED, message=text)
            if self.notify:
                await self.notify(action, outcome)
        return len(keys)

    def _action_for(self, key: str) -> Action | None:
        row = self._store.one("SELECT action FROM action_log WHERE idempotency_key=?", (key,))
        return Action.model_validate_json(row["action"]) if row else None

    # ---- audit + events -----------------------------------------------------------------

    async def _record(
        self,
        action: Action,
        kind: str,
        actor: str,
        event_type: str,
        topic: str,
        payload: dict[str, Any],
    ) -> None:
        """One audit record and its event, written in one transaction (the outbox), then
        delivered by the bus."""
        now: datetime = self._clock.now()
        body = {"action_id": action.id, "action": action.name, "target": action.target, **payload}
        event = Event(
            type=event_type,
            time=now,
            topic=topic,
            correlation_id=action.correlation_id,
            actor=actor,
            data=body,
        )
        with self._store.tx():
            self.audit.append(
                time=now,
                kind=kind,
                actor=actor,
                door=action.origin.transport,
                correlation_id=action.correlation_id,
                payload=body,
            )
            self._bus.stage(event)
        await self._bus.flush()
