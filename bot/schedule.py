"""Scheduled work: drift checks of workspaces that ask for them (`schedule_minutes`), run as
`/drift <workspace>` by shipmate itself, told in the workspace's channel on the door that
started the schedule. A check is due when the last one (of any origin) is older than its
interval, so a restart does not re-run what just ran."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Protocol

import structlog

from bot.channel import Channel, Channels
from bot.clock import Clock
from bot.models import Origin, Principal, Request, Transport
from bot.terraform import DriftReport, Workspace

log = structlog.get_logger(__name__)

AUTOMATION = Principal(name="shipmate", roles=("automation",))


class Scheduled(Protocol):
    def workspaces(self) -> list[Workspace]: ...

    def last_check(self, name: str) -> DriftReport | None: ...


class Handler(Protocol):
    async def handle(self, request: Request, channel: Channel) -> None: ...


class DriftSchedule:
    def __init__(
        self,
        workspaces: Scheduled,
        pipeline: Handler,
        channels: Channels,
        clock: Clock,
        transport: Transport,
        default_channel: str | None,
    ) -> None:
        self.workspaces = workspaces
        self.pipeline = pipeline
        self.channels = channels
        self.clock = clock
        self.transport = transport
        self.default_channel = default_channel

    def due(self) -> list[Workspace]:
        now = self.clock.now()
        found = []
        for ws in self.workspaces.workspaces():
            if ws.schedule_minutes <= 0:
                continue
            last = self.workspaces.last_check(ws.name)
            if last is None or now - last.checked_at >= timedelta(minutes=ws.schedule_minutes):
                found.append(ws)
        return found

    async def run_due(self) -> list[str]:
        ran = []
        for ws in self.due():
            where = ws.channel or self.default_channel
            origin = Origin(transport=self.transport, channel=where or "")
            channel = self.channels.resolve(origin) if where else None
            if channel is None:
                log.warning("no channel for scheduled drift check", workspace=ws.name)
                continue
            request = Request(
                principal=AUTOMATION,
                origin=origin,
                text=f"/drift {ws.name}",
                received_at=self.clock.now(),
            )
            await self.pipeline.handle(request, channel)
            ran.append(ws.name)
        return ran

    async def loop(self, every_seconds: float) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:  # a failed round is logged; the next one runs anyway
                log.exception("scheduled drift round failed")
            await asyncio.sleep(every_seconds)
