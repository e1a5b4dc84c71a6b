"""Every branch of the Gate: unknown action, deny, needs approval, approved, rejected, expired,
policy error, undefined, malformed, executor error, N approvers, one winner, idempotency."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.channel import ReplyKind, SafeChannel
from bot.gate.policy import PolicyError
from bot.models import Action, ExecutionResult, Origin, OutcomeStatus, Principal
from tests.conftest import Harness, make_harness


def _action(
    h: Harness,
    name: str = "deploy.rollout",
    env: str = "production",
    requester: str = "alice",
    key: str = "k1",
) -> Action:
    return Action(
        name=name,
        target=f"checkout/{env}",
        params={
            "service": "checkout",
            "environment": env,
            "version": "1.5.0",
            "from_version": "1.4.0",
            "strategy": "rolling",
        },
        requester=h.app.directory.principal(requester),
        origin=Origin(transport="test", channel="#test"),
        correlation_id="dep-test",
        idempotency_key=key,
        summary="deploy checkout 1.5.0",
    )


def _safe(h: Harness) -> SafeChannel:
    return SafeChannel(h.channel)


class FixedEngine:
    name = "fixed"

    def __init__(self, value: Any = None, error: Exception | None = None) -> None:
        self.value, self.error = value, error

    async def evaluate(self, query: str, input_doc: dict[str, Any]) -> Any | None:
        if self.error:
            raise self.error
        if query.endswith("eligibility"):
            return {
                "eligible": input_doc["approver"]["name"] != input_doc["requester"]["name"],
                "reasons": [],
            }
        return self.value


async def test_unknown_action_is_denied_before_policy(harness: Harness) -> None:
    out = await harness.app.gate.submit(_action(harness, name="rm.rf"), _safe(harness))
    assert out.status is OutcomeStatus.DENIED
    assert out.decision and out.decision.rules == ("gate.unknown_action",)
    assert harness.channel.kinds() == [ReplyKind.DENIED]


async def test_policy_deny_is_rendered_with_rule(harness: Harness) -> None:
    out = await harness.app.gate.submit(_action(harness, requester="carol"), _safe(harness))
    assert out.status is OutcomeStatus.DENIED
    reply = harness.channel.posts[0].reply
    assert "carol does not hold the deployer role" in reply.text
    assert ("Rules", "deploy.requester_not_deployer") in reply.fields


async def test_allowed_action_executes_and_is_audited(harness: Harness) -> None:
    out = await harness.app.gate.submit(_action(harness, env="staging"), _safe(harness))
    assert out.status is OutcomeStatus.STARTED
    await harness.app.pipeline.drain()
    state = await harness.app.fleet.service("checkout", "staging")
    assert state is not None and state.version == "1.5.0"
    kinds = [r.kind for r in harness.app.audit.records("dep-test")]
    assert kinds == ["decision", "execution.started", "outcome"]
    types = [e.type for e in harness.app.events.read(correlation_id="dep-test")]
    assert types == ["policy.decided", "action.started", "action.succeeded"]


async def test_needs_approval_then_approved_by_eligible_other(harness: Harness) -> None:
    gate, safe = harness.app.gate, _safe(harness)
    out = await gate.submit(_action(harness), safe)
    assert out.status is OutcomeStatus.PENDING and out.approval_id
    approval_msg = harness.channel.posts[-1].reply
    assert approval_msg.kind is ReplyKind.APPROVAL
    assert [b.action for b in approval_msg.buttons] == ["approve", "deny"]
    assert ("Who can approve", "bob, dave") in approval_msg.fields

    own = await gate.vote(harness.app.directory.principal("alice"), out.approval_id, True, safe)
    assert own.kind == ReplyKind.DENIED and "cannot approve their own" in own.text
    viewer = await gate.vote(harness.app.directory.principal("carol"), None, True, safe)
    assert viewer.kind == ReplyKind.DENIED and "holds none of the roles" in viewer.text
    ok = await gate.vote(harness.app.directory.principal("bob"), None, True, safe)
    assert ok.kind == ReplyKind.SUCCESS
    await harness.app.pipeline.drain()
    state = await harness.app.fleet.service("checkout", "production")
    assert state is not None and state.version == "1.5.0"
    # The approval message was updated in place with who decided.
    assert any("approved by bob" in r.text for _, r in harness.channel.updates)
    kinds = [r.kind for r in harness.app.audit.records("dep-test")]
    assert kinds == [
        "decision",
        "approval.requested",
        "approval.refused",
        "approval.refused",
        "approval.granted",
        "execution.started",
        "outcome",
    ]


async def test_rejected_by_approver_changes_nothing(harness: Harness) -> None:
    gate, safe = harness.app.gate, _safe(harness)
    out = await gate.submit(_action(harness), safe)
    answer = await gate.vote(harness.app.directory.principal("bob"), out.approval_id, False, safe)
    assert answer.text.startswith("Denied")
    late = await gate.vote(harness.app.directory.principal("dave"), out.approval_id, True, safe)
    assert "already rejected by bob" in late.text
    await harness.app.pipeline.drain()
    state = await harness.app.fleet.service("checkout", "production")
    assert state is not None and state.version == "1.4.0"


async def test_expired_approval_is_refused(harness: Harness) -> None:
    gate, safe = harness.app.gate, _safe(harness)
    out = await gate.submit(_action(harness), safe)
    harness.clock.advance(harness.app.settings.approval_ttl_seconds + 1)
    answer = await gate.vote(harness.app.directory.principal("bob"), out.approval_id, True, safe)
    assert answer.kind == ReplyKind.DENIED and "expired" in answer.text
    assert gate.approvals.get(out.approval_id or "").status == "expired"  # type: ignore[union-attr]
    # No id: an expired approval is no longer visible.
    none = await gate.vote(harness.app.directory.principal("bob"), None, True, safe)
    assert none.kind == ReplyKind.ERROR
    state = await harness.app.fleet.service("checkout", "production")
    assert state is not None and state.version == "1.4.0"


async def test_policy_errors_fail_closed(tmp_path: Path) -> None:
    cases = {
        "policy_error": FixedEngine(error=PolicyError("boom")),
        "crash": FixedEngine(error=RuntimeError("segfault-ish")),
        "undefined": FixedEngine(value=None),
        "malformed": FixedEngine(value={"allow": "maybe", "approvals_required": "x"}),
    }
    for label, engine in cases.items():
        h = make_harness(tmp_path / label, engine=engine)
        out = await h.app.gate.submit(_action(h, env="staging"), _safe(h))
        assert out.status is OutcomeStatus.DENIED, label
        assert out.decision is not None
        assert out.decision.rules[0].startswith("gate.policy_"), label
        assert "fail closed" in out.decision.reasons[0], label
        await h.app.close()


async def test_eligibility_error_fails_closed(tmp_path: Path) -> None:
    h = make_harness(tmp_path / "h")
    out = await h.app.gate.submit(_action(h), _safe(h))

    class Broken:
        name = "broken"

        async def evaluate(self, query: str, input_doc: dict[str, Any]) -> Any:
            raise PolicyError("gone")

    h.app.gate.engine = Broken()
    answer = await h.app.gate.vote(
        h.app.directory.principal("bob"), out.approval_id, True, _safe(h)
    )
    assert answer.kind == ReplyKind.DENIED and "fail closed" in answer.text
    await h.app.close()


async def test_executor_error_is_reported_not_raised(harness: Harness) -> None:
    async def explode(action: Action, progress: Any) -> ExecutionResult:
        raise ConnectionError("sandbox unreachable")

    harness.app.gate._executor.register("deploy.rollout", explode)
    await harness.app.gate.submit(_action(harness, env="staging"), _safe(harness))
    await harness.app.pipeline.drain()
    last = harness.channel.posts[-1].reply
    assert last.kind is ReplyKind.ERROR and "sandbox unreachable" in last.text
    outcome = next(r for r in harness.app.audit.records("dep-test") if r.kind == "outcome")
    assert outcome.payload["status"] == "failed"


async def test_two_approvers_required_and_distinct(tmp_path: Path) -> None:
    engine = FixedEngine(
        value={
            "allow": True,
            "approvals_required": 2,
            "eligible_approvers": ["bob", "dave"],
            "reasons": ["two-person"],
            "rules": ["test.two_person"],
        }
    )
    h = make_harness(tmp_path / "h", engine=engine)
    gate, safe = h.app.gate, _safe(h)
    out = await gate.submit(_action(h), safe)
    first = await gate.vote(h.app.directory.principal("bob"), out.approval_id, True, safe)
    assert "1 of 2" in first.text
    again = await gate.vote(h.app.directory.principal("bob"), out.approval_id, True, safe)
    assert "already approved" in again.text
    second = await gate.vote(h.app.directory.principal("dave"), out.approval_id, True, safe)
    assert second.kind == ReplyKind.SUCCESS
    await h.app.pipeline.drain()
    state = await h.app.fleet.service("checkout", "production")
    assert state is not None and state.version == "1.5.0"
    await h.app.close()


async def test_double_click_has_one_winner(harness: Harness) -> None:
    gate, safe = harness.app.gate, _safe(harness)
    out = await gate.submit(_action(harness), safe)
    bob, dave = (harness.app.directory.principal(n) for n in ("bob", "dave"))
    answers = await asyncio.gather(
        gate.vote(bob, out.approval_id, True, safe),
        gate.vote(dave, out.approval_id, True, safe),
        gate.vote(bob, out.approval_id, True, safe),
    )
    assert sum(a.kind == ReplyKind.SUCCESS for a in answers) == 1
    await harness.app.pipeline.drain()
    starts = [r for r in harness.app.audit.records("dep-test") if r.kind == "execution.started"]
    assert len(starts) == 1


async def test_same_idempotency_key_never_runs_twice(harness: Harness) -> None:
    gate, safe = harness.app.gate, _safe(harness)
    first = await gate.submit(_action(harness, env="staging", key="same"), safe)
    await harness.app.pipeline.drain()
    second = await gate.submit(_action(harness, env="staging", key="same"), safe)
    assert first.status is OutcomeStatus.STARTED
    assert second.status is OutcomeStatus.DUPLICATE


async def test_requester_can_withdraw(harness: Harness) -> None:
    gate, safe = harness.app.gate, _safe(harness)
    out = await gate.submit(_action(harness), safe)
    answer = await gate.vote(
        Principal(name="alice", roles=("deployer",)), out.approval_id, False, safe
    )
    assert answer.text.startswith("Withdrawn")
    assert gate.approvals.get(out.approval_id or "").status == "rejected"  # type: ignore[union-attr]


async def test_policy_conflict_at_runtime_fails_closed(tmp_path: Path) -> None:
    """A real engine error (two complete rules disagreeing) is a denial, not a crash."""
    import shutil

    from bot.gate.policy import RegorusEngine
    from bot.paths import policies_dir

    folder = tmp_path / "policies"
    shutil.copytree(policies_dir(), folder)
    (folder / "sandbox.rego").write_text(
        "package shipmate.sandbox\n\nimport rego.v1\n\n"
        'decision := {"allow": true} if input.action.name != ""\n\n'
        'decision := {"allow": false} if input.action.name != ""\n'
    )
    h = make_harness(tmp_path / "h", engine=RegorusEngine(folder))
    out = await h.app.gate.submit(_action(h, name="sandbox.fault.inject"), _safe(h))
    assert out.status is OutcomeStatus.DENIED
    assert out.decision is not None and out.decision.rules == ("gate.policy_error",)
    await h.app.close()
