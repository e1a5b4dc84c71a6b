"""/sandbox break|heal: make a sandbox version fail its health checks, to show rollbacks.
Through the Gate like every other change."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.sdk import Arg, SkillContext, skill

USAGE = "/sandbox break|heal <service> <version>"


class FaultSlots(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verb: Literal["break", "heal"]
    service: str
    version: str


@skill(
    "sandbox",
    command="sandbox",
    usage=USAGE,
    summary="Sandbox only: make a version fail its health checks (break) or not (heal).",
    slots=FaultSlots,
    args=(Arg("verb", required=True), Arg("service", required=True), Arg("version", required=True)),
)
async def sandbox(ctx: SkillContext, s: FaultSlots) -> None:
    name = "sandbox.fault.inject" if s.verb == "break" else "sandbox.fault.clear"
    await ctx.act(
        name,
        f"{s.service}@{s.version}",
        params={"service": s.service.lower(), "version": s.version},
        summary=f"{s.verb} {s.service} {s.version} in the sandbox",
    )
