"""The one pipeline every door calls: Request -> Router -> skill(ctx). Never silent: every
failure becomes one clear sentence where the request came from; the detail goes to the log."""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import ValidationError

from bot.channel import Channel, Channels, Reply, ReplyKind, SafeChannel
from bot.clock import Clock
from bot.events import Event, EventBus
from bot.gate.audit import AuditLog
from bot.gate.gate import Gate
from bot.incidents import IncidentReader
from bot.kpis import KpiSource
from bot.models import Action, Outcome, Principal, Request
from bot.ports import DeployReader, HistoryReader
from bot.rollouts import RolloutsReader
from bot.router import RouteAnswer, RouteError, Router
from bot.runbooks import Runbook
from bot.sdk import Registry, SkillContext, UserError
from bot.store import Store
from bot.tasks import Tasks
from bot.terraform import DriftReader
from learner.suggest import Suggester

log = structlog.get_logger(__name__)


def _validation_sentence(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where and not msg.startswith(where) else msg)
    return "; ".join(parts).rstrip(".") + "."


class Pipeline:
    def __init__(
        self,
        *,
        registry: Registry,
        router: Router,
        gate: Gate,
        fleet: DeployReader,
        suggester: Suggester,
        history: HistoryReader,
        audit: AuditLog,
        bus: EventBus,
        clock: Clock,
        tasks: Tasks,
        channels: Channels,
        store: Store,
        rollouts: RolloutsReader | None = None,
        drift: DriftReader | None = None,
        incidents: IncidentReader | None = None,
        runbooks: dict[str, Runbook] | None = None,
        kpis: KpiSource | None = None,
    ) -> None:
        self.kpis = kpis
        self.incidents = incidents
        self.runbooks = runbooks or {}
        self.rollouts = rollouts or RolloutsReader()
        self.drift = drift
        self.registry = registry
        self.router = router
        self.gate = gate
        self.fleet = fleet
        self.suggester = suggester
        self.history = history
        self.audit = audit
        self.bus = bus
        self.clock = clock
        self.tasks = tasks
        self.channels = channels
        self.store = store
        gate.notify = self._followup

    def _context(
        self,
        principal: Principal,
        channel: SafeChannel,
        request: Request | None,
        action: Action | None = None,
    ) -> SkillContext:
        origin = action.origin if action else request.origin if request else None
        assert origin is not None
        return SkillContext(
            principal=principal,
            origin=origin,
            channel=channel,
            gate=self.gate,
            fleet=self.fleet,
            suggester=self.suggester,
            history=self.history,
            registry=self.registry,
            now=self.clock.now,
            request=request,
            correlation_id=action.correlation_id if action else None,
            rollouts=self.rollouts,
            publish=self.publish,
            drift=self.drift,
            incidents=self.incidents,
            runbooks=self.runbooks,
            kpis=self.kpis,
        )

    async def publish(
        self, event_type: str, topic: str, data: dict[str, Any], correlation_id: str, actor: str
    ) -> None:
        now = self.clock.now()
        event = Event(
            type=event_type,
            time=now,
            topic=topic,
            correlation_id=correlation_id,
            actor=actor,
            data=data,
        )
        with self.store.tx():  # audited and staged in one step, like the Gate's events
            self.audit.append(
                time=now,
                kind="event",
                actor=actor,
                door="shipmate",
                correlation_id=correlation_id,
                payload={"type": event_type, **data},
            )
            self.bus.stage(event)
        await self.bus.flush()

    async def handle(self, request: Request, channel: Channel) -> None:
        safe = channel if isinstance(channel, SafeChannel) else SafeChannel(channel)
        bound = log.bind(
            request_id=request.id, user=request.principal.name, door=request.origin.transport
        )
        now = self.clock.now()
        event = Event(
            type="request.received",
            time=now,
            topic="requests",
            correlation_id=request.id,
            actor=request.principal.name,
            data={"text": request.text, "door": request.origin.transport},
        )
        with self.store.tx():  # the audit record and its event in one step (the outbox)
            self.audit.append(
                time=now,
                kind="request",
                actor=request.principal.name,
                door=request.origin.transport,
                correlation_id=request.id,
                payload={
                    "text": request.text,
                    "channel": request.origin.channel,
                    "roles": list(request.principal.roles),
                },
            )
            self.bus.stage(event)
        await self.bus.flush()
        thread = request.origin.thread
        try:
            intent = await self.router.aroute(request.text)
            spec = self.registry.skills[intent.skill]
            try:
                slots = spec.slots.model_validate(intent.slots)
            except ValidationError as exc:
                raise UserError(_validation_sentence(exc), spec.usage) from None
            ctx = self._context(request.principal, safe, request)
            await spec.fn(ctx, slots)
        except RouteAnswer as answer:
            await safe.post(answer.reply, thread)
        except (RouteError, UserError) as exc:
            text = str(exc) + (f" Usage: {exc.usage}" if exc.usage else "")
            await safe.post(Reply(kind=ReplyKind.ERROR, text=text), thread)
        except Exception:
            bound.exception("skill failed")
            await safe.post(
                Reply(
                    kind=ReplyKind.ERROR,
                    text=f"Something went wrong while handling that (reference "
                    f"{request.id}); the details are in shipmate's log.",
                ),
                thread,
            )

    async def _followup(self, action: Action, outcome: Outcome) -> None:
        channel = self.channels.resolve(action.origin)
        if channel is None:
            log.error("no channel for the origin of an action", origin=action.origin.model_dump())
            return
        hook = self.registry.followups.get(action.followup or "")
        if hook is None:
            kind = ReplyKind.SUCCESS if outcome.status == "succeeded" else ReplyKind.ERROR
            await channel.post(Reply(kind=kind, text=outcome.message), action.origin.thread)
            return
        ctx = self._context(action.requester, channel, None, action)
        try:
            await hook(ctx, action, outcome)
        except Exception:
            log.exception("follow-up failed", followup=action.followup, action_id=action.id)
            await channel.post(
                Reply(
                    kind=ReplyKind.ERROR,
                    text=f"{action.summary}: {outcome.status}. (Reporting the "
                    "details failed; see shipmate's log.)",
                ),
                action.origin.thread,
            )

    async def drain(self) -> None:
        await self.tasks.drain()
