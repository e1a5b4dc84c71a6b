"""A reader of the Prometheus HTTP API (`/api/v1/query_range`), with the PromQL for each
canary-analysis metric kept as templates in configuration, per service if need be.

Templates use `{service}`, `{version}` and `{namespace}`; the defaults follow the common
`http_requests_total` / `http_request_duration_seconds_bucket` conventions."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import aiohttp
from pydantic import BaseModel

DEFAULT_QUERIES: dict[str, str] = {
    "success_rate": (
        'sum(rate(http_requests_total{{service="{service}",version="{version}",'
        'code!~"5.."}}[1m])) / sum(rate(http_requests_total{{service="{service}",'
        'version="{version}"}}[1m]))'
    ),
    "latency_p95": (
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
        '{{service="{service}",version="{version}"}}[1m])))'
    ),
}


class PrometheusError(Exception):
    """Prometheus refused the query or could not be reached (the message says which)."""


class Series(BaseModel):
    labels: dict[str, str]
    points: list[tuple[float, float]]  # (unix time, value); NaN kept as NaN

    @property
    def values(self) -> list[float]:
        return [v for _, v in self.points]


class PrometheusReader:
    def __init__(
        self,
        base_url: str,
        *,
        queries: dict[str, str] | None = None,
        per_service: dict[str, dict[str, str]] | None = None,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.queries = {**DEFAULT_QUERIES, **(queries or {})}
        self.per_service = per_service or {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._headers = headers or {}

    def promql(self, metric: str, service: str, version: str, namespace: str = "default") -> str:
        template = self.per_service.get(service, {}).get(metric) or self.queries.get(metric)
        if template is None:
            raise PrometheusError(f"no PromQL template for metric '{metric}'")
        return template.format(service=service, version=version, namespace=namespace)

    async def query_range(
        self, query: str, start: datetime, end: datetime, step_seconds: float
    ) -> list[Series]:
        params = {
            "query": query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_seconds:g}",
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout, headers=self._headers) as s,
                s.get(f"{self.base_url}/api/v1/query_range", params=params) as resp,
            ):
                body: dict[str, Any] = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise PrometheusError(
                f"Prometheus at {self.base_url} did not answer: {type(exc).__name__} {exc}"
            ) from None
        if body.get("status") != "success":
            raise PrometheusError(
                f"Prometheus refused the query ({body.get('errorType')}): {body.get('error')}"
            )
        data = body.get("data", {})
        if data.get("resultType") != "matrix":
            raise PrometheusError(f"expected a matrix, got {data.get('resultType')}")
        return [
            Series(
                labels=r.get("metric", {}),
                points=[(float(t), _number(v)) for t, v in r.get("values", [])],
            )
            for r in data.get("result", [])
        ]

    async def metric(
        self,
        metric: str,
        service: str,
        version: str,
        start: datetime,
        end: datetime,
        step_seconds: float = 15.0,
    ) -> list[float]:
        """One metric's values for one version over a window (all series concatenated)."""
        series = await self.query_range(
            self.promql(metric, service, version), start, end, step_seconds
        )
        return [v for s in series for v in s.values]


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return math.nan
