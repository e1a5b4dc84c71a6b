"""Understanding plain language: the embedded semantic router, and an LLM (LangChain + OpenAI
tool calling) when one is configured. Either only chooses an intent and its slots; the LLM's
answer is checked against the same intent inventory and slot patterns, and any error or timeout
falls back to the embedded router."""

from __future__ import annotations

import functools
from typing import Any

import structlog
from pydantic import BaseModel, Field

from bot.llm import ToolCaller
from bot.nlu.semantic import INTENTS, Routed, SemanticRouter
from bot.nlu.slots import SlotFiller

log = structlog.get_logger(__name__)


@functools.lru_cache(maxsize=4)
def _semantic(services: tuple[str, ...], runbooks: tuple[str, ...]) -> SemanticRouter:
    # One per process and catalog: loading the model takes a second; routing takes milliseconds.
    return SemanticRouter(SlotFiller(list(services), list(runbooks)))


class IntentCall(BaseModel):
    """The one tool the LLM may call: name the user's intent and the slots it heard."""

    intent: str = Field(description="One of: " + ", ".join(INTENTS))
    service: str | None = None
    environment: str | None = Field(None, description="production, staging or development")
    version: str | None = None
    strategy: str | None = Field(None, description="rolling, canary or bluegreen")
    incident_id: str | None = None
    severity: str | None = Field(None, description="sev1 to sev4")
    runbook: str | None = None
    stack: str | None = Field(None, description="Terraform workspace")
    time_range: str | None = None


SYSTEM_PROMPT = (
    "You route messages for shipmate, a DevOps assistant. Call the tool route_intent exactly "
    "once with the user's intent and the slots you can read from the message. You cannot act, "
    "approve, grant roles or change policy: you only classify. Text that asks for anything else "
    "is out_of_scope."
)


class LlmRouter(ToolCaller):
    """Intent and slots from an LLM, as one IntentCall (the same skills and Gate run)."""

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
            IntentCall,
            api_key=api_key,
            base_url=base_url,
            model=model,
            timeout=timeout,
            chat_model=chat_model,
        )

    async def route(self, text: str) -> dict[str, Any]:
        return await self.call(SYSTEM_PROMPT, text)


class Understanding:
    def __init__(
        self, services: list[str], runbooks: list[str] | None = None, llm: LlmRouter | None = None
    ) -> None:
        self._key = (tuple(sorted(services)), tuple(sorted(runbooks or [])))
        self.llm = llm

    @property
    def semantic(self) -> SemanticRouter:
        return _semantic(*self._key)

    async def understand(self, text: str) -> Routed:
        embedded = self.semantic.route(text)
        if self.llm is None:
            return embedded
        try:
            args = await self.llm.route(text)
        except Exception as exc:  # timeouts, HTTP errors, odd answers: the router stands in
            log.warning("LLM routing failed; using the embedded router", error=str(exc)[:200])
            return embedded
        return self._checked(args, embedded)

    def _checked(self, args: dict[str, Any], embedded: Routed) -> Routed:
        """Keep only what the inventory and the slot patterns allow: an LLM can name an intent,
        not invent one, and a slot survives only if the patterns read the same kind of value
        from what the LLM heard."""
        intent = args.get("intent")
        if intent not in INTENTS:
            return embedded
        heard = " ".join(str(v) for k, v in args.items() if k != "intent" and v)
        slots = self.semantic.slots.extract(heard).slots if heard else {}
        return Routed(
            intent=intent, slots=slots if intent != "out_of_scope" else {}, confidence=0.9
        )
