"""Terraform drift: `/drift [workspace]` checks (also on a schedule), the report attribute by
attribute grouped by likely cause in the workspace's thread, a drift event on the bus;
`/drift fix <workspace>` plans the revert, and applying it goes through policy and approval
(terraform.apply); `/drift ignore <workspace> [days] [address]` snoozes the report."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from bot.sdk import (
    Action,
    Arg,
    Button,
    Outcome,
    OutcomeStatus,
    Reply,
    ReplyKind,
    SkillContext,
    UserError,
    followup,
    skill,
)
from bot.terraform import CAUSE_TITLES, DriftReport, ResourceDrift, TerraformError

USAGE = "/drift [workspace] | /drift fix <workspace> | /drift ignore <workspace> [days] [address]"
VERBS = {"check", "fix", "ignore", "list"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class DriftSlots(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verb: str | None = None
    workspace: str | None = None
    days: str | None = None
    address: str | None = None

    @field_validator("workspace")
    @classmethod
    def _ws(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError(f"'{value}' is not a workspace name")
        return value


def _value(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, list) and all(isinstance(x, dict) for x in v):
        v = [{k: x for k, x in item.items() if x not in (None, "", [], {}, False)} for item in v]
    text = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "..."


def describe(r: ResourceDrift) -> str:
    if r.action == "delete":
        return "deleted outside Terraform (the code still declares it)"
    parts = []
    for c in r.changes:
        if isinstance(c.before, list) or isinstance(c.after, list):
            if c.after:
                parts.append(f"{c.path}: added {_value(c.after)}")
            if c.before:
                parts.append(f"{c.path}: removed {_value(c.before)}")
        else:
            parts.append(f"{c.path}: {_value(c.before)} -> {_value(c.after)}")
    return "; ".join(parts)


def report_replies(report: DriftReport) -> list[Reply]:
    """One message per likely cause, each resource with what changed (before -> after)."""
    replies = []
    for cause, title in CAUSE_TITLES.items():
        group = [r for r in report.active if r.cause == cause]
        if group:
            replies.append(
                Reply(
                    kind=ReplyKind.WARNING,
                    text=f"{title} ({len(group)}):",
                    fields=tuple((r.address, describe(r)) for r in group),
                )
            )
    return replies


def _buttons(workspace: str) -> tuple[Button, ...]:
    return (
        Button(label="Fix", action="say", value=f"/drift fix {workspace}", style="primary"),
        Button(label="Ignore 7 days", action="say", value=f"/drift ignore {workspace} 7"),
    )


def _resolve(s: DriftSlots) -> tuple[str, str | None, str | None, str | None]:
    """`/drift prod-infra` reads as a check of prod-infra; `/drift fix prod-infra` as a fix."""
    if s.verb is not None and s.verb.lower() not in VERBS:
        if s.days is not None or s.address is not None:
            raise UserError(f"Unknown drift command '{s.verb}'.", USAGE)
        return "check", s.verb, s.workspace, None
    return (s.verb or "check").lower(), s.workspace, s.days, s.address


@skill(
    "drift",
    command="drift",
    usage=USAGE,
    summary="Check Terraform workspaces for drift, fix it behind policy, or snooze it.",
    slots=DriftSlots,
    args=(Arg("verb"), Arg("workspace"), Arg("days"), Arg("address")),
    examples=("/drift sandbox-aws", "/drift fix sandbox-aws", "/drift ignore sandbox-aws 7"),
)
async def drift(ctx: SkillContext, s: DriftSlots) -> None:
    verb, workspace, days, address = _resolve(s)
    if workspace is None:
        if verb in {"fix", "ignore"}:
            raise UserError(f"Which workspace? /drift {verb} <workspace>.", USAGE)
        await _list(ctx)
        return
    if ctx.drift.workspace(workspace) is None:
        names = ", ".join(w.name for w in ctx.drift.workspaces()) or "none configured"
        raise UserError(f"Unknown workspace '{workspace}'. Known: {names}.", USAGE)
    if verb == "check":
        await check(ctx, workspace)
    elif verb == "fix":
        await _fix(ctx, workspace)
    elif verb == "ignore":
        await _ignore(ctx, workspace, days, address)
    else:
        await _list(ctx)


async def _list(ctx: SkillContext) -> None:
    spaces = ctx.drift.workspaces()
    if not spaces:
        await ctx.reply("No Terraform workspaces are configured.")
        return
    lines = []
    for w in spaces:
        when = f"every {w.schedule_minutes} min" if w.schedule_minutes else "on demand"
        lines.append(
            f"{w.name:<16} {w.environment:<11} checked {when}; owners {', '.join(w.owners) or '-'}"
        )
    await ctx.reply(Reply(text="Terraform workspaces:\n" + "\n".join(lines)))


async def check(ctx: SkillContext, workspace: str) -> DriftReport | None:
    title = f"Drift check of {workspace}, requested by {ctx.principal.name}"
    await ctx.open_thread(
        Reply(text=title, fields=(("Status", "checking"),)),
        correlation_id=f"drift-{ctx.correlation_id}",
    )
    await ctx.reply(
        Reply(
            kind=ReplyKind.PROGRESS, text=f"Refresh-only plan of {workspace} (nothing is changed)."
        )
    )
    try:
        report = await ctx.drift.check(workspace, ctx.progress)
    except TerraformError as exc:
        await ctx.reply(Reply(kind=ReplyKind.ERROR, text=f"The drift check failed: {exc}"))
        await ctx.update_parent(
            Reply(kind=ReplyKind.ERROR, text=title, fields=(("Status", "check failed"),))
        )
        return None
    snoozed = len(report.resources) - len(report.active)
    note = f" ({snoozed} snoozed)" if snoozed else ""
    if report.clean:
        await ctx.reply(
            Reply(
                kind=ReplyKind.SUCCESS,
                text=f"No drift: {workspace} matches its code{note} "
                f"(checked in {report.seconds:g} s).",
            )
        )
        await ctx.update_parent(
            Reply(kind=ReplyKind.SUCCESS, text=title, fields=(("Status", "no drift"),))
        )
    else:
        for reply in report_replies(report):
            await ctx.reply(reply)
        n = len(report.active)
        await ctx.reply(
            Reply(
                kind=ReplyKind.WARNING,
                text=f"{n} resource{'s' * (n != 1)} drifted from the code in {workspace}{note} "
                f"(checked in {report.seconds:g} s). Fix plans the revert; applying it "
                "goes through policy and approval.",
                buttons=_buttons(workspace),
            )
        )
        await ctx.update_parent(
            Reply(
                kind=ReplyKind.WARNING,
                text=title,
                fields=(("Status", f"{n} drifted"),),
                buttons=_buttons(workspace),
            )
        )
    ws = ctx.drift.workspace(workspace)
    await ctx.publish(
        "drift.detected" if not report.clean else "drift.checked",
        "drift",
        {
            "workspace": workspace,
            "services": list(ws.services) if ws else [],
            "resources": [r.model_dump(mode="json") for r in report.active],
            "snoozed": snoozed,
            "seconds": report.seconds,
        },
    )
    return report


async def _fix(ctx: SkillContext, workspace: str) -> None:
    ws = ctx.drift.workspace(workspace)
    assert ws is not None
    title = f"Fix drift in {workspace}, requested by {ctx.principal.name}"
    await ctx.open_thread(
        Reply(text=title, fields=(("Status", "planning"),)),
        correlation_id=f"drift-{ctx.correlation_id}",
    )
    try:
        plan = await ctx.drift.plan_fix(workspace, ctx.progress)
    except TerraformError as exc:
        await ctx.reply(Reply(kind=ReplyKind.ERROR, text=f"Planning the fix failed: {exc}"))
        await ctx.update_parent(
            Reply(kind=ReplyKind.ERROR, text=title, fields=(("Status", "planning failed"),))
        )
        return
    if not plan.changes:
        await ctx.reply(
            Reply(kind=ReplyKind.SUCCESS, text=f"Nothing to fix: {workspace} matches its code.")
        )
        await ctx.update_parent(
            Reply(kind=ReplyKind.SUCCESS, text=title, fields=(("Status", "nothing to fix"),))
        )
        return
    lines = tuple((rc["address"], "/".join(rc["change"]["actions"])) for rc in plan.changes)
    await ctx.reply(
        Reply(
            text=f"Plan to bring {workspace} back to its code: {len(plan.changes)} change(s).",
            fields=(*lines, ("Plan", f"{plan.plan_id} (sha256 {plan.digest[:12]})")),
        )
    )
    outcome = await ctx.act(
        "terraform.apply",
        f"terraform/{workspace}",
        params={
            "workspace": workspace,
            "environment": ws.environment,
            "plan_id": plan.plan_id,
            "digest": plan.digest,
            "plan": plan.plan,
        },
        risk={"changes": len(plan.changes)},
        summary=f"apply the drift fix to {workspace} ({len(plan.changes)} changes)",
        followup="drift.fixed",
    )
    status = {
        OutcomeStatus.DENIED: ("denied by policy", ReplyKind.DENIED),
        OutcomeStatus.PENDING: ("waiting for approval", ReplyKind.APPROVAL),
        OutcomeStatus.STARTED: ("applying", ReplyKind.PROGRESS),
        OutcomeStatus.SHADOW: ("shadow mode: planned, not applied", ReplyKind.INFO),
    }.get(outcome.status, (outcome.status.value, ReplyKind.INFO))
    await ctx.update_parent(Reply(kind=status[1], text=title, fields=(("Status", status[0]),)))


@followup("drift.fixed")
async def drift_fixed(ctx: SkillContext, action: Action, outcome: Outcome) -> None:
    done = outcome.status is OutcomeStatus.SUCCEEDED
    kind = ReplyKind.SUCCESS if done else ReplyKind.ERROR
    if outcome.status in (OutcomeStatus.REJECTED, OutcomeStatus.EXPIRED):
        kind = ReplyKind.DENIED
    label = {
        OutcomeStatus.SUCCEEDED: "fixed",
        OutcomeStatus.REJECTED: "denied by approver",
        OutcomeStatus.EXPIRED: "approval expired",
    }.get(outcome.status, "fix failed")
    if outcome.message:
        await ctx.reply(Reply(kind=kind, text=("Done: " if done else "") + outcome.message))
    title = f"Fix drift in {action.params['workspace']}, requested by {action.requester.name}"
    await ctx.update_parent(Reply(kind=kind, text=title, fields=(("Status", label),)))


async def _ignore(ctx: SkillContext, workspace: str, days: str | None, address: str | None) -> None:
    try:
        n = int(days or 7)
    except ValueError:
        raise UserError(f"'{days}' is not a number of days.", USAGE) from None
    if not 1 <= n <= 90:
        raise UserError("Snooze drift for 1 to 90 days.", USAGE)
    await ctx.act(
        "terraform.drift.ignore",
        f"terraform/{workspace}",
        params={"workspace": workspace, "days": n, "address": address or "*"},
        summary=f"snooze drift reports of {address or 'all resources'} in {workspace} for {n} days",
    )
