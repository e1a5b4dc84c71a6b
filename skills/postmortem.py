"""/postmortem <incident>: a draft from the incident's timeline, events and decisions, as
Markdown (and a Notion page when Notion is configured), its link posted in the war room."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from bot.sdk import Arg, SkillContext, UserError, skill

USAGE = "/postmortem <incident>"
_ID = re.compile(r"^(?:INC-)?(\d+)$", re.I)


class PostmortemSlots(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident: str | None = None


@skill(
    "postmortem",
    command="postmortem",
    usage=USAGE,
    summary="Draft a postmortem from an incident's timeline (Markdown, and Notion if set up).",
    slots=PostmortemSlots,
    args=(Arg("incident"),),
    examples=("/postmortem INC-1",),
)
async def postmortem(ctx: SkillContext, s: PostmortemSlots) -> None:
    if s.incident:
        m = _ID.match(s.incident)
        if m is None:
            raise UserError(f"'{s.incident}' is not an incident id (INC-3 or 3).", USAGE)
        found = ctx.incidents.get(f"INC-{m.group(1)}")
        if found is None:
            raise UserError(f"There is no incident INC-{m.group(1)}.", USAGE)
    else:
        found = ctx.incidents.by_channel(ctx.origin.channel)
        if found is None:
            raise UserError("Which incident? /postmortem INC-3 (or ask in its war room).", USAGE)
    await ctx.act(
        "postmortem.publish",
        f"incident/{found.id}",
        params={"incident": found.id},
        summary=f"draft the postmortem of {found.id}",
    )
