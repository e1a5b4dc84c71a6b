"""An LLM-written narrative for a postmortem draft (LangChain + OpenAI, when configured). The
model gets the numbered facts (timeline T<n>, events E:<id>) and must return sentences, each
with the sources it rests on; a sentence citing nothing, or a source that does not exist, is
dropped. The draft marks the narrative as the model's."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from bot.llm import ToolCaller
from bot.postmortem import Postmortem

SYSTEM = (
    "You write the narrative section of an incident postmortem for engineers. Use only the "
    "numbered facts given. Write 3 to 8 short, plain sentences in time order. Every sentence "
    "must list the fact ids it rests on (T<n> for timeline entries, E:<id> for events). Do not "
    "guess causes the facts do not show; say what is unknown."
)


class Sentence(BaseModel):
    text: str = Field(description="one sentence of the narrative")
    sources: list[str] = Field(description="the fact ids it rests on, e.g. ['T3', 'E:e12']")


class Narrative(BaseModel):
    """The incident's story, sentence by sentence, each with its sources."""

    sentences: list[Sentence]


def facts(pm: Postmortem) -> tuple[str, set[str]]:
    lines, refs = [], set()
    for i, e in enumerate(pm.timeline, start=1):
        lines.append(f"T{i}: {e.at:%Y-%m-%d %H:%M:%S} {e.actor} ({e.source}): {e.text}")
        refs.add(f"T{i}")
    for c in pm.changes:
        lines.append(f"{c.ref}: {c.text}")
        refs.add(c.ref)
    head = (
        f"Incident {pm.incident.id} ({pm.incident.severity}, service "
        f"{pm.incident.service or 'unknown'}): {pm.incident.title}. Duration {pm.duration}."
    )
    return head + "\n" + "\n".join(lines), refs


class Narrator(ToolCaller):
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        model: str,
        timeout: float,
        chat_model: Any = None,
    ) -> None:
        super().__init__(
            Narrative,
            api_key=api_key,
            base_url=base_url,
            model=model,
            timeout=timeout,
            max_retries=1,
            chat_model=chat_model,
        )

    async def narrate(self, pm: Postmortem) -> tuple[str | None, int]:
        """The narrative with its citations, and how many sentences were dropped for citing
        nothing that exists (None when none survive)."""
        text, refs = facts(pm)
        try:
            args = await self.call(SYSTEM, text)
        except ValueError:  # no tool call: no narrative
            return None, 0
        story = Narrative.model_validate(args)
        kept, dropped = [], 0
        for s in story.sentences:
            cited = [r.strip() for r in s.sources if r.strip()]
            if cited and all(r in refs for r in cited) and s.text.strip():
                kept.append(f"{s.text.strip()} [{', '.join(cited)}]")
            else:
                dropped += 1
        return (" ".join(kept) or None), dropped
