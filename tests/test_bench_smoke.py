"""The benchmark scripts keep working (small n; the figures themselves live in docs/)."""

from __future__ import annotations

from bench import first_reply, policy_latency


async def test_policy_latency_bench_runs() -> None:
    result = await policy_latency.main(200)
    assert result["n"] == 200
    assert 0 < float(result["p50_ms"]) <= float(result["p99_ms"])  # type: ignore[arg-type]


async def test_first_reply_bench_runs() -> None:
    result = await first_reply.main(20)
    assert result["n"] == 20
    assert 0 < float(result["p50_ms"]) <= float(result["max_ms"])  # type: ignore[arg-type]
