"""Terraform Cloud run tasks through `shipmate serve`, against the local Terraform Cloud of the
tests (tests/tfc_server.py) on 127.0.0.1:

- time from a signed run-task request with a 400-change plan to its callbacks: `running`, the
  approval wait (a 400-change plan needs a human: more than 50 changes), and the final
  `passed` once an eligible approver votes (at once, through the Gate as the Slack door would);
- requests per second the endpoint acknowledges (200), 20 at a time, each a real run whose
  work (plan fetch, policy, callbacks) goes on behind the acknowledgement.

    .venv/bin/python bench/runtask_bench.py [--runs 10] [--acks 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.policy_latency import terraform_plan
from bot.channel import MessageRef, Reply
from bot.compose import build
from bot.models import Transport
from bot.serve import Server
from bot.settings import Settings
from tests.tfc_server import LocalTfc

KEY = "bench-key"


class Board:
    """The 'test' door: remembers approval buttons."""

    transport: Transport = "test"
    channel_id = "#terraform"

    def __init__(self) -> None:
        self.approvals: list[str] = []
        self.n = 0

    async def post(self, reply: Reply, thread: str | None = None) -> MessageRef:
        self.n += 1
        self.approvals += [b.value for b in reply.buttons if b.action == "approve"]
        return MessageRef(channel=self.channel_id, id=f"m{self.n}", thread=thread)

    async def update(self, ref: MessageRef, reply: Reply) -> None:
        return None


async def _until(done: Any, seconds: float = 30.0) -> None:
    """Poll (every 2 ms, at most `seconds`) for what the local Terraform Cloud receives."""
    for _ in range(int(seconds / 0.002)):
        if done():
            return
        await asyncio.sleep(0.002)
    raise TimeoutError("the run did not get there in time")


async def main(runs: int = 10, acks: int = 400) -> dict[str, Any]:
    tfc = await LocalTfc(KEY).start()
    tfc.plans["big"] = terraform_plan(400)
    tfc.plans["clean"] = {"format_version": "1.2", "resource_changes": []}
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(
            home=Path(home),
            policy_reload_seconds=-1,
            tfc_hmac_keys=[KEY],
            tfc_default_channel="#terraform",
            tfc_retry_pause_seconds=0.05,
        )
        app = build(settings)
        board = Board()
        app.channels.register("test", lambda origin: board)
        server = Server(app.intake("test"), app.tasks, [], app.runtasks("test"), [KEY])
        port = await server.start("127.0.0.1", 0)
        url = f"http://127.0.0.1:{port}/runtasks"
        bob = app.directory.principal("bob")
        waiting, final = [], []
        try:
            for _ in range(runs):
                run, body = tfc.request("big")
                t0 = time.perf_counter()
                assert await tfc.send(url, body) == 200
                await _until(lambda r=run: len(r.results) >= 2)
                waiting.append((time.perf_counter() - t0) * 1000)
                from bot.channel import SafeChannel

                assert board.approvals, (run.results, board.n)
                await app.gate.vote(bob, board.approvals.pop(), True, SafeChannel(board))
                await _until(lambda r=run: r.statuses[-1] != "running")
                final.append((time.perf_counter() - t0) * 1000)
                assert run.statuses[-1] == "passed", run.results[-1]
            # Acknowledgement rate: real (clean-plan) runs, 20 in flight at a time.
            started = time.perf_counter()
            sent = 0
            while sent < acks:
                batch = [tfc.request("clean")[1] for _ in range(min(20, acks - sent))]
                codes = await asyncio.gather(*(tfc.send(url, b) for b in batch))
                assert set(codes) == {200}, codes
                sent += len(batch)
            ack_seconds = time.perf_counter() - started
            await app.tasks.drain()
            done = sum(1 for r in tfc.runs.values() if r.statuses and r.statuses[-1] == "passed")
        finally:
            await server.close()
            await app.close()
            await tfc.stop()
    return {
        "bench": "runtask",
        "plan_changes": 400,
        "runs": runs,
        "to_waiting_for_approval_ms": {
            "p50": round(statistics.median(waiting), 1),
            "max": round(max(waiting), 1),
        },
        "to_final_callback_ms": {
            "p50": round(statistics.median(final), 1),
            "max": round(max(final), 1),
        },
        "acks": acks,
        "acks_per_second": round(acks / ack_seconds, 1),
        "passed_after_load": done,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--acks", type=int, default=400)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.runs, args.acks)), indent=1))
