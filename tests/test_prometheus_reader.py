"""The Prometheus reader against a local Prometheus HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.prometheus_server import LocalPrometheus
from tools.prometheus.reader import PrometheusError, PrometheusReader

END = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
START = END - timedelta(minutes=75)


@pytest.fixture
async def prometheus() -> AsyncIterator[LocalPrometheus]:
    server = await LocalPrometheus().start()
    yield server
    await server.stop()


async def test_canary_and_baseline_series(prometheus: LocalPrometheus) -> None:
    prometheus.bad_versions.add("1.5.1")
    reader = PrometheusReader(prometheus.url)
    good = await reader.metric("success_rate", "checkout", "1.5.0", START, END, 15)
    bad = await reader.metric("success_rate", "checkout", "1.5.1", START, END, 15)
    latency = await reader.metric("latency_p95", "checkout", "1.5.0", START, END, 15)
    assert len(good) == len(bad) == 301  # 75 minutes at 15 s, both ends included
    assert min(good) > 0.99 > max(bad)
    assert 0.05 < sum(latency) / len(latency) < 0.2
    assert 'service="checkout",version="1.5.1"' in prometheus.queries[1]


async def test_templates_per_service_and_errors(prometheus: LocalPrometheus) -> None:
    reader = PrometheusReader(
        prometheus.url, per_service={"ledger": {"success_rate": 'ledger_ok{{version="{version}"}}'}}
    )
    assert reader.promql("success_rate", "ledger", "3.2.0") == 'ledger_ok{version="3.2.0"}'
    assert "http_requests_total" in reader.promql("success_rate", "cart", "2.4.0")
    with pytest.raises(PrometheusError, match="no PromQL template"):
        reader.promql("saturation", "cart", "2.4.0")
    with pytest.raises(PrometheusError, match="bad_data"):
        await reader.query_range("up", END, START, 15)
    unreachable = PrometheusReader("http://127.0.0.1:9", timeout=1)
    with pytest.raises(PrometheusError, match="did not answer"):
        await unreachable.query_range("up", START, END, 15)
