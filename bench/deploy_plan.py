"""Time from `/deploy ... --strategy canary` to the first message in its thread (the plan), on
the Kubernetes target: the pipeline reads the Deployment and its ReplicaSets through the
official client from the local API server of the tests (tests/kube_server.py), over HTTP on
127.0.0.1. Each canary then runs to completion (analysis against the local Prometheus) before
the next request, as one person's requests would.

    .venv/bin/python bench/deploy_plan.py [--n 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from bot.channel import MessageRef, Reply
from bot.compose import build
from bot.models import Origin, Request, Transport
from bot.settings import Settings
from tests.kube_server import LocalKube
from tests.prometheus_server import LocalPrometheus

NS = "stg"


class PlanTimer:
    transport: Transport = "terminal"
    channel_id = "#bench"

    def __init__(self) -> None:
        self.plan_at: float | None = None
        self.count = 0
        self.last = ""

    async def post(self, reply: Reply, thread: str | None = None) -> MessageRef:
        if self.plan_at is None and thread is not None and reply.text.startswith("Plan:"):
            self.plan_at = time.perf_counter()
        self.count += 1
        self.last = reply.text
        return MessageRef(channel=self.channel_id, id=f"m{self.count}", thread=thread)

    async def update(self, ref: MessageRef, reply: Reply) -> None:
        return None


def _deployment(name: str, image: str, replicas: int = 4) -> dict[str, object]:
    container = {"name": name, "image": image, "ports": [{"containerPort": 8080}]}
    return {
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }


async def main(n: int) -> dict[str, object]:
    kube = await LocalKube().start()
    prom = await LocalPrometheus().start()
    await kube.put("deployments", NS, _deployment("checkout", "checkout:1.4.0"))
    controller = asyncio.create_task(kube.run_controller(0.005))
    samples: list[float] = []
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(
            home=Path(home),
            deploy_target="kubernetes",
            kube_host=kube.url,
            kube_namespaces={"staging": NS},
            kube_poll_seconds=0.01,
            prometheus_url=prom.url,
            canary_analysis_seconds=0,
            policy_reload_seconds=-1,
        )
        app = build(settings)
        channel = PlanTimer()
        app.channels.register("terminal", lambda origin: channel)
        principal = app.directory.principal("alice")
        try:
            for i in range(n):
                channel.plan_at = None
                t0 = time.perf_counter()
                request = Request(
                    principal=principal,
                    text=f"/deploy checkout 9.{i}.0 to staging --strategy canary",
                    received_at=app.clock.now(),
                    origin=Origin(transport="terminal", channel="#bench"),
                )
                await app.pipeline.handle(request, channel)
                assert channel.plan_at is not None, channel.last
                samples.append((channel.plan_at - t0) * 1000)
                await app.pipeline.drain()
                assert channel.last.startswith("Done:"), channel.last
        finally:
            await app.close()
            controller.cancel()
            await prom.stop()
            await kube.stop()
    q = statistics.quantiles(samples, n=100, method="inclusive") if n > 1 else samples * 99
    return {
        "bench": "deploy_to_plan_kubernetes",
        "n": n,
        "p50_ms": round(q[49], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(max(samples), 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    print(json.dumps(asyncio.run(main(parser.parse_args().n))))
