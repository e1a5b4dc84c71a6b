"""/status and /help: what runs where, and what shipmate can do."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.sdk import Arg, NoSlots, Reply, SkillContext, UserError, skill


class StatusSlots(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str | None = None


@skill(
    "status",
    command="status",
    usage="/status [service]",
    summary="Show versions, replicas and health per service and environment.",
    slots=StatusSlots,
    args=(Arg("service"),),
    examples=("/status checkout",),
)
async def status(ctx: SkillContext, s: StatusSlots) -> None:
    fleet = await ctx.fleet.services()
    rows = [x for x in fleet if s.service is None or x.service == s.service.lower()]
    if not rows:
        names = ", ".join(sorted({x.service for x in fleet}))
        raise UserError(
            f"Unknown service '{s.service}'. Known services: {names}.", "/status [service]"
        )
    lines = []
    for x in rows:
        prev = f" (previous {x.previous_version})" if x.previous_version else ""
        health = (
            f"errors {x.health.error_rate:.1%}  p95 {x.health.latency_p95_ms:.0f} ms"
            if x.health
            else "health unknown"
        )
        lines.append(
            f"{x.service:<10} {x.environment:<11} {x.version:<10} {x.replicas:>2} "
            f"replicas  {x.status:<22} {health}{prev}"
        )
    target = rows[0].target
    await ctx.reply(Reply(text=f"Fleet ({target}):\n" + "\n".join(lines)))


@skill(
    "help",
    command="help",
    usage="/help",
    summary="List what shipmate can do.",
    slots=NoSlots,
    aliases=("help",),
)
async def help_(ctx: SkillContext, _: NoSlots) -> None:
    lines = [f"{spec.usage:<72} {spec.summary}" for spec in ctx.registry.skills.values()]
    await ctx.reply(Reply(text="Commands:\n" + "\n".join(lines)))
