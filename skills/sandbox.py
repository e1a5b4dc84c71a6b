"""/sandbox break|heal <service> <version>: make a sandbox version fail its health checks (or
not), to show rollbacks; /sandbox drift <workspace>: change the sandbox AWS outside Terraform,
to show drift. Through the Gate like every other change."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.sdk import Arg, SkillContext, UserError, skill

USAGE = "/sandbox break|heal <service> <version> | /sandbox drift <workspace>"


class SandboxSlots(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verb: Literal["break", "heal", "drift"]
    service: str
    version: str | None = None


@skill(
    "sandbox",
    command="sandbox",
    usage=USAGE,
    summary="Sandbox only: make a version fail its health checks (break) or not (heal), or "
    "change the sandbox AWS outside Terraform (drift).",
    slots=SandboxSlots,
    args=(Arg("verb", required=True), Arg("service", required=True), Arg("version")),
)
async def sandbox(ctx: SkillContext, s: SandboxSlots) -> None:
    if s.verb == "drift":
        await ctx.act(
            "sandbox.drift.inject",
            f"terraform/{s.service}",
            params={"workspace": s.service},
            summary=f"change {s.service}'s sandbox AWS outside Terraform",
        )
        return
    if s.version is None:
        raise UserError(f"Which version of {s.service}?", USAGE)
    name = "sandbox.fault.inject" if s.verb == "break" else "sandbox.fault.clear"
    await ctx.act(
        name,
        f"{s.service}@{s.version}",
        params={"service": s.service.lower(), "version": s.version},
        summary=f"{s.verb} {s.service} {s.version} in the sandbox",
    )
