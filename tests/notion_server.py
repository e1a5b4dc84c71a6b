"""A local Notion API on 127.0.0.1 (the client's base_url), speaking Notion's wire format for
what shipmate uses: bearer auth and the Notion-Version header, POST /v1/pages under a page or
a data source (validated), PATCH /v1/blocks/{id}/children (at most 100 children), GET
/v1/blocks/{id}/children with cursor pagination (`start_cursor`, `has_more`, `next_cursor`),
GET /v1/data_sources/{id}, error bodies as Notion sends them, and 429 with Retry-After."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from tests.local_http import serve

TOKEN = "ntn_test_token"


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"object": "error", "status": status, "code": code, "message": message},
        status=status,
        headers=headers,
    )


class LocalNotion:
    def __init__(self) -> None:
        self.pages: dict[str, dict[str, Any]] = {}
        self.children: dict[str, list[dict[str, Any]]] = {}
        self.data_sources = {
            "ds-postmortems": {
                "object": "data_source",
                "id": "ds-postmortems",
                "title": [{"plain_text": "Postmortems"}],
            }
        }
        self.parent_pages = {"page-parent"}
        self.rate_limit = 0  # answer this many requests with 429 first
        self.requests: list[tuple[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> LocalNotion:
        app = web.Application(middlewares=[self._gate])
        app.router.add_post("/v1/pages", self._create_page)
        app.router.add_patch("/v1/blocks/{id}/children", self._append)
        app.router.add_get("/v1/blocks/{id}/children", self._list)
        app.router.add_get("/v1/data_sources/{id}", self._data_source)
        self._runner, self.port = await serve(app)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _error(401, "unauthorized", "API token is invalid.")
        if not request.headers.get("Notion-Version"):
            return _error(400, "missing_version", "Notion-Version header failed validation.")
        if self.rate_limit > 0:
            self.rate_limit -= 1
            return _error(429, "rate_limited", "You have been rate limited.", {"Retry-After": "0"})
        return await handler(request)

    def _validate_children(self, children: Any) -> str | None:
        if not isinstance(children, list):
            return "body.children should be an array"
        if len(children) > 100:
            return f"body.children.length should be ≤ 100, instead was {len(children)}."
        for block in children:
            kind = block.get("type")
            if not kind or kind not in block:
                return "body.children[].type should be defined and match a block property"
            for item in block[kind].get("rich_text", []):
                if len(item.get("text", {}).get("content", "")) > 2000:
                    return "body.children[].rich_text[].text.content.length should be ≤ 2000"
        return None

    async def _create_page(self, request: web.Request) -> web.Response:
        body = await request.json()
        parent = body.get("parent") or {}
        if parent.get("type") == "page_id" and parent.get("page_id") not in self.parent_pages:
            return _error(
                404, "object_not_found", f"Could not find page with ID: {parent.get('page_id')}."
            )
        if (
            parent.get("type") == "data_source_id"
            and parent.get("data_source_id") not in self.data_sources
        ):
            return _error(404, "object_not_found", "Could not find data source.")
        if parent.get("type") not in {"page_id", "data_source_id"}:
            return _error(400, "validation_error", "body.parent should be a page or data source")
        if problem := self._validate_children(body.get("children", [])):
            return _error(400, "validation_error", problem)
        page_id = str(uuid.uuid4())
        page = {
            "object": "page",
            "id": page_id,
            "parent": parent,
            "properties": body.get("properties", {}),
            "url": f"https://www.notion.so/{page_id.replace('-', '')}",
        }
        self.pages[page_id] = page
        self.children[page_id] = list(body.get("children", []))
        return web.json_response(page)

    async def _append(self, request: web.Request) -> web.Response:
        block_id = request.match_info["id"]
        if block_id not in self.children:
            return _error(404, "object_not_found", f"Could not find block with ID: {block_id}.")
        body = await request.json()
        if problem := self._validate_children(body.get("children")):
            return _error(400, "validation_error", problem)
        self.children[block_id] += body["children"]
        return web.json_response(
            {"object": "list", "results": body["children"], "has_more": False, "next_cursor": None}
        )

    async def _list(self, request: web.Request) -> web.Response:
        block_id = request.match_info["id"]
        items = self.children.get(block_id)
        if items is None:
            return _error(404, "object_not_found", f"Could not find block with ID: {block_id}.")
        size = min(int(request.query.get("page_size", 100)), 100)
        start = int(request.query.get("start_cursor") or 0)
        chunk = items[start : start + size]
        more = start + size < len(items)
        return web.json_response(
            {
                "object": "list",
                "results": chunk,
                "has_more": more,
                "next_cursor": str(start + size) if more else None,
                "type": "block",
                "block": {},
            }
        )

    async def _data_source(self, request: web.Request) -> web.Response:
        source = self.data_sources.get(request.match_info["id"])
        if source is None:
            return _error(404, "object_not_found", "Could not find data source.")
        return web.json_response(source)
