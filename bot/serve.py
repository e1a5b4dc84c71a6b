"""`shipmate serve`: the HTTP process for machine-to-machine traffic, on one server bound to
127.0.0.1 unless configured: Alertmanager and generic alert webhooks, PagerDuty webhooks v3
(signature checked), `/healthz`, and Prometheus `/metrics`. Every webhook is answered at once
(202); the work runs behind it."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import structlog
from aiohttp import web

from bot.alerts import (
    AlertError,
    AlertIntake,
    from_alertmanager,
    from_generic,
    from_pagerduty,
    verify_pagerduty,
)
from bot.runtasks import RunTaskError, RunTasks, parse_request, verify_signature
from bot.tasks import Tasks

log = structlog.get_logger(__name__)

MAX_BODY = 2 * 1024 * 1024


class Server:
    def __init__(
        self,
        intake: AlertIntake,
        tasks: Tasks,
        pagerduty_secrets: list[str],
        runtasks: RunTasks | None = None,
        runtask_keys: list[str] | None = None,
    ) -> None:
        self.intake = intake
        self.tasks = tasks
        self.secrets = pagerduty_secrets
        self.runtasks = runtasks
        self.runtask_keys = runtask_keys or []
        self.counts: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/alerts/alertmanager", self._alertmanager)
        app.router.add_post("/alerts/generic", self._generic)
        app.router.add_post("/webhooks/pagerduty", self._pagerduty)
        app.router.add_post("/runtasks", self._runtask)
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 8080) -> int:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def close(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    # ---- handlers -------------------------------------------------------------------------
    async def _json(self, request: web.Request) -> Any:
        try:
            return json.loads(await request.read())
        except ValueError:
            raise web.HTTPBadRequest(text="the body is not JSON") from None

    def _later(self, alerts: list[Any], source: str) -> None:
        async def work() -> None:
            for alert in alerts:
                outcome = await self.intake.receive(alert)
                self.counts[f"{source}:{outcome}"] += 1
                log.info("alert", source=source, fingerprint=alert.fingerprint, outcome=outcome)

        self.tasks.spawn(work(), name=f"alerts:{source}")

    async def _alertmanager(self, request: web.Request) -> web.Response:
        try:
            alerts = from_alertmanager(await self._json(request))
        except AlertError as exc:
            self.counts["alertmanager:refused"] += 1
            return web.json_response({"error": str(exc)}, status=400)
        self._later(alerts, "alertmanager")
        return web.json_response({"accepted": len(alerts)}, status=202)

    async def _generic(self, request: web.Request) -> web.Response:
        try:
            alert = from_generic(await self._json(request))
        except AlertError as exc:
            self.counts["generic:refused"] += 1
            return web.json_response({"error": str(exc)}, status=400)
        self._later([alert], "generic")
        return web.json_response({"accepted": 1}, status=202)

    async def _pagerduty(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify_pagerduty(self.secrets, body, request.headers.get("X-PagerDuty-Signature")):
            self.counts["pagerduty:unsigned"] += 1
            return web.json_response({"error": "bad or missing X-PagerDuty-Signature"}, status=401)
        try:
            alert = from_pagerduty(json.loads(body))
        except (AlertError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if alert is not None:
            self._later([alert], "pagerduty")
        return web.json_response({"accepted": int(alert is not None)}, status=202)

    async def _runtask(self, request: web.Request) -> web.Response:
        """A Terraform Cloud run task: signed, answered at once, worked on behind the 200."""
        body = await request.read()
        if self.runtasks is None:
            return web.json_response({"error": "run tasks are not configured"}, status=404)
        if not verify_signature(
            self.runtask_keys, body, request.headers.get("X-TFC-Task-Signature")
        ):
            self.counts["runtask:unsigned"] += 1
            return web.json_response({"error": "bad or missing X-TFC-Task-Signature"}, status=401)
        try:
            run = parse_request(json.loads(body))
        except (RunTaskError, ValueError) as exc:
            self.counts["runtask:refused"] += 1
            return web.json_response({"error": str(exc)}, status=422)
        self.counts[f"runtask:{self.runtasks.take(run)}"] += 1
        return web.json_response({})

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _metrics(self, request: web.Request) -> web.Response:
        lines = [
            "# HELP shipmate_webhooks_total Webhook requests by source and outcome.",
            "# TYPE shipmate_webhooks_total counter",
        ]
        for key, n in sorted(self.counts.items()):
            source, outcome = key.split(":", 1)
            lines.append(f'shipmate_webhooks_total{{source="{source}",outcome="{outcome}"}} {n}')
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")
