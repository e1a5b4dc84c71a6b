"""The postmortem.publish writer: the draft (bot.postmortem) written as Markdown under
SHIPMATE_HOME/postmortems, published as a Notion page when Notion is configured, and its link
posted in the incident's war room."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.channel import Channels, Reply, ReplyKind
from bot.clock import Clock
from bot.models import Action, ExecutionResult, Origin
from bot.ports import Progress
from bot.postmortem import draft, render
from tools.guard import writer
from tools.incidents.desk import IncidentDesk


class PostmortemWriter:
    def __init__(
        self,
        desk: IncidentDesk,
        events: Any,  # bot.events.EventLog
        clock: Clock,
        channels: Channels,
        folder: Path,
        *,
        notion: Any | None = None,  # tools.notion.publisher.NotionPublisher
        template: Path | None = None,
        narrator: Any | None = None,  # bot.narrative.Narrator, when an LLM is configured
    ) -> None:
        self.narrator = narrator
        self.desk = desk
        self.events = events
        self.clock = clock
        self.channels = channels
        self.folder = folder
        self.notion = notion
        self.template = template

    @writer
    async def publish(self, action: Action, progress: Progress) -> ExecutionResult:
        incident = self.desk.get(str(action.params["incident"]))
        if incident is None:
            return ExecutionResult(
                status="failed", summary=f"No incident {action.params['incident']}."
            )
        pm = draft(incident, self.desk.timeline(incident.id), self.events.read(), self.clock.now())
        llm_note = ""
        if self.narrator is not None:
            try:
                story, dropped = await self.narrator.narrate(pm)
            except Exception as exc:  # the templated draft stands on its own
                story, dropped = None, 0
                llm_note = f" The LLM narrative failed ({type(exc).__name__}); templated text only."
            if story:
                source = (
                    f"written by an LLM ({self.narrator.model_name}); each sentence cites "
                    "its sources"
                )
                if dropped:
                    source += f"; {dropped} sentence(s) citing nothing that exists were dropped"
                pm = pm.model_copy(update={"narrative": story, "narrative_source": source})
        text = render(pm, self.template)
        path = self.folder / f"{incident.id}.md"
        await asyncio.to_thread(self._write, path, text)
        where = [str(path)]
        note = ""
        if self.notion is not None:
            try:
                where.append(
                    await self.notion.publish(f"Postmortem {incident.id}: {incident.title}", text)
                )
            except Exception as exc:  # the Markdown draft stands; say what Notion said
                note = f" Notion: {exc}"
        links = " and ".join(where)
        if incident.channel:
            room = self.channels.resolve(
                Origin(transport=action.origin.transport, channel=incident.channel)
            )
            if room is not None:
                await room.post(
                    Reply(kind=ReplyKind.INFO, text=f"Postmortem draft for {incident.id}: {links}")
                )
        self.desk.note_timeline(
            incident.id, action.requester.name, "command", f"Postmortem drafted: {links}"
        )
        return ExecutionResult(
            status="succeeded",
            summary=f"Postmortem draft for {incident.id}: {links} ({len(pm.timeline)} timeline "
            f"entries, {len(pm.candidates)} root-cause candidate(s)).{note}{llm_note}",
            details={"path": str(path), "links": where, "candidates": len(pm.candidates)},
        )

    @staticmethod
    def _write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
