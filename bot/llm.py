"""A chat model that must answer by calling one tool (OpenAI, or any OpenAI-compatible
server, through LangChain): plain-language routing and postmortem narratives both use it."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel


class ToolCaller:
    def __init__(
        self,
        tool: type[BaseModel],
        *,
        api_key: str,
        base_url: str | None,
        model: str,
        timeout: float,
        max_retries: int = 0,
        chat_model: Any = None,
    ) -> None:
        if chat_model is None:
            from langchain_openai import ChatOpenAI

            chat_model = ChatOpenAI(
                model=model,
                api_key=api_key,
                base_url=base_url,
                timeout=timeout,
                max_retries=max_retries,
                temperature=0,
            )
        self._chat = chat_model
        self._model = chat_model.bind_tools([tool], tool_choice=tool.__name__)
        self.model_name = model
        self.timeout = timeout

    async def call(self, system: str, user: str) -> dict[str, Any]:
        """The arguments the model called the tool with; ValueError if it called none."""
        from langchain_core.messages import HumanMessage, SystemMessage

        reply = await asyncio.wait_for(
            self._model.ainvoke([SystemMessage(system), HumanMessage(user)]), self.timeout
        )
        calls = getattr(reply, "tool_calls", None) or []
        if not calls:
            raise ValueError("the model called no tool")
        return dict(calls[0].get("args") or {})

    async def close(self) -> None:
        client = getattr(self._chat, "root_async_client", None)
        if client is not None:
            await client.close()
