"""The quarterly delivery report for leadership: the KPIs for everyone, per team and per
service, a chart for each team, and the audit trail's summary (chain intact or not, what it
holds), as Markdown with PNG charts beside it, and a Notion page when Notion is configured."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.kpis import KpiReport, Period, chart, report


def _table(rows: list[tuple[str, KpiReport]]) -> list[str]:
    out = [
        "| | deploys | per day | lead time (h) | change failure rate | restore (h) | "
        "incidents | MTTA (min) | MTTR (min) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def f(v: float | None, pct: bool = False) -> str:
        if v is None:
            return "n/a"
        return f"{v:.0%}" if pct else f"{v:g}"

    for name, r in rows:
        out.append(
            f"| {name} | {r.deploys} | {r.deploys_per_day:g} | {f(r.lead_time_hours_median)} | "
            f"{f(r.change_failure_rate, True)} | {f(r.restore_hours_median)} | {r.incidents} | "
            f"{f(r.mtta_minutes)} | {f(r.mttr_minutes)} |"
        )
    return out


def write_report(
    events: list[Any],
    per: Period,
    teams: dict[str, str],
    audit: Any,  # bot.gate.audit.AuditLog
    out: Path,
    now: datetime,
) -> tuple[Path, str]:
    """Writes <out>/kpi-<period>.md and its charts; returns the path and the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    overall = report(events, per)
    team_rows = []
    charts = []
    for team in sorted(set(teams.values())):
        services = {s for s, t in teams.items() if t == team}
        rep = report(events, per, team=team, team_services=services)
        team_rows.append((team, rep))
        name = f"kpi-{per.name}-{team}.png"
        (out / name).write_bytes(chart(rep))
        charts.append((team, name))
    (out / f"kpi-{per.name}-all.png").write_bytes(chart(overall))
    service_rows = [(s, report(events, per, service=s)) for s in sorted(teams)]
    verify = audit.verify()
    kinds = Counter(r.kind for r in audit.records())
    lines = [
        f"# Delivery report {per.name}",
        "",
        f"{per.start:%Y-%m-%d} to {per.end:%Y-%m-%d}, from shipmate's own event log "
        f"(written {now:%Y-%m-%d %H:%M} UTC). Production deploys only; definitions in "
        "bot/kpis.py.",
        "",
        "## Everyone",
        "",
        *(f"- {k}: {v}" for k, v in overall.lines()),
        "",
        f"![deploys per day](kpi-{per.name}-all.png)",
        "",
        "## Teams",
        "",
        *_table(team_rows),
        "",
        *(f"![{team}]({name})" for team, name in charts),
        "",
        "## Services",
        "",
        *_table(service_rows),
        "",
        "## Audit trail",
        "",
        f"- Chain: {'intact' if verify.ok else 'BROKEN'} ({verify.records} records)",
        *(f"- {kind}: {n}" for kind, n in sorted(kinds.items())),
        *(f"- problem: {p}" for p in verify.problems[:10]),
        "",
    ]
    text = "\n".join(lines)
    path = out / f"kpi-{per.name}.md"
    path.write_text(text)
    return path, text
