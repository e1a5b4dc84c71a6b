"""/runbook list | show <name> | run <name> [k=v ...] [--incident INC-n] [--dry-run].

A run goes step by step, each step through the Gate (reads as runbook.query, changes as their
own Actions with the runbook's risk hint), the next one started when the last one's result
comes back (so a step waiting for approval holds the run, and a restart keeps it: the run's
state travels in the action). Every step is told in the thread and, with --incident, in the
incident's timeline. --dry-run shows every step with its parameters and does nothing."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.runbooks import Runbook, RunbookError, holds, render
from bot.sdk import (
    Action,
    Arg,
    Outcome,
    OutcomeStatus,
    Reply,
    ReplyKind,
    SkillContext,
    UserError,
    followup,
    skill,
)

USAGE = "/runbook list | show <name> | run <name> [k=v ...] [--incident INC-n] [--dry-run]"


class RunbookSlots(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verb: str
    name: str | None = None
    rest: str = ""
    incident: str | None = None
    dry: str | None = None


def _book(ctx: SkillContext, name: str | None) -> Runbook:
    if not name:
        raise UserError("Which runbook? /runbook list shows them.", USAGE)
    book = ctx.runbooks.get(name)
    if book is None:
        raise UserError(f"No runbook '{name}'. Runbooks: {', '.join(sorted(ctx.runbooks))}.", USAGE)
    return book


def _step_line(book: Runbook, i: int, args: dict[str, str], results: dict[str, Any]) -> str:
    step = book.steps[i]
    params = ", ".join(f"{k}={render(v, args, results, keep=True)}" for k, v in step.params.items())
    kind = f"read {step.read}" if step.read else f"{step.action} (risk {step.risk})"
    when = f" when {step.when}" if step.when else ""
    return f"{i + 1}. {render(step.title, args, results)}: {kind} [{params}]{when}"


@skill(
    "runbook",
    command="runbook",
    usage=USAGE,
    summary="List, show and run runbooks; every step goes through policy.",
    slots=RunbookSlots,
    args=(
        Arg("verb", required=True),
        Arg("name"),
        Arg("rest", rest=True),
        Arg("incident", flag="--incident"),
        Arg("dry", flag="--dry-run", switch=True),
    ),
    examples=("/runbook run restart-deployment service=checkout --dry-run",),
)
async def runbook(ctx: SkillContext, s: RunbookSlots) -> None:
    verb = s.verb.lower()
    if verb == "list":
        lines = [
            f"{b.name:<22} {b.title}" for b in sorted(ctx.runbooks.values(), key=lambda b: b.name)
        ]
        await ctx.reply(Reply(text="Runbooks:\n" + "\n".join(lines)))
        return
    book = _book(ctx, s.name)
    if verb == "show":
        params = "; ".join(
            f"{n}{'' if p.required and p.default is None else '?'}: {p.description}"
            + (f" (default {p.default})" if p.default else "")
            for n, p in book.params.items()
        )
        await ctx.reply(
            Reply(
                text=f"{book.name}: {book.title}. {book.description.strip()}",
                fields=(
                    ("Parameters", params or "none"),
                    *(
                        (f"Step {i + 1}", _step_line(book, i, {}, {})[3:])
                        for i in range(len(book.steps))
                    ),
                ),
            )
        )
        return
    if verb != "run":
        raise UserError(f"Unknown runbook command '{s.verb}'.", USAGE)
    given: dict[str, str] = {}
    for word in s.rest.split():
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise UserError(f"'{word}' is not key=value.", USAGE)
        given[key] = value
    try:
        args = book.arguments(given)
    except RunbookError as exc:
        raise UserError(str(exc), USAGE) from None
    incident = s.incident.upper() if s.incident else None
    if incident is None and ctx._incidents is not None:
        here = ctx.incidents.by_channel(ctx.origin.channel)
        incident = here.id if here else None
    if s.dry:
        lines = [_step_line(book, i, args, {}) for i in range(len(book.steps))]
        await ctx.reply(
            Reply(
                text=f"Dry run of {book.name} ({book.title}): nothing is done.\n"
                + "\n".join(lines),
                fields=(
                    (
                        "Run it",
                        f"/runbook run {book.name} "
                        + " ".join(f"{k}={v}" for k, v in given.items())
                        + (f" --incident {incident}" if incident else ""),
                    ),
                ),
            )
        )
        return
    title = f"Runbook {book.name} ({book.title}), run by {ctx.principal.name}"
    await ctx.open_thread(
        Reply(text=title, fields=(("Status", "running"),)),
        correlation_id=f"rb-{ctx.correlation_id}",
    )
    await _advance(
        ctx, book, {"args": args, "results": {}, "next": 0, "incident": incident, "title": title}
    )


async def _tell(ctx: SkillContext, state: dict[str, Any], text: str, kind: ReplyKind) -> None:
    await ctx.reply(Reply(kind=kind, text=text))
    services = [state["args"]["service"]] if "service" in state["args"] else []
    await ctx.publish(
        "runbook.step",
        "incidents",
        {
            "incident": state.get("incident"),
            "services": services,
            "text": text,
            "runbook": state.get("name"),
        },
    )


async def _advance(ctx: SkillContext, book: Runbook, state: dict[str, Any]) -> None:
    """Run from step `next`: skip what its `when` rules out, hand the next step to the Gate
    and stop there (its result comes back in runbook.continue)."""
    state = {**state, "name": book.name}
    args, results = state["args"], state["results"]
    i = int(state["next"])
    while i < len(book.steps):
        step = book.steps[i]
        if not holds(step.when, results, args):
            results[step.name] = {"status": "skipped"}
            await _tell(
                ctx,
                state,
                f"{i + 1}. Skipped {render(step.title, args, results)}: "
                f"{render(step.when or '', args, results)} does not hold.",
                ReplyKind.INFO,
            )
            i += 1
            continue
        params = {k: render(v, args, results) for k, v in step.params.items()}
        name = step.action or "runbook.query"
        if step.read:
            params["read"] = step.read
        where = params.get("service") or params.get("node") or params.get("cache") or book.name
        target = f"{where}/{params.get('environment', '')}".rstrip("/")
        outcome = await ctx.act(
            name,
            target,
            params={**params, "runbook": {**state, "next": i}},
            risk={"level": step.risk, "runbook": book.name, "step": step.name},
            summary=f"{book.name} step {i + 1}: {render(step.title, args, results)}",
            followup="runbook.continue",
        )
        if outcome.status in (OutcomeStatus.STARTED, OutcomeStatus.PENDING):
            return  # runbook.continue picks it up
        await _tell(
            ctx,
            state,
            f"Runbook {book.name} stopped at step {i + 1} "
            f"({outcome.status.value}): {outcome.message or 'see above'}.",
            ReplyKind.ERROR,
        )
        await ctx.update_parent(
            Reply(
                kind=ReplyKind.ERROR,
                text=state["title"],
                fields=(("Status", f"stopped at step {i + 1}"),),
            )
        )
        return
    done = sum(1 for r in results.values() if r.get("status") == "succeeded")
    await _tell(
        ctx,
        state,
        f"Runbook {book.name} finished: {done} step(s) done, {len(results) - done} skipped.",
        ReplyKind.SUCCESS,
    )
    await ctx.update_parent(
        Reply(kind=ReplyKind.SUCCESS, text=state["title"], fields=(("Status", "finished"),))
    )


@followup("runbook.continue")
async def runbook_continue(ctx: SkillContext, action: Action, outcome: Outcome) -> None:
    state = dict(action.params["runbook"])
    book = ctx.runbooks.get(state["name"])
    if book is None:
        await ctx.reply(
            Reply(
                kind=ReplyKind.ERROR, text=f"Runbook {state['name']} is gone; the run stops here."
            )
        )
        return
    i = int(state["next"])
    step = book.steps[i]
    result = {**outcome.details, "status": outcome.status.value, "summary": outcome.message}
    state["results"] = {**state["results"], step.name: result}
    if outcome.status is not OutcomeStatus.SUCCEEDED:
        await _tell(
            ctx,
            state,
            f"Runbook {book.name} stopped at step {i + 1} "
            f"({outcome.status.value}): {outcome.message}",
            ReplyKind.ERROR,
        )
        await ctx.update_parent(
            Reply(
                kind=ReplyKind.ERROR,
                text=state["title"],
                fields=(("Status", f"stopped at step {i + 1}"),),
            )
        )
        return
    await _tell(
        ctx,
        state,
        f"{i + 1}. {render(step.title, state['args'], state['results'])}: {outcome.message}",
        ReplyKind.SUCCESS,
    )
    await _advance(ctx, book, {**state, "next": i + 1})
