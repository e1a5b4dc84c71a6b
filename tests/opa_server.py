"""A local OPA server for the tests: OPA's Data and Policy REST APIs, on 127.0.0.1, answered by
OPA's own Go library (opa_bindings) underneath. Faithful to the wire shapes shipmate uses:
PUT/GET/DELETE /v1/policies/{id}, PUT/GET/POST /v1/data/{path}, GET /health."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from bot.gate.opa_lib import OpaLibEngine
from bot.gate.policy import PolicyError
from tests.local_http import serve

_LOCATION = re.compile(r"(\S+?):(\d+): (rego_\w+): (.*)")


def _merge(target: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    if not path:
        return value if isinstance(value, dict) else {"": value}
    node = target
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return target


class LocalOpaServer:
    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.engine: OpaLibEngine | None = None
        self.delay = 0.0  # seconds each decision waits (timeout tests)
        self.fail_with: int | None = None  # HTTP status every decision answers (error tests)
        self.requests: list[tuple[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/v1/policies/", self._list_policies)
        app.router.add_get("/v1/policies", self._list_policies)
        app.router.add_put("/v1/policies/{id:.+}", self._put_policy)
        app.router.add_delete("/v1/policies/{id:.+}", self._delete_policy)
        app.router.add_put("/v1/data/{path:.*}", self._put_data)
        app.router.add_get("/v1/data/{path:.*}", self._get_data)
        app.router.add_post("/v1/data/{path:.*}", self._post_data)
        self._runner, self.port = await serve(app)
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
        if self.engine:
            self.engine.close()

    def _rebuild(self, policies: dict[str, str], data: dict[str, Any]) -> None:
        engine = OpaLibEngine(policies, data)  # raises PolicyError on compile errors
        if self.engine:
            self.engine.close()
        self.engine, self.policies, self.data = engine, policies, data

    # --- handlers ------------------------------------------------------------------------
    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _list_policies(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"result": [{"id": i, "raw": s} for i, s in self.policies.items()]}
        )

    async def _put_policy(self, request: web.Request) -> web.Response:
        policy_id = request.match_info["id"]
        self.requests.append(("PUT", f"/v1/policies/{policy_id}"))
        source = await request.text()
        try:
            self._rebuild({**self.policies, policy_id: source}, self.data)
        except PolicyError as exc:
            errors = []
            for m in _LOCATION.finditer(str(exc)):
                errors.append(
                    {
                        "code": m.group(3),
                        "message": m.group(4),
                        "location": {"file": policy_id, "row": int(m.group(2)), "col": 1},
                    }
                )
            return web.json_response(
                {
                    "code": "invalid_parameter",
                    "message": "error(s) occurred while compiling module(s)",
                    "errors": errors or [{"code": "rego_compile_error", "message": str(exc)}],
                },
                status=400,
            )
        return web.json_response({})

    async def _delete_policy(self, request: web.Request) -> web.Response:
        policy_id = request.match_info["id"]
        if policy_id not in self.policies:
            return web.json_response(
                {
                    "code": "resource_not_found",
                    "message": f'storage_not_found_error: policy id "{policy_id}"',
                },
                status=404,
            )
        remaining = {k: v for k, v in self.policies.items() if k != policy_id}
        self._rebuild(remaining, self.data)
        return web.json_response({})

    async def _put_data(self, request: web.Request) -> web.Response:
        path = [p for p in request.match_info["path"].split("/") if p]
        self.requests.append(("PUT", "/v1/data/" + "/".join(path)))
        value = await request.json()
        data = _merge(dict(self.data), path, value)
        try:
            self._rebuild(self.policies, data)
        except PolicyError as exc:
            return web.json_response({"code": "invalid_parameter", "message": str(exc)}, status=400)
        return web.Response(status=204)

    async def _get_data(self, request: web.Request) -> web.Response:
        return await self._decide(request, {})

    async def _post_data(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        if not isinstance(body, dict):
            return web.json_response(
                {"code": "invalid_parameter", "message": "body must be an object"}, status=400
            )
        return await self._decide(request, body.get("input"))

    async def _decide(self, request: web.Request, input_doc: Any) -> web.Response:
        path = ".".join(p for p in request.match_info["path"].split("/") if p)
        self.requests.append((request.method, "/v1/data/" + path.replace(".", "/")))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_with:
            return web.json_response(
                {"code": "internal_error", "message": "injected"}, status=self.fail_with
            )
        if self.engine is None:
            return web.json_response({})
        try:
            value = self.engine.evaluate_sync(f"data.{path}", input_doc or {})
        except PolicyError as exc:
            return web.json_response({"code": "internal_error", "message": str(exc)}, status=500)
        return web.json_response({} if value is None else {"result": value})
