"""Rollouts in flight: what each one is doing now (strategy, traffic share, the last verdict),
and the mailbox through which a human's Promote or Abort reaches it. One per process; the
executor's writers fill it, skills read it (to show status and to hand policy the verdict a
promote would override)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

from bot.models import Frozen

Command = Literal["promote", "abort"]


class ActiveRollout(Frozen):
    service: str
    environment: str
    strategy: str
    version: str
    from_version: str
    phase: str  # e.g. "canary 25%", "green up", "rollback window"
    verdict: str | None = None  # the last step's judge verdict: pass | marginal | fail
    started_at: datetime


class RolloutControl:
    def __init__(self) -> None:
        self._active: dict[tuple[str, str], ActiveRollout] = {}
        self._mail: dict[tuple[str, str], asyncio.Queue[tuple[Command, str]]] = {}

    @property
    def reader(self) -> RolloutsReader:
        return RolloutsReader(self)

    # ---- the reading half ---------------------------------------------------------------
    def active(self, service: str, environment: str) -> ActiveRollout | None:
        return self._active.get((service, environment))

    def all(self) -> list[ActiveRollout]:
        return sorted(self._active.values(), key=lambda r: (r.service, r.environment))

    # ---- used by writers ----------------------------------------------------------------
    @contextmanager
    def running(self, rollout: ActiveRollout) -> Iterator[None]:
        key = (rollout.service, rollout.environment)
        if key in self._active:
            raise RuntimeError(f"{key[0]} in {key[1]} already has a rollout in flight")
        self._active[key] = rollout
        self._mail[key] = asyncio.Queue()
        try:
            yield
        finally:
            self._active.pop(key, None)
            self._mail.pop(key, None)

    def update(self, service: str, environment: str, **changes: object) -> None:
        key = (service, environment)
        if key in self._active:
            self._active[key] = self._active[key].model_copy(update=changes)

    def send(self, service: str, environment: str, command: Command, by: str) -> bool:
        """Deliver a human's command to the rollout in flight; False if there is none."""
        mail = self._mail.get((service, environment))
        if mail is None:
            return False
        mail.put_nowait((command, by))
        return True

    async def wait(
        self, service: str, environment: str, seconds: float
    ) -> tuple[Command, str] | None:
        """Sleep up to `seconds`, waking early for a command (returned with who sent it)."""
        mail = self._mail.get((service, environment))
        if mail is None:
            await asyncio.sleep(seconds)
            return None
        if not mail.empty() or seconds <= 0:
            await asyncio.sleep(0)
            return None if mail.empty() else mail.get_nowait()
        try:
            return await asyncio.wait_for(mail.get(), timeout=seconds)
        except TimeoutError:
            return None


class RolloutsReader:
    """The reading half, for skills: steering goes through the Gate, never around it."""

    def __init__(self, control: RolloutControl | None = None) -> None:
        self._control = control or RolloutControl()

    def active(self, service: str, environment: str) -> ActiveRollout | None:
        return self._control.active(service, environment)

    def all(self) -> list[ActiveRollout]:
        return self._control.all()
