"""Time from a `/deploy` request to its first reply, through the whole pipeline (router, skill,
sandbox reader, audit, events), over N scripted requests as `shipmate chat --script` runs them.

    .venv/bin/python bench/first_reply.py [--n 200]
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


class TimingChannel:
    transport: Transport = "terminal"
    channel_id = "#bench"

    def __init__(self) -> None:
        self.first: float | None = None
        self.count = 0

    async def post(self, reply: Reply, thread: str | None = None) -> MessageRef:
        if self.first is None:
            self.first = time.perf_counter()
        self.count += 1
        return MessageRef(channel=self.channel_id, id=f"m{self.count}", thread=thread)

    async def update(self, ref: MessageRef, reply: Reply) -> None:
        return None


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def main(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as home:
        app = build(Settings(home=Path(home), sandbox_step_seconds=0))
        channel = TimingChannel()
        app.channels.register("terminal", lambda origin: channel)
        principal = app.directory.principal("alice")
        services = ("checkout", "cart", "search", "ledger")
        samples: list[float] = []
        for i in range(n):
            text = f"/deploy {services[i % 4]} 9.{i}.0 to staging"
            channel.first = None
            t0 = time.perf_counter()
            request = Request(
                principal=principal,
                text=text,
                received_at=app.clock.now(),
                origin=Origin(transport="terminal", channel="#bench"),
            )
            await app.pipeline.handle(request, channel)
            assert channel.first is not None
            samples.append((channel.first - t0) * 1000)
            await app.pipeline.drain()  # as the scripted chat does between lines
        await app.close()
    return {
        "bench": "deploy_to_first_reply",
        "door": "pipeline (terminal channel)",
        "n": n,
        "p50_ms": round(pct(samples, 50), 3),
        "p99_ms": round(pct(samples, 99), 3),
        "max_ms": round(max(samples), 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    print(json.dumps(asyncio.run(main(parser.parse_args().n))))
