"""The runbook.query executor: a runbook's read steps, answered from the read-only ports and
returned as the step's result (so later steps' `when` can use it)."""

from __future__ import annotations

from bot.models import Action, ExecutionResult
from bot.ports import DeployReader, Progress


class RunbookQueries:
    def __init__(self, fleet: DeployReader) -> None:
        self.fleet = fleet

    async def query(self, action: Action, progress: Progress) -> ExecutionResult:
        p = action.params
        if p.get("read") != "service.status":
            return ExecutionResult(status="failed", summary=f"unknown read {p.get('read')}")
        state = await self.fleet.service(p["service"], p["environment"])
        if state is None:
            return ExecutionResult(
                status="failed", summary=f"{p['service']} has no {p['environment']} to read."
            )
        h = state.health
        details: dict[str, object] = {
            "version": state.version,
            "previous_version": state.previous_version or "none",
            "replicas": state.replicas,
            "state": state.status,
            "error_rate": round(h.error_rate, 4) if h else None,
            "latency_p95_ms": round(h.latency_p95_ms, 1) if h else None,
        }
        health = (
            f"errors {h.error_rate:.1%}, p95 {h.latency_p95_ms:.0f} ms" if h else "health unknown"
        )
        return ExecutionResult(
            status="succeeded",
            summary=f"{state.service} in {state.environment}: {state.version}, "
            f"{state.replicas} replicas, {state.status}, {health}",
            details=details,
        )
