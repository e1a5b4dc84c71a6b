"""The benchmark scripts keep working (small n; the figures themselves live in docs/)."""

from __future__ import annotations

from bench import first_reply, policy_latency


async def test_policy_latency_bench_runs() -> None:
    result = await policy_latency.main(30, 3)
    for engine in ("embedded", "opa-lib", "rest"):
        for policy in ("deploy", "terraform_400"):
            row = result["engines"][engine][policy]
            assert 0 < row["p50_ms"] <= row["p99_ms"], (engine, policy, row)


def test_400_change_plan_is_clean_and_large() -> None:
    plan = policy_latency.terraform_plan(400)
    assert len(plan["resource_changes"]) == 400


async def test_first_reply_bench_runs() -> None:
    result = await first_reply.main(20)
    assert result["n"] == 20
    assert 0 < float(result["p50_ms"]) <= float(result["max_ms"])  # type: ignore[arg-type]


async def test_events_bench_runs() -> None:
    from bench import events_throughput

    result = await events_throughput.main(200, 50, per_tx=10, one_process=True)
    assert result["n"] == 200 and result["outage_events"] == 50
    assert float(result["events_per_s"]) > 0  # type: ignore[arg-type]


async def test_slack_ack_bench_runs() -> None:
    from bench import slack_ack

    result = await slack_ack.run(20)
    for mode in ("http", "socket_mode"):
        for load in ("sequential", "concurrent_20"):
            assert result[mode][load]["p50_ms"] > 0
    assert result["deploy_to_first_thread_message"]["p50_ms"] > 0


async def test_nlu_bench_runs() -> None:
    from bench import nlu_bench

    result = await nlu_bench.main()
    assert result["dev_rows"] == 369 and result["intent_accuracy"] > 0.9  # type: ignore[operator]


def test_canary_judge_bench_runs() -> None:
    from bench import canary_judge

    result = canary_judge.main(2)
    assert result["metrics"] == 10 and float(result["p50_ms"]) > 0  # type: ignore[arg-type]
    assert result["last_verdict"] in {"Pass", "Marginal", "Fail"}


async def test_deploy_plan_bench_runs() -> None:
    from bench import deploy_plan

    result = await deploy_plan.main(3)
    assert result["n"] == 3
    assert 0 < float(result["p50_ms"]) <= float(result["max_ms"])  # type: ignore[arg-type]


async def test_drift_bench_runs() -> None:
    from bench import drift_bench

    result = await drift_bench.main(warm=1, skip_aws=True)
    row = result["terraform_data_200"]
    assert row["cold"]["seconds"] > 0 and row["cold"]["peak_rss_mb"] > 0


async def test_runtask_bench_runs() -> None:
    from bench import runtask_bench

    result = await runtask_bench.main(runs=2, acks=20)
    assert result["passed_after_load"] == 22
    assert float(result["acks_per_second"]) > 0
