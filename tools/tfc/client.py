"""Terraform Cloud's side of a run task: fetch the plan JSON (`plan_json_api_url`, a bearer
token, then a redirect to a short-lived download URL that must not get the token), and PATCH
task results to the callback URL as JSON:API (`application/vnd.api+json`), retried with
backoff on 5xx, 429 and network errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urljoin

import aiohttp
import structlog

log = structlog.get_logger(__name__)

JSONAPI = "application/vnd.api+json"


class TfcError(Exception):
    pass


class TfcClient:
    def __init__(
        self, *, timeout_seconds: float = 30.0, retries: int = 4, pause_seconds: float = 1.0
    ) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.retries = retries
        self.pause = pause_seconds

    async def plan_json(self, url: str, token: str) -> dict[str, Any]:
        """GET the plan JSON: the API answers with a redirect to a pre-signed download URL,
        which is followed without the token (it needs none, and must not see it)."""
        async with aiohttp.ClientSession(timeout=self.timeout) as http:
            headers = {"Authorization": f"Bearer {token}", "Accept": JSONAPI}
            for _ in range(5):
                async with http.get(url, headers=headers, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308):
                        url = urljoin(url, resp.headers.get("Location", ""))
                        headers = {}
                        continue
                    if resp.status != 200:
                        raise TfcError(f"fetching the plan JSON answered {resp.status}")
                    raw = await resp.read()
                try:
                    doc = json.loads(raw)
                except ValueError as exc:
                    raise TfcError(f"the plan JSON does not parse: {exc}") from None
                if not isinstance(doc, dict) or "format_version" not in doc:
                    raise TfcError("that is not a plan JSON (no format_version)")
                return doc
        raise TfcError("too many redirects fetching the plan JSON")

    async def patch_result(self, url: str, token: str, document: dict[str, Any]) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": JSONAPI}
        pause = self.pause
        for attempt in range(self.retries + 1):
            try:
                async with (
                    aiohttp.ClientSession(timeout=self.timeout) as http,
                    http.patch(url, data=json.dumps(document), headers=headers) as resp,
                ):
                    if resp.status < 300:
                        return
                    if resp.status < 500 and resp.status != 429:
                        text = (await resp.text())[:300]
                        raise TfcError(f"the callback was refused ({resp.status}): {text}")
                    problem = f"the callback answered {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"the callback failed: {type(exc).__name__} {exc}"
            if attempt == self.retries:
                raise TfcError(problem)
            log.warning("run task callback retry", problem=problem, attempt=attempt + 1)
            await asyncio.sleep(pause)
            pause *= 2
