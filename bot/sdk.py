"""The skill SDK: everything a skill may use. Skills import this module and pure helpers only.

A skill is an async function declared with `@skill(...)`. It reads the world through read-only
ports on its context, talks through the context, and changes the world only by `ctx.act(...)`,
which hands an Action to the Gate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from bot.channel import Button, MessageRef, Reply, ReplyKind, SafeChannel
from bot.incidents import IncidentReader
from bot.kpis import KpiSource
from bot.models import (
    Action,
    ApprovalAnswer,
    Origin,
    Outcome,
    OutcomeStatus,
    Principal,
    Request,
)
from bot.ports import ChangeInfo, DeployReader, HistoryReader, RecentHistory, ServiceState
from bot.rollouts import ActiveRollout, RolloutsReader
from bot.runbooks import Runbook
from bot.terraform import DriftReader
from learner.features import DeployFeatures
from learner.suggest import DeployContext, Suggester, Suggestion

# (event type, topic, data, correlation id, actor) -> audited and published
Publish = Callable[[str, str, dict[str, Any], str, str], Awaitable[None]]

__all__ = [
    "Action",
    "ActiveRollout",
    "Arg",
    "Button",
    "ChangeInfo",
    "DeployContext",
    "DeployFeatures",
    "NoSlots",
    "Outcome",
    "OutcomeStatus",
    "RecentHistory",
    "Registry",
    "Reply",
    "ReplyKind",
    "ServiceState",
    "SkillContext",
    "SkillSpec",
    "Suggestion",
    "UserError",
    "followup",
    "skill",
]


class UserError(Exception):
    """Bad input or an impossible request: the user gets this sentence (and the usage)."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage


