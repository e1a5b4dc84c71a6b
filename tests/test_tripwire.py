"""Writers refuse to run outside the Gate's executor."""

from __future__ import annotations

import pytest

from bot.models import Action, Origin, Principal
from tests.conftest import Harness
from tools.guard import WriteOutsideGate, current_grant, granted


def _action() -> Action:
    return Action(
        name="deploy.rollout",
        target="checkout/staging",
        params={"service": "checkout", "environment": "staging", "version": "9.9.9"},
        requester=Principal(name="alice", roles=("deployer",)),
        origin=Origin(transport="test", channel="#t"),
        correlation_id="c",
        idempotency_key="k",
    )


async def _noop(_: str) -> None:
    return None


@pytest.mark.parametrize("method", ["rollout", "rollback", "inject_fault", "clear_fault"])
async def test_writer_outside_gate_raises(harness: Harness, method: str) -> None:
    with pytest.raises(WriteOutsideGate, match="only run inside the Gate"):
        await getattr(harness.app.fleet, method)(_action(), _noop)
    state = await harness.app.fleet.service("checkout", "staging")
    assert state is not None and state.version == "1.4.0"


async def test_grant_is_scoped_to_the_executor_call(harness: Harness) -> None:
    assert current_grant() is None
    with granted("a1"):
        assert current_grant() == "a1"
        result = await harness.app.fleet.rollout(_action(), _noop)
    assert result.status == "succeeded"
    assert current_grant() is None


def test_skills_get_a_read_only_fleet(harness: Harness) -> None:
    reader = harness.app.pipeline.fleet
    assert hasattr(reader, "services") and hasattr(reader, "service")
    for writer_name in ("rollout", "rollback", "inject_fault", "clear_fault"):
        assert not hasattr(reader, writer_name)
