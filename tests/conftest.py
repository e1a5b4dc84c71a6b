from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.channel import MessageRef, Reply, ReplyKind
from bot.clock import FakeClock
from bot.compose import App, build
from bot.gate.policy import PolicyEngine
from bot.models import Origin, Request, Transport
from bot.settings import Settings


@dataclass
class Posted:
    id: str
    reply: Reply
    thread: str | None


@dataclass
class RecordingChannel:
    """A door's channel for tests: keeps every post and update in order."""

    channel_id: str = "#test"
    transport: Transport = "test"
    posts: list[Posted] = field(default_factory=list)
    updates: list[tuple[MessageRef, Reply]] = field(default_factory=list)

    async def post(self, reply: Reply, thread: str | None = None) -> MessageRef:
        posted = Posted(id=f"m{len(self.posts) + 1}", reply=reply, thread=thread)
        self.posts.append(posted)
        return MessageRef(channel=self.channel_id, id=posted.id, thread=thread)

    async def update(self, ref: MessageRef, reply: Reply) -> None:
        self.updates.append((ref, reply))

    def kinds(self) -> list[ReplyKind]:
        return [p.reply.kind for p in self.posts]

    def texts(self) -> list[str]:
        return [p.reply.text for p in self.posts]

    def of(self, kind: ReplyKind) -> list[Reply]:
        return [p.reply for p in self.posts if p.reply.kind is kind]

    def clear(self) -> None:
        self.posts.clear()
        self.updates.clear()


@dataclass
class Harness:
    app: App
    channel: RecordingChannel
    clock: FakeClock

    async def say(self, user: str, text: str, wait: bool = True) -> None:
        request = Request(
            principal=self.app.directory.principal(user),
            origin=Origin(transport="test", channel=self.channel.channel_id),
            text=text,
            received_at=self.clock.now(),
        )
        await self.app.pipeline.handle(request, self.channel)
        if wait:
            await self.app.pipeline.drain()


def make_harness(home: Path, engine: PolicyEngine | None = None, **settings: Any) -> Harness:
    clock = FakeClock()
    options: dict[str, Any] = {"sandbox_step_seconds": 0, **settings}
    app = build(Settings(home=home, **options), clock=clock, engine=engine)
    channel = RecordingChannel()
    app.channels.register("test", lambda origin: channel)
    return Harness(app=app, channel=channel, clock=clock)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = make_harness(tmp_path / "home")
    yield h
    await h.app.close()
