"""A local OpenAI-compatible server on 127.0.0.1: POST /v1/chat/completions answered with a
tool call (the shape the OpenAI API returns), or slowly, or with an error, as a test asks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.local_http import serve


class LocalOpenAI:
    def __init__(self, answer: Callable[[str], dict[str, Any]]) -> None:
        self.answer = answer  # user text -> tool-call arguments
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> LocalOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner, self.port = await serve(app)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _complete(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if request.headers.get("Authorization") != "Bearer sk-test-key-0000000000000000":
            return web.json_response({"error": {"message": "bad key", "type": "auth"}}, status=401)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.json_response(
                {"error": {"message": "boom", "type": "server_error"}}, status=self.status
            )
        tool = body["tools"][0]["function"]["name"]
        user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        arguments = json.dumps(self.answer(user))
        return web.json_response(
            {
                "id": "chatcmpl-local",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "local"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {"name": tool, "arguments": arguments},
                                }
                            ],
                        },
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        )
