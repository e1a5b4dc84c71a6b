"""What a door must provide so the pipeline can talk: post and update messages, in threads."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from enum import StrEnum
from typing import ClassVar, Protocol

import structlog

from bot.models import Frozen, Origin, Transport
from bot.redact import redact

log = structlog.get_logger(__name__)


class ReplyKind(StrEnum):
    INFO = "info"
    PROGRESS = "progress"
    SUCCESS = "success"
    WARNING = "warning"
    DENIED = "denied"  # a policy answer: not an error
    ERROR = "error"  # the request could not be done as asked
    APPROVAL = "approval"  # asks an eligible human to decide


class Button(Frozen):
    label: str
    action: str  # e.g. "approve"
    value: str  # e.g. the approval id
    style: str | None = None  # "primary" | "danger"


class Reply(Frozen):
    text: str
    kind: ReplyKind = ReplyKind.INFO
    fields: tuple[tuple[str, str], ...] = ()
    buttons: tuple[Button, ...] = ()
    ephemeral_to: str | None = None  # only this principal sees it (Slack ephemeral)
    image: bytes | None = None  # a chart, uploaded with the message (PNG)
    image_name: str = "chart.png"

    def redacted(self) -> Reply:
        return self.model_copy(
            update={
                "text": redact(self.text),
                "fields": tuple((k, redact(v)) for k, v in self.fields),
            }
        )


class MessageRef(Frozen):
    channel: str
    id: str
    thread: str | None = None


class Channel(Protocol):
    """A place to talk. `thread` is the id of a parent message; None means top level."""

    transport: Transport
    channel_id: str

    async def post(self, reply: Reply, thread: str | None = None) -> MessageRef: ...

    async def update(self, ref: MessageRef, reply: Reply) -> None: ...


class SafeChannel:
    """Wraps every door's channel: redacts all outgoing text, and never lets a failure to talk
    crash the work (it is logged; the audit and event log keep the story). Updates of one
    message are applied in the order they were made, even when one is slowed by retries (a
    deployment's final status must not be overwritten by an earlier "in progress")."""

    _update_locks: ClassVar[weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock]] = (
        weakref.WeakValueDictionary()
    )

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.transport: Transport = inner.transport
        self.channel_id = inner.channel_id

    async def post(self, reply: Reply, thread: str | None = None) -> MessageRef:
        try:
            return await self.inner.post(reply.redacted(), thread)
        except Exception:
            log.exception("posting a reply failed", channel=self.channel_id, thread=thread)
            return MessageRef(channel=self.channel_id, id="", thread=thread)

    async def update(self, ref: MessageRef, reply: Reply) -> None:
        if not ref.id:
            return
        key = (self.transport, ref.channel, ref.id)
        lock = self._update_locks.get(key)
        if lock is None:
            lock = self._update_locks[key] = asyncio.Lock()
        async with lock:
            try:
                await self.inner.update(ref, reply.redacted())
            except Exception:
                log.exception("updating a message failed", channel=self.channel_id, id=ref.id)


ChannelFactory = Callable[[Origin], Channel]


class Channels:
    """Finds the channel for an origin, so work that resumes later (after an approval, after a
    restart) reports where the request came from."""

    def __init__(self) -> None:
        self._factories: dict[str, ChannelFactory] = {}

    def register(self, transport: Transport, factory: ChannelFactory) -> None:
        self._factories[transport] = factory

    def resolve(self, origin: Origin) -> SafeChannel | None:
        factory = self._factories.get(origin.transport)
        return SafeChannel(factory(origin)) if factory else None
