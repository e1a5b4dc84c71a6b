"""A local Terraform Cloud on 127.0.0.1 for the run-task tests, playing TFC's side of the Run
Tasks Integration API: it sends signed run-task requests (payload_version 1, HMAC-SHA512 of
the body in X-TFC-Task-Signature), serves the plan JSON at `plan_json_api_url` behind a bearer
token and a 307 redirect to a short-lived download URL, and accepts the PATCH callbacks only
when they are JSON:API (`application/vnd.api+json`), carry the run's token and have the
task-results shape."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.local_http import serve

STATUSES = {"running", "passed", "failed"}
LEVELS = {"none", "info", "warning", "error"}


@dataclass
class Run:
    run_id: str
    task_result_id: str
    token: str
    plan_id: str
    results: list[dict[str, Any]] = field(default_factory=list)  # each PATCHed document

    @property
    def statuses(self) -> list[str]:
        return [r["data"]["attributes"]["status"] for r in self.results]


class LocalTfc:
    def __init__(self, hmac_key: str) -> None:
        self.hmac_key = hmac_key
        self.plans: dict[str, Any] = {}  # plan id -> plan JSON (or raw bytes for bad ones)
        self.runs: dict[str, Run] = {}  # task result id -> run
        self.refused: list[str] = []
        self.downloads_with_token = 0
        self.fail_callbacks = 0  # answer this many callbacks with 503 first
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> LocalTfc:
        app = web.Application()
        app.router.add_get("/api/v2/plans/{id}/json-output", self._plan)
        app.router.add_get("/archivist/{id}", self._download)
        app.router.add_patch("/api/v2/task-results/{id}/callback", self._callback)
        self._runner, self.port = await serve(app)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def request(
        self,
        plan_id: str,
        *,
        stage: str = "post_plan",
        workspace: str = "network",
        enforcement: str = "mandatory",
        token: str | None = None,
    ) -> tuple[Run, dict[str, Any]]:
        n = len(self.runs) + 1
        run = Run(f"run-{n:016d}", f"taskrs-{n:016d}", token or secrets.token_hex(16), plan_id)
        self.runs[run.task_result_id] = run
        body = {
            "payload_version": 1,
            "stage": stage,
            "access_token": run.token,
            "capabilities": {"outcomes": True},
            "configuration_version_download_url": None,
            "configuration_version_id": "cv-1",
            "is_speculative": False,
            "organization_name": "acme",
            "plan_json_api_url": f"{self.url}/api/v2/plans/{plan_id}/json-output"
            if stage != "pre_plan"
            else None,
            "run_app_url": f"https://app.terraform.io/app/acme/{workspace}/runs/{run.run_id}",
            "run_created_at": "2026-12-01T10:00:00.000Z",
            "run_created_by": "ci-bot",
            "run_id": run.run_id,
            "run_message": "Triggered via API",
            "task_result_callback_url": (
                f"{self.url}/api/v2/task-results/{run.task_result_id}/callback"
            ),
            "task_result_enforcement_level": enforcement,
            "task_result_id": run.task_result_id,
            "vcs_branch": "main",
            "workspace_app_url": f"https://app.terraform.io/app/acme/{workspace}",
            "workspace_id": "ws-1",
            "workspace_name": workspace,
            "workspace_working_directory": "",
        }
        return run, body

    def sign(self, raw: bytes, key: str | None = None) -> str:
        return hmac.new((key or self.hmac_key).encode(), raw, hashlib.sha512).hexdigest()

    async def send(self, url: str, body: dict[str, Any], *, signature: str | None = "auto") -> int:
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "TFE"}
        if signature == "auto":
            headers["X-TFC-Task-Signature"] = self.sign(raw)
        elif signature is not None:
            headers["X-TFC-Task-Signature"] = signature
        async with aiohttp.ClientSession() as http, http.post(url, data=raw, headers=headers) as r:
            return r.status

    # ---- Terraform Cloud's endpoints -------------------------------------------------------
    async def _plan(self, request: web.Request) -> web.Response:
        plan_id = request.match_info["id"]
        tokens = {f"Bearer {r.token}" for r in self.runs.values() if r.plan_id == plan_id}
        if request.headers.get("Authorization") not in tokens:
            return web.json_response(
                {"errors": [{"status": "401", "title": "unauthorized"}]}, status=401
            )
        raise web.HTTPTemporaryRedirect(f"/archivist/{plan_id}?sig={secrets.token_hex(8)}")

    async def _download(self, request: web.Request) -> web.Response:
        if "Authorization" in request.headers:
            self.downloads_with_token += 1
        if not request.query.get("sig"):
            return web.Response(status=403, text="missing signature")
        plan = self.plans.get(request.match_info["id"])
        if plan is None:
            return web.Response(status=404, text="not found")
        raw = plan if isinstance(plan, bytes) else json.dumps(plan).encode()
        return web.Response(body=raw, content_type="application/json")

    async def _callback(self, request: web.Request) -> web.Response:
        run = self.runs.get(request.match_info["id"])

        def refuse(status: int, why: str) -> web.Response:
            self.refused.append(why)
            return web.json_response(
                {"errors": [{"status": str(status), "detail": why}]}, status=status
            )

        if run is None:
            return refuse(404, "no such task result")
        if request.headers.get("Authorization") != f"Bearer {run.token}":
            return refuse(401, "bad token")
        if request.content_type != "application/vnd.api+json":
            return refuse(415, f"content type {request.content_type}")
        if self.fail_callbacks > 0:
            self.fail_callbacks -= 1
            return web.json_response({"errors": [{"status": "503"}]}, status=503)
        doc = await request.json()
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, dict) or data.get("type") != "task-results":
            return refuse(422, "data.type must be task-results")
        attrs = data.get("attributes") or {}
        if attrs.get("status") not in STATUSES:
            return refuse(422, f"bad status {attrs.get('status')}")
        if len(str(attrs.get("message", ""))) > 500:
            return refuse(422, "message too long")
        for item in ((data.get("relationships") or {}).get("outcomes") or {}).get("data") or []:
            a = item.get("attributes") or {}
            if item.get("type") != "task-result-outcomes" or not a.get("outcome-id"):
                return refuse(422, "bad outcome")
            for tags in (a.get("tags") or {}).values():
                if any(t.get("level", "none") not in LEVELS for t in tags):
                    return refuse(422, "bad tag level")
        run.results.append(doc)
        return web.json_response({"data": {"id": run.task_result_id, "type": "task-results"}})
