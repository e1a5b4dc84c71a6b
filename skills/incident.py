"""Incidents: `/incident declare <title> [sev1-4] [service]` pages on-call and opens a war room;
`/incident ack|update|note|role|resolve|status|timeline [id] ...` run it. Inside a war room
the incident's id may be left out. Every change is an Action through the Gate."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from bot.incidents import Incident
from bot.runbooks import suggest
from bot.sdk import Arg, Reply, SkillContext, UserError, skill

USAGE = (
    "/incident declare <title> [sev1-4] [service] | /incident ack|resolve|status|timeline [id] "
    "| /incident update|note [id] <text> | /incident role [id] commander|comms <person>"
)
VERBS = {"declare", "ack", "acknowledge", "update", "note", "role", "resolve", "status", "timeline"}
_ID = re.compile(r"^(?:INC-)?(\d+)$", re.I)
_SEV = re.compile(r"^sev([1-4])$", re.I)


class IncidentSlots(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verb: str
    text: str = ""


def _split_id(ctx: SkillContext, words: list[str]) -> tuple[Incident, list[str]]:
    """The incident named first (INC-3 or 3), or the one whose war room this is."""
    if words and (m := _ID.match(words[0])):
        incident = ctx.incidents.get(f"INC-{m.group(1)}")
        if incident is None:
            raise UserError(f"There is no incident INC-{m.group(1)}.", USAGE)
        return incident, words[1:]
    here = ctx.incidents.by_channel(ctx.origin.channel)
    if here is not None:
        return here, words
    open_ = ctx.incidents.open()
    if len(open_) == 1:
        return open_[0], words
    names = ", ".join(i.id for i in open_) or "none open"
    raise UserError(f"Which incident? ({names})", USAGE)


@skill(
    "incident",
    command="incident",
    usage=USAGE,
    summary="Declare and run incidents: page, war room, roles, updates, timeline, resolve.",
    slots=IncidentSlots,
    args=(Arg("verb", required=True), Arg("text", rest=True)),
    examples=("/incident declare checkout latency sev2 checkout", "/incident ack INC-1"),
)
async def incident(ctx: SkillContext, s: IncidentSlots) -> None:
    verb = s.verb.lower()
    words = s.text.split()
    if verb not in VERBS:
        raise UserError(f"Unknown incident command '{s.verb}'.", USAGE)
    if verb == "declare":
        await _declare(ctx, words)
        return
    if verb == "status" and not words and ctx.incidents.by_channel(ctx.origin.channel) is None:
        await _list(ctx)
        return
    found, rest = _split_id(ctx, words)
    target = f"incident/{found.id}"
    if verb in {"ack", "acknowledge"}:
        await ctx.act(
            "pagerduty.incident.acknowledge",
            target,
            params={"incident": found.id},
            summary=f"acknowledge {found.id}",
        )
    elif verb == "resolve":
        await ctx.act(
            "pagerduty.incident.resolve",
            target,
            params={"incident": found.id},
            summary=f"resolve {found.id}",
        )
    elif verb in {"update", "note"}:
        if not rest:
            raise UserError(f"What is the {verb}? /incident {verb} {found.id} <text>", USAGE)
        name = "incident.status.update" if verb == "update" else "pagerduty.incident.note"
        await ctx.act(
            name,
            target,
            params={"incident": found.id, "text": " ".join(rest)},
            summary=f"{verb} {found.id}",
        )
    elif verb == "role":
        if len(rest) != 2 or rest[0].lower() not in {"commander", "comms"}:
            raise UserError("Say /incident role [id] commander|comms <person>.", USAGE)
        person = rest[1].lstrip("@")
        await ctx.act(
            "incident.role.assign",
            target,
            params={"incident": found.id, "role": rest[0].lower(), "person": person},
            summary=f"make {person} {rest[0].lower()} of {found.id}",
        )
    elif verb == "status":
        await ctx.reply(_card(found))
    elif verb == "timeline":
        entries = ctx.incidents.timeline(found.id)
        lines = [f"{e.at:%H:%M:%S} {e.actor:<9} [{e.source}] {e.text}" for e in entries]
        await ctx.reply(
            Reply(text=f"Timeline of {found.id} ({len(entries)} entries):\n" + "\n".join(lines))
        )


def _card(found: Incident) -> Reply:
    fields = [
        ("Status", found.status),
        ("Severity", found.severity.upper()),
        ("Service", found.service or "-"),
        ("Commander", found.commander or "unassigned"),
        ("War room", f"#{found.channel_name}" if found.channel_name else "-"),
    ]
    if found.last_update:
        fields.append(("Last update", found.last_update))
    return Reply(text=f"{found.id} · {found.title}", fields=tuple(fields))


async def _list(ctx: SkillContext) -> None:
    open_ = ctx.incidents.open()
    if not open_:
        await ctx.reply("No open incidents.")
        return
    lines = [
        f"{i.id:<7} {i.severity.upper()} {i.status:<12} {i.service or '-':<10} {i.title}"
        for i in open_
    ]
    await ctx.reply(Reply(text="Open incidents:\n" + "\n".join(lines)))


async def _declare(ctx: SkillContext, words: list[str]) -> None:
    known = {s.service for s in await ctx.fleet.services()}
    severity, service = "sev3", None
    while words:
        if m := _SEV.match(words[-1]):
            severity = f"sev{m.group(1)}"
        elif words[-1].lower() in known and service is None:
            service = words[-1].lower()
        else:
            break
        words = words[:-1]
    title = " ".join(words).strip()
    if not title:
        raise UserError("What is happening? /incident declare <title> [sev1-4] [service]", USAGE)
    if len(title) > 120:
        raise UserError("Keep the title under 120 characters; details go in updates.", USAGE)
    books = suggest(ctx.runbooks, title, service)
    await ctx.act(
        "pagerduty.incident.create",
        f"incident/{service or 'general'}",
        params={
            "title": title,
            "severity": severity,
            "service": service,
            "runbooks": [b.name for b in books],
        },
        summary=f"declare a {severity.upper()} incident: {title}",
    )
