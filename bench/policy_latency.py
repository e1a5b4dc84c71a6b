"""Policy decision latency and rate: the deploy policy and a 400-change Terraform plan, on the
embedded engine (regorus), on real OPA in-process (OPA's Go library), and on an OPA server over
REST (the local OPA server of the tests, on 127.0.0.1, in the same process and event loop).

    .venv/bin/python bench/policy_latency.py [--n 2000] [--plan-n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from bot.gate.opa_lib import OpaLibEngine
from bot.gate.opa_rest import OpaServerEngine
from bot.gate.policy import DECISION_QUERY, PolicyEngine, RegorusEngine
from bot.paths import policies_dir

DEPLOY_INPUTS = [
    {
        "action": {"name": "deploy.rollout", "params": {"service": svc, "environment": env}},
        "requester": {"name": who, "roles": roles},
        "now": "2026-12-01T10:00:00Z",
    }
    for svc in ("checkout", "ledger", "nosuch")
    for env in ("staging", "production")
    for who, roles in (("alice", ["deployer"]), ("carol", ["viewer"]))
]


def terraform_plan(n: int = 400) -> dict[str, Any]:
    """A plan of n changes of the kinds real plans hold (instances, buckets, security groups,
    IAM policies, a few deletes), none of them breaking policy."""
    changes = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            rc = ("aws_instance", ["create"], {"instance_type": "t3.small", "tags": {"n": str(i)}})
        elif kind == 1:
            rc = ("aws_s3_bucket", ["update"], {"bucket": f"b{i}", "tags": {"team": "x"}})
        elif kind == 2:
            rc = (
                "aws_security_group",
                ["update"],
                {
                    "name": f"sg{i}",
                    "ingress": [
                        {
                            "from_port": 443,
                            "to_port": 443,
                            "protocol": "tcp",
                            "cidr_blocks": ["10.0.0.0/8"],
                            "ipv6_cidr_blocks": [],
                        }
                    ],
                },
            )
        elif kind == 3:
            policy = json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject"],
                            "Resource": f"arn:aws:s3:::b{i}/*",
                        }
                    ]
                }
            )
            rc = ("aws_iam_role_policy", ["create"], {"name": f"p{i}", "policy": policy})
        else:
            rc = ("aws_route53_record", ["delete"], None)
        changes.append(
            {
                "address": f"{rc[0]}.r{i}",
                "type": rc[0],
                "name": f"r{i}",
                "change": {"actions": rc[1], "before": {}, "after": rc[2]},
            }
        )
    return {"format_version": "1.2", "resource_changes": changes}


def plan_input(plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": {
            "name": "terraform.apply",
            "params": {"workspace": "big", "environment": "staging", "plan": plan},
        },
        "requester": {"name": "alice", "roles": ["deployer"]},
        "now": "2026-12-01T10:00:00Z",
    }


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


async def measure(engine: PolicyEngine, inputs: list[dict[str, Any]], n: int) -> dict[str, Any]:
    for doc in inputs:  # warm up (compiles, caches)
        assert await engine.evaluate(DECISION_QUERY, doc) is not None
    samples = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await engine.evaluate(DECISION_QUERY, inputs[i % len(inputs)])
        samples.append((time.perf_counter() - t0) * 1000)
    wall = time.perf_counter() - start
    return {
        "n": n,
        "p50_ms": round(pct(samples, 50), 3),
        "p99_ms": round(pct(samples, 99), 3),
        "decisions_per_s": round(n / wall),
    }


async def main(n: int, plan_n: int) -> dict[str, Any]:
    from tests.opa_server import LocalOpaServer

    plan = [plan_input(terraform_plan(400))]
    embedded = RegorusEngine(policies_dir(), reload_interval=None)
    opa_lib = OpaLibEngine.from_dir(policies_dir())
    server = LocalOpaServer()
    url = await server.start()
    rest = OpaServerEngine(url, policy_dir=policies_dir(), timeout=10, reload_interval=None)
    await rest.start()
    engines: dict[str, PolicyEngine] = {"embedded": embedded, "opa-lib": opa_lib, "rest": rest}
    results: dict[str, Any] = {}
    try:
        for name, engine in engines.items():
            results[name] = {
                "deploy": await measure(engine, DEPLOY_INPUTS, n),
                "terraform_400": await measure(engine, plan, plan_n),
            }
    finally:
        await rest.close()
        await server.stop()
        opa_lib.close()
    return {"bench": "policy_decision_latency", "engines": results}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--plan-n", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.n, args.plan_n))))
