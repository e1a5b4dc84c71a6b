"""An OPA server as the policy engine, over OPA's REST API (opa-python-client's AsyncOpaClient).

On start it pushes shipmate's policy modules (PUT /v1/policies/shipmate/<file>) and data
(PUT /v1/data/org), unless told the server is managed elsewhere (bundles). Each decision is
POST /v1/data/<package path>/<rule> with {"input": ...}; no "result" means undefined. Timeouts,
connection errors and HTTP errors raise PolicyError, which the Gate turns into a denial.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog
from opa_client import AsyncOpaClient
from opa_client.errors import RegoParseError

from bot.gate.policy import PolicyError, PolicyWatch, load_data, policy_files

log = structlog.get_logger(__name__)


def split_query(query: str) -> tuple[str, str]:
    """`data.shipmate.main.decision` -> ("shipmate.main", "decision")."""
    package, _, rule = query.removeprefix("data.").rpartition(".")
    return package, rule


class OpaServerEngine:
    name = "opa-server"

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 1.0,
        policy_dir: Path | None = None,
        reload_interval: float | None = 1.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"SHIPMATE_OPA_URL must be http(s)://host:port, not {url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 8181)
        self._ssl = parts.scheme == "https"
        self._token = token
        self._timeout = timeout
        self.policy_dir = policy_dir  # None: the server's policies are managed elsewhere
        self._watch = PolicyWatch(policy_dir, reload_interval)
        self._client: AsyncOpaClient | None = None
        self.reload_error: str | None = None

    async def start(self) -> None:
        client = AsyncOpaClient(
            host=self._host,
            port=self._port,
            ssl=self._ssl,
            token=self._token,
            timeout=self._timeout,
            retries=1,
        )
        await client.__aenter__()
        self._client = client
        if self.policy_dir is not None:
            await self.push()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None

    def _require(self) -> AsyncOpaClient:
        if self._client is None:
            raise PolicyError("the OPA engine was not started")
        return self._client

    async def push(self) -> None:
        """Send every policy module and the data to the server. OPA compiles each module with
        the ones it already holds, so a module that calls another's function must follow it:
        modules are pushed in passes until all are in or a pass makes no progress; then the
        first refusal is raised with file:line."""
        assert self.policy_dir is not None
        client = self._require()
        self._watch.seen()
        pending = policy_files(self.policy_dir)
        while pending:
            refused: list[tuple[Path, RegoParseError]] = []
            for file in pending:
                try:
                    await client.update_policy_from_string(
                        file.read_text(), f"shipmate/{file.name}", rego_compat=False
                    )
                except RegoParseError as exc:
                    refused.append((file, exc))
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise PolicyError(
                        f"OPA at {self._host}:{self._port} is unreachable: {exc}"
                    ) from None
            if len(refused) == len(pending):
                self.reload_error = self._describe(*refused[0])
                raise PolicyError(self.reload_error)
            pending = [file for file, _ in refused]
        try:
            await client.update_or_create_data(load_data(self.policy_dir)["org"], "org")
        except (RegoParseError, aiohttp.ClientError, TimeoutError) as exc:
            raise PolicyError(f"OPA refused the policy data: {exc}") from None
        self.reload_error = None

    @staticmethod
    def _describe(file: Path, exc: RegoParseError) -> str:
        errors = [e for e in (getattr(exc, "errors", None) or []) if isinstance(e, dict)]
        row = next((e.get("location", {}).get("row") for e in errors), None)
        detail = next((e.get("message") for e in errors), getattr(exc, "message", str(exc)))
        return f"{file}:{row or '?'}: {detail}"

    async def _maybe_push(self) -> None:
        if self._watch.due():
            with contextlib.suppress(PolicyError):  # logged in reload_error; old policy stays
                await self.push()

    async def evaluate(self, query: str, input_doc: dict[str, Any]) -> Any | None:
        client = self._require()
        await self._maybe_push()
        package, rule = split_query(query)
        try:
            body = await asyncio.wait_for(
                client.query_rule(input_doc, package, rule), self._timeout
            )
        except TimeoutError:
            raise PolicyError(f"OPA did not answer within {self._timeout:g} s") from None
        except aiohttp.ClientResponseError as exc:
            raise PolicyError(f"OPA answered HTTP {exc.status}") from None
        except aiohttp.ClientError as exc:
            raise PolicyError(f"OPA at {self._host}:{self._port} is unreachable: {exc}") from None
        if not isinstance(body, dict) or "result" not in body:
            return None
        return body["result"]
