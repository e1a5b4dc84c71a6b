"""A local Prometheus HTTP API on 127.0.0.1 for the tests: /api/v1/query_range answers with
deterministic series per version (good or bad), in Prometheus' JSON format, including its
error bodies."""

from __future__ import annotations

import math
import random
import re
from typing import Any

from aiohttp import web

from tests.local_http import serve


class LocalPrometheus:
    def __init__(self) -> None:
        self.bad_versions: set[str] = set()
        self.queries: list[str] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> LocalPrometheus:
        app = web.Application()
        app.router.add_get("/api/v1/query_range", self._query_range)
        self._runner, self.port = await serve(app)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _query_range(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
            query = q["query"]
        except (KeyError, ValueError) as exc:
            return web.json_response(
                {"status": "error", "errorType": "bad_data", "error": f"invalid parameter: {exc}"},
                status=400,
            )
        if step <= 0 or end < start:
            return web.json_response(
                {
                    "status": "error",
                    "errorType": "bad_data",
                    "error": "end timestamp must not be before start time",
                },
                status=400,
            )
        self.queries.append(query)
        version = (re.search(r'version="([^"]+)"', query) or re.search(r"()", "")).group(1)
        service = (re.search(r'service="([^"]+)"', query) or re.search(r"()", "")).group(1)
        bad = version in self.bad_versions
        rng = random.Random(f"{service}|{version}|{query[:20]}")
        values: list[list[Any]] = []
        t = start
        while t <= end:
            if "histogram_quantile" in query:
                v = rng.gauss(0.6 if bad else 0.12, 0.02)
            else:
                v = min(1.0, rng.gauss(0.90 if bad else 0.998, 0.002))
            values.append([t, "NaN" if math.isnan(v) else f"{v:.6f}"])
            t += step
        return web.json_response(
            {
                "status": "success",
                "data": {
                    "resultType": "matrix",
                    "result": [
                        {"metric": {"service": service, "version": version}, "values": values}
                    ],
                },
            }
        )
