"""Pending approvals survive a restart of the process; the approval then runs the action."""

from __future__ import annotations

from pathlib import Path

from bot.channel import ReplyKind
from tests.conftest import make_harness


async def test_pending_approval_survives_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = make_harness(home)
    await first.say("alice", "/deploy checkout 1.5.0 to production")
    assert first.channel.of(ReplyKind.APPROVAL), first.channel.texts()
    await first.app.close()

    second = make_harness(home)
    pending = second.app.gate.approvals.list_pending()
    assert len(pending) == 1 and pending[0].action.requester.name == "alice"
    await second.say("bob", "approve")
    state = await second.app.fleet.service("checkout", "production")
    assert state is not None and state.version == "1.5.0"
    # The story continued in the original deployment thread.
    thread = pending[0].action.origin.thread
    done = [
        p for p in second.channel.posts if p.thread == thread and p.reply.kind is ReplyKind.SUCCESS
    ]
    assert done and "checkout in production is on 1.5.0" in done[-1].reply.text
    assert second.app.audit.verify().ok
    await second.app.close()


async def test_interrupted_sandbox_rollout_recovers_to_the_old_version(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = make_harness(home)
    first.app.store.query("SELECT 1")
    with first.app.store.tx() as db:
        db.execute(
            "UPDATE sandbox_services SET status='rolling 2/8 to 1.5.0',"
            " target_version='1.5.0' WHERE service='checkout' AND environment='staging'"
        )
    await first.app.close()
    second = make_harness(home)
    state = await second.app.fleet.service("checkout", "staging")
    assert state is not None and (state.version, state.status) == ("1.4.0", "stable")
    await second.app.close()


async def test_execution_cut_off_by_a_restart_is_reported(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = make_harness(home)
    await first.say("alice", "/deploy checkout 1.5.0 to staging", wait=False)
    assert first.app.tasks.pending >= 1
    await first.app.close()  # the process stops mid-rollout

    second = make_harness(home)
    assert await second.app.gate.recover() == 1
    last = second.channel.posts[-1].reply
    assert last.kind is ReplyKind.ERROR and "interrupted by a restart" in last.text
    state = await second.app.fleet.service("checkout", "staging")
    assert state is not None and (state.version, state.status) == ("1.4.0", "stable")
    assert await second.app.gate.recover() == 0
    await second.app.close()
