"""The `shipmate` command."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot import __version__
from bot.settings import Settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="shipmate: the DevOps agent that lives in chat.",
)
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit chain.")
app.add_typer(audit_app, name="audit")


def _settings() -> Settings:
    settings = Settings()
    from bot.logs import configure

    configure(settings.log_level, settings.log_path)
    return settings


@app.command()
def chat(
    script: Annotated[
        Path | None,
        typer.Option(help="Run one input per line, then exit (1 if any reply reports an error)."),
    ] = None,
    user: Annotated[str | None, typer.Option(help="Who is speaking at the start.")] = None,
) -> None:
    """Talk to shipmate in the terminal, against the sandbox."""
    from bot.compose import build
    from bot.doors.terminal import TerminalDoor

    settings = _settings()
    lines: list[str] | None = None
    if script is not None:
        if not script.is_file():
            typer.echo(f"No such script: {script}", err=True)
            raise typer.Exit(2)
        lines = script.read_text().splitlines()

    async def main() -> int:
        shipmate = build(settings)
        door = TerminalDoor(shipmate, Console(soft_wrap=True), user)
        try:
            if lines is not None:
                return await door.run_script(lines)
            return await door.run_interactive()
        finally:
            await shipmate.close()

    raise typer.Exit(asyncio.run(main()))


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain: exit 0 when intact, 1 when any record was edited, removed or moved."""
    from bot.gate.audit import AuditLog
    from bot.store import Store

    settings = _settings()
    report = AuditLog(Store(settings.db_path)).verify()
    if report.ok:
        typer.echo(f"audit chain intact: {report.records} records")
        raise typer.Exit(0)
    typer.echo(f"audit chain BROKEN ({report.records} records):", err=True)
    for problem in report.problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path | None, typer.Option(help="File (default stdout).")] = None,
) -> None:
    """Write the audit chain as JSON lines."""
    from bot.gate.audit import AuditLog
    from bot.store import Store

    settings = _settings()
    log = AuditLog(Store(settings.db_path))
    if out is None:
        log.export(sys.stdout)
        return
    with out.open("w", encoding="utf-8") as fh:
        n = log.export(fh)
    typer.echo(f"wrote {n} records to {out}")


@app.command()
def version() -> None:
    """Print shipmate's version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
