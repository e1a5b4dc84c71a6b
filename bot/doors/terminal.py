"""The terminal door (`shipmate chat`): the same pipeline as Slack, rendered with rich. Thread
replies are indented under their parent; `/as NAME` switches who is speaking."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from bot.channel import MessageRef, Reply, ReplyKind
from bot.compose import App
from bot.models import Origin, Request, Transport

STYLE: dict[ReplyKind, tuple[str, str]] = {
    ReplyKind.INFO: ("•", "default"),
    ReplyKind.PROGRESS: ("…", "dim"),
    ReplyKind.SUCCESS: ("✓", "green"),
    ReplyKind.WARNING: ("!", "yellow"),
    ReplyKind.DENIED: ("⛔", "magenta"),
    ReplyKind.ERROR: ("✖", "bold red"),
    ReplyKind.APPROVAL: ("?", "cyan"),
}


class TerminalChannel:
    transport: Transport = "terminal"

    def __init__(self, console: Console, channel_id: str, files: Path | None = None) -> None:
        self.console = console
        self.channel_id = channel_id
        self.files = files  # where images (charts) are saved, since a terminal shows none
        self.errors = 0
        self._ids = itertools.count(1)

    def _render(self, reply: Reply, indent: str, label: str) -> None:
        icon, style = STYLE[reply.kind]
        lines = reply.text.splitlines() or [""]
        self.console.print(
            f"{indent}[{style}]{icon} {escape(label)}{escape(lines[0])}[/]", highlight=False
        )
        for line in lines[1:]:
            self.console.print(f"{indent}  [{style}]{escape(line)}[/]", highlight=False)
        for key, value in reply.fields:
            self.console.print(
                f"{indent}    [dim]{escape(key)}:[/] {escape(value)}", highlight=False
            )
        if reply.image is not None and self.files is not None:
            self.files.mkdir(parents=True, exist_ok=True)
            path = self.files / reply.image_name
            path.write_bytes(reply.image)
            self.console.print(f"{indent}    [cyan]chart:[/] {escape(str(path))}", highlight=False)
        if reply.buttons:
            labels = " ".join("[" + b.label + "]" for b in reply.buttons)
            typed = " / ".join(
                f"`{b.value}`" if b.action == "say" else f"`{b.action} {b.value}`"
                for b in reply.buttons
            )
            who = (
                " as an eligible approver" if any(b.action != "say" for b in reply.buttons) else ""
            )
            self.console.print(
                f"{indent}    [cyan]buttons:[/] {escape(labels)}  (type {escape(typed)}{who})",
                highlight=False,
            )

    async def post(self, reply: Reply, thread: str | None = None) -> MessageRef:
        if reply.kind is ReplyKind.ERROR:
            self.errors += 1
        message_id = f"m{next(self._ids)}"
        self._render(reply, "    │ " if thread else "", "shipmate: " if not thread else "")
        return MessageRef(channel=self.channel_id, id=message_id, thread=thread)

    async def update(self, ref: MessageRef, reply: Reply) -> None:
        self._render(reply, "    │ " if ref.thread else "", f"[updated {ref.id}] ")


class TerminalDoor:
    def __init__(self, app: App, console: Console | None = None, user: str | None = None) -> None:
        self.app = app
        self.console = console or Console()
        self.user = user or app.settings.chat_user
        self.channel = TerminalChannel(
            self.console, app.settings.chat_channel, app.settings.home / "charts"
        )
        app.channels.register("terminal", lambda origin: self.channel)

    def _request(self, text: str) -> Request:
        return Request(
            principal=self.app.directory.principal(self.user),
            origin=Origin(transport="terminal", channel=self.channel.channel_id),
            text=text,
            received_at=self.app.clock.now(),
        )

    async def say(self, text: str, wait: bool = True) -> None:
        """One line of input. `wait` also waits for the work it started (rollouts included)."""
        text = text.strip()
        if text.startswith("/as"):
            self._switch(text[3:].strip())
            return
        await self.app.pipeline.handle(self._request(text), self.channel)
        if wait:
            await self.app.pipeline.drain()

    def _switch(self, name: str) -> None:
        if not name or not self.app.directory.knows(name):
            self.channel.errors += 1
            known = ", ".join(self.app.directory.names())
            self.console.print(f"[bold red]✖ Unknown user '{escape(name)}'. Known: {known}.[/]")
            return
        self.user = name
        roles = ", ".join(self.app.directory.principal(name).roles) or "no roles"
        self.console.print(f"[dim]now speaking as {name} ({roles})[/]")

    async def run_script(self, lines: Iterable[str]) -> int:
        await self.app.gate.recover()
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            self.console.print(f"\n[bold]{escape(self.user)} ›[/] {escape(line)}", highlight=False)
            await self.say(line)
        await self.app.pipeline.drain()
        return 1 if self.channel.errors else 0

    async def run_interactive(self) -> int:
        self.console.print(
            "[bold]shipmate chat[/] against the [yellow]sandbox[/] (simulated fleet, "
            "not a cluster). /help for commands, /as NAME to switch user, "
            "/quit to leave."
        )
        while True:
            try:
                line = await asyncio.to_thread(self.console.input, f"[bold]{self.user} ›[/] ")
            except (EOFError, KeyboardInterrupt):
                break
            if line.strip() in {"/quit", "/exit"}:
                break
            if line.strip():
                await self.say(line, wait=False)
        await self.app.pipeline.drain()
        return 0
