"""The executor: the only holder of writers. It runs one action at a time under a grant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from bot.models import Action, ExecutionResult
from bot.ports import Progress
from tools.guard import granted

log = structlog.get_logger(__name__)

Handler = Callable[[Action, Progress], Awaitable[ExecutionResult]]


class Executor:
    def __init__(self, handlers: dict[str, Handler] | None = None) -> None:
        self._handlers: dict[str, Handler] = dict(handlers or {})

    def register(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    def handles(self, name: str) -> bool:
        return name in self._handlers

    async def run(self, action: Action, progress: Progress) -> ExecutionResult:
        handler = self._handlers.get(action.name)
        if handler is None:
            return ExecutionResult(
                status="failed",
                summary=f"No executor is configured for {action.name}; nothing was changed.",
            )
        try:
            with granted(action.id):
                return await handler(action, progress)
        except Exception as exc:
            log.exception("executor failed", action=action.name, action_id=action.id)
            return ExecutionResult(
                status="failed",
                summary=f"{action.name} failed: {exc}. The writer did not confirm what it "
                "changed; check /status before retrying.",
                details={"error": type(exc).__name__},
            )
