"""/kpi [service|team] [period]: the four DORA metrics, MTTA/MTTR and the automation
scorecard from shipmate's own event log, with a chart of production deploys per day."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.kpis import chart
from bot.sdk import Arg, Reply, SkillContext, UserError, skill

USAGE = "/kpi [service|team] [period: 30d | 2026Q4 | 2026-11]"


class KpiSlots(BaseModel):
    model_config = ConfigDict(extra="forbid")

    who: str | None = None
    period: str | None = None


@skill(
    "kpi",
    command="kpi",
    usage=USAGE,
    summary="Delivery KPIs (DORA, MTTA/MTTR, automation) for a service, team or everyone.",
    slots=KpiSlots,
    args=(Arg("who"), Arg("period")),
    examples=("/kpi checkout 30d", "/kpi payments 2026Q4"),
)
async def kpi(ctx: SkillContext, s: KpiSlots) -> None:
    who, when = s.who, s.period
    if who and when is None and (who[:1].isdigit()):
        who, when = None, who  # `/kpi 2026Q4`
    try:
        report = ctx.kpis.report(who, when)
    except ValueError as exc:
        raise UserError(str(exc), USAGE) from None
    subject = report.service or report.team or "all services"
    await ctx.reply(
        Reply(
            text=f"Delivery KPIs for {subject}, {report.period.name} "
            f"({report.period.start:%Y-%m-%d} to {report.period.end:%Y-%m-%d}):",
            fields=tuple(report.lines()),
            image=chart(report),
            image_name=f"kpi-{subject}-{report.period.name}.png".replace(" ", "-"),
        )
    )
