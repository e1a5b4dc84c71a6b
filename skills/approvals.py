"""approve / deny: decide a pending approval (the most recent one you can see, without an id)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.sdk import Arg, Reply, ReplyKind, SkillContext, skill


class VoteSlots(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None


@skill(
    "approve",
    command="approve",
    usage="approve [id]",
    summary="Approve a pending action (you must be eligible and not the requester).",
    slots=VoteSlots,
    args=(Arg("id"),),
    aliases=("approve",),
)
async def approve(ctx: SkillContext, s: VoteSlots) -> None:
    answer = await ctx.vote(s.id, approve=True)
    await ctx.reply(Reply(kind=ReplyKind(answer.kind), text=answer.text))


@skill(
    "deny",
    command="deny",
    usage="deny [id]",
    summary="Deny a pending action (or withdraw your own request).",
    slots=VoteSlots,
    args=(Arg("id"),),
    aliases=("deny",),
)
async def deny(ctx: SkillContext, s: VoteSlots) -> None:
    answer = await ctx.vote(s.id, approve=False)
    await ctx.reply(Reply(kind=ReplyKind(answer.kind), text=answer.text))