class NoSlots(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Arg:
    """One argument of a slash command: positional, `keyword VALUE` (e.g. `to prod`) or a flag
    (`--strategy canary` / `--strategy=canary`)."""

    name: str
    required: bool = False
    keyword: str | None = None
    flag: str | None = None
    rest: bool = False  # a last positional that takes every remaining word (a title, a note)
    switch: bool = False  # a flag without a value (`--dry-run`)


SkillFn = Callable[["SkillContext", Any], Awaitable[None]]
FollowupFn = Callable[["SkillContext", Action, Outcome], Awaitable[None]]


@dataclass(frozen=True)
class SkillSpec:
    name: str
    command: str
    usage: str
    summary: str
    fn: SkillFn
    slots: type[BaseModel] = NoSlots
    args: tuple[Arg, ...] = ()
    examples: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # bare words that also invoke it, e.g. "approve"


def skill(
    name: str,
    *,
    command: str,
    usage: str,
    summary: str,
    slots: type[BaseModel] = NoSlots,
    args: Iterable[Arg] = (),
    examples: Iterable[str] = (),
    aliases: Iterable[str] = (),
) -> Callable[[SkillFn], SkillFn]:
    def mark(fn: SkillFn) -> SkillFn:
        fn.__shipmate_skill__ = SkillSpec(  # type: ignore[attr-defined]
            name=name,
            command=command,
            usage=usage,
            summary=summary,
            fn=fn,
            slots=slots,
            args=tuple(args),
            examples=tuple(examples),
            aliases=tuple(aliases),
        )
        return fn

    return mark


def followup(name: str) -> Callable[[FollowupFn], FollowupFn]:
    """Marks a hook told the result of an action it named (Action.followup); by name, so the
    story continues after an approval that arrives hours later or after a restart."""

    def mark(fn: FollowupFn) -> FollowupFn:
        fn.__shipmate_followup__ = name  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass
class Registry:
    skills: dict[str, SkillSpec] = field(default_factory=dict)
    followups: dict[str, FollowupFn] = field(default_factory=dict)

    @classmethod
    def from_modules(cls, *modules: ModuleType) -> Registry:
        registry = cls()
        for module in modules:
            for value in vars(module).values():
                spec = getattr(value, "__shipmate_skill__", None)
                if isinstance(spec, SkillSpec):
                    registry.add(spec)
                hook = getattr(value, "__shipmate_followup__", None)
                if isinstance(hook, str):
                    registry.followups[hook] = value
        return registry

    def add(self, spec: SkillSpec) -> None:
        if spec.name in self.skills:
            raise ValueError(f"skill {spec.name} is declared twice")
        self.skills[spec.name] = spec

    def by_command(self, word: str) -> SkillSpec | None:
        for spec in self.skills.values():
            if word == spec.command or word in spec.aliases:
                return spec
        return None


class GatePort(Protocol):
    async def submit(self, action: Action, channel: SafeChannel) -> Outcome: ...

    async def vote(
        self, approver: Principal, approval_id: str | None, approve: bool, channel: SafeChannel
    ) -> ApprovalAnswer: ...


class SkillContext:
    """What a running skill sees: who asked, where, the read-only ports, and ctx.act."""

    def __init__(
        self,
        *,
        principal: Principal,
        origin: Origin,
        channel: SafeChannel,
        gate: GatePort,
        fleet: DeployReader,
        suggester: Suggester,
        history: HistoryReader,
        registry: Registry,
        now: Callable[[], datetime],
        request: Request | None = None,
        correlation_id: str | None = None,
        rollouts: RolloutsReader | None = None,
        publish: Publish | None = None,
        drift: DriftReader | None = None,
        incidents: IncidentReader | None = None,
        runbooks: dict[str, Runbook] | None = None,
        kpis: KpiSource | None = None,
    ) -> None:
        self.principal = principal
        self._kpis = kpis
        self._incidents = incidents
        self.runbooks = runbooks or {}
        self._publish = publish
        self._drift = drift
        self.rollouts = rollouts or RolloutsReader()
        self.origin = origin
        self.channel = channel
        self.fleet = fleet
        self.history = history
        self.registry = registry
        self.request = request
        self.thread: str | None = origin.thread
        self.correlation_id = correlation_id or (request.id if request else "")
        self._gate = gate
        self._suggester = suggester
        self._now = now

    def now(self) -> datetime:
        return self._now()

    @property
    def drift(self) -> DriftReader:
        if self._drift is None:
            raise UserError("No Terraform workspaces are configured here.")
        return self._drift

    @property
    def kpis(self) -> KpiSource:
        if self._kpis is None:
            raise UserError("KPIs are not set up here.")
        return self._kpis

    @property
    def incidents(self) -> IncidentReader:
        if self._incidents is None:
            raise UserError("Incidents are not set up here.")
        return self._incidents

    async def publish(self, event_type: str, topic: str, data: dict[str, Any]) -> None:
        """An event that is not an action's (a drift found by a read): audited and published
        like every other, with this story's correlation id."""
        if self._publish is not None:
            await self._publish(event_type, topic, data, self.correlation_id, self.principal.name)

    async def reply(self, reply: Reply | str, kind: ReplyKind = ReplyKind.INFO) -> MessageRef:
        message = reply if isinstance(reply, Reply) else Reply(text=reply, kind=kind)
        return await self.channel.post(message, self.thread)

    async def progress(self, step: str | Reply) -> None:
        """A step of long work, in this story's thread (a Progress for readers)."""
        await self.reply(
            step if isinstance(step, Reply) else Reply(kind=ReplyKind.PROGRESS, text=step)
        )

    async def open_thread(self, parent: Reply, correlation_id: str | None = None) -> MessageRef:
        """Post the parent message of a new story; later replies go into its thread. A request
        made inside a thread keeps that thread."""
        if correlation_id:
            self.correlation_id = correlation_id
        if self.thread is not None:
            return await self.channel.post(parent, self.thread)
        ref = await self.channel.post(parent, None)
        self.thread = ref.id or None
        return ref

    async def update_parent(self, reply: Reply) -> None:
        if self.thread:
            await self.channel.update(
                MessageRef(channel=self.origin.channel, id=self.thread), reply
            )

    def suggest(self, context: DeployContext) -> Suggestion:
        return self._suggester.suggest(context)

    async def act(
        self,
        name: str,
        target: str,
        *,
        params: dict[str, Any] | None = None,
        risk: dict[str, Any] | None = None,
        summary: str = "",
        followup: str | None = None,
    ) -> Outcome:
        request_id = self.request.id if self.request else self.correlation_id
        action = Action(
            name=name,
            target=target,
            params=params or {},
            risk=risk or {},
            requester=self.principal,
            origin=self.origin.model_copy(update={"thread": self.thread}),
            correlation_id=self.correlation_id or request_id,
            idempotency_key=Action.key_for(request_id, name, target),
            followup=followup,
            summary=summary,
        )
        return await self._gate.submit(action, self.channel)

    async def vote(self, approval_id: str | None, approve: bool) -> ApprovalAnswer:
        return await self._gate.vote(self.principal, approval_id, approve, self.channel)
