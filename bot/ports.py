"""What skills may read about the world: read-only ports the composition root fills with tools.
Pure data and protocols only, so skills can depend on it without reaching any tool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from bot.channel import Reply
from bot.models import Frozen

# How a writer reports a step of long work in the story's thread: one sentence, or a full
# message (a verdict with its fields, Promote / Abort buttons).
Progress = Callable[[str | Reply], Awaitable[None]]


class Health(Frozen):
    request_rate: float  # requests per second
    error_rate: float  # 0..1
    latency_p95_ms: float


class ServiceState(Frozen):
    service: str
    environment: str
    tier: int
    version: str
    previous_version: str | None
    replicas: int
    status: str  # "stable" | "rolling out" | "rolling back" | ...
    updated_at: datetime
    health: Health | None  # None: no telemetry for it yet
    target: str  # what kind of deploy target holds it, e.g. "sandbox"


class ChangeInfo(Frozen):
    """What a deploy changes, as the CI or the deploy target knows it (None: unknown)."""

    lines: int | None = None
    files: int | None = None
    migrations: int | None = None
    tests_passed: bool | None = None
    coverage_delta: float | None = None
    dependents: int | None = None


class RecentHistory(Frozen):
    deploys: int  # of this service in this environment, in the window
    failures: int  # of those, rolled back or failed
    hours_since_last: float | None


class DeployReader(Protocol):
    async def services(self) -> list[ServiceState]: ...

    async def service(self, name: str, environment: str) -> ServiceState | None: ...

    async def change(self, name: str, from_version: str, to_version: str) -> ChangeInfo | None: ...


class HistoryReader(Protocol):
    def recent(self, service: str, environment: str, days: int = 7) -> RecentHistory: ...
