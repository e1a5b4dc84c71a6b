"""Markdown documents as Notion pages, with the official client (`notion-client` 3.x, its
async client): headings, paragraphs, bulleted and to-do items as blocks; the first 100 blocks
with the page, the rest appended 100 at a time (Notion's limit); a page in a database (a data
source) when one is configured, else under a parent page. A 429 is waited out as its
Retry-After says, a few times; other errors become one sentence."""

from __future__ import annotations

import asyncio
from typing import Any

from notion_client import AsyncClient
from notion_client.errors import APIResponseError, RequestTimeoutError

MAX_TEXT = 2000  # characters per rich text item
BATCH = 100  # blocks per request


class NotionError(Exception):
    pass


def _text(content: str) -> list[dict[str, Any]]:
    return [
        {"type": "text", "text": {"content": content[i : i + MAX_TEXT]}}
        for i in range(0, max(len(content), 1), MAX_TEXT)
    ] or [{"type": "text", "text": {"content": ""}}]


def blocks(markdown: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        for prefix, kind in (("### ", "heading_3"), ("## ", "heading_2"), ("# ", "heading_1")):
            if line.startswith(prefix):
                found.append(
                    {
                        "object": "block",
                        "type": kind,
                        kind: {"rich_text": _text(line[len(prefix) :])},
                    }
                )
                break
        else:
            if line.startswith("- [ ] "):
                found.append(
                    {
                        "object": "block",
                        "type": "to_do",
                        "to_do": {"rich_text": _text(line[6:]), "checked": False},
                    }
                )
            elif line.startswith("- "):
                found.append(
                    {
                        "object": "block",
                        "type": "bulleted_list_item",
                        "bulleted_list_item": {"rich_text": _text(line[2:])},
                    }
                )
            else:
                found.append(
                    {
                        "object": "block",
                        "type": "paragraph",
                        "paragraph": {"rich_text": _text(line.strip())},
                    }
                )
    return found


class NotionPublisher:
    def __init__(
        self,
        token: str,
        *,
        parent_page_id: str | None = None,
        data_source_id: str | None = None,
        base_url: str | None = None,
        retries: int = 4,
    ) -> None:
        if not (parent_page_id or data_source_id):
            raise NotionError("Notion needs a parent page or a data source to publish into")
        options: dict[str, Any] = {"auth": token}
        if base_url:
            options["base_url"] = base_url
        self.client = AsyncClient(**options)
        self.parent_page_id = parent_page_id
        self.data_source_id = data_source_id
        self.retries = retries

    async def _call(self, fn: Any, **kwargs: Any) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return await fn(**kwargs)
            except APIResponseError as exc:
                code = str(getattr(exc.code, "value", exc.code))
                if code != "rate_limited" or attempt == self.retries:
                    raise NotionError(f"Notion refused it ({exc.status} {code}): {exc}") from None
                wait = float(exc.headers.get("retry-after", "1")) if exc.headers else 1.0
                await asyncio.sleep(min(wait, 30.0))
            except RequestTimeoutError:
                if attempt == self.retries:
                    raise NotionError("Notion did not answer in time") from None
        raise NotionError("unreachable")

    async def publish(
        self, title: str, markdown: str, properties: dict[str, Any] | None = None
    ) -> str:
        """Create the page; returns its URL."""
        children = blocks(markdown)
        parent: dict[str, str] = (
            {"type": "data_source_id", "data_source_id": self.data_source_id}
            if self.data_source_id
            else {"type": "page_id", "page_id": str(self.parent_page_id)}
        )
        props = {"title": {"title": _text(title[:200])}, **(properties or {})}
        page = await self._call(
            self.client.pages.create, parent=parent, properties=props, children=children[:BATCH]
        )
        for i in range(BATCH, len(children), BATCH):
            await self._call(
                self.client.blocks.children.append,
                block_id=page["id"],
                children=children[i : i + BATCH],
            )
        return str(page.get("url") or page["id"])

    async def close(self) -> None:
        await self.client.aclose()
