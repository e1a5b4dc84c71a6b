"""Slack acknowledgement latency for `/deploy` through the real slack_bolt door, over HTTP mode
and Socket Mode, sequential and at 20 concurrent requests; and the time from `/deploy` to the
first message in the deployment's thread.

shipmate runs as it does in production, `shipmate slack` in its own process; this script plays
Slack (tests/slack_server.py: the Web API, Socket Mode, signed requests) and generates the load.
Both on this 2-core machine. Every request starts a real (sandbox) deploy whose messages are
posted back to the local Slack while the load goes on.

    .venv/bin/python bench/slack_ack.py [--n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.slack_payloads import form, signed, slash_command
from tests.slack_server import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, LocalSlack

SERVICES = ("checkout", "cart", "search", "ledger")
SHIPMATE = Path(sys.executable).with_name("shipmate")


def pct(values: list[float], q: int) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": pct(samples, 50),
        "p99_ms": pct(samples, 99),
        "max_ms": round(max(samples), 2),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(slack: LocalSlack, home: str, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SHIPMATE_SLACK_API_URL": slack.api_url,
        "SHIPMATE_HOME": home,
        "SHIPMATE_SANDBOX_STEP_SECONDS": "0",
        "SHIPMATE_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [str(SHIPMATE), "slack", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def quiet(slack: LocalSlack, idle: float = 0.5, within: float = 120) -> None:
    """Wait until the deploys the load started have finished posting."""
    loop = asyncio.get_running_loop()
    deadline, last, still = loop.time() + within, -1, 0.0
    while loop.time() < deadline:
        count = len(slack.calls)
        still = still + 0.1 if count == last else 0.0
        if still >= idle:
            return
        last = count
        await asyncio.sleep(0.1)


async def first_thread_message(send: Any, slack: LocalSlack, versions: list[str]) -> float:
    """One `/deploy`, timed from sending it to the first reply in its deployment's thread."""
    started, _ = await send()
    version = versions[-1]
    while True:
        parent = next(
            (
                m
                for m in slack.posted("C0BENCH")
                if m.thread_ts is None and f"-> {version} " in m.text
            ),
            None,
        )
        if parent is not None:
            reply = next((m for m in slack.thread(parent.ts)), None)
            if reply is not None:
                await quiet(slack, idle=0.1)
                return (reply.posted_at - started) * 1000
        await asyncio.sleep(0.001)


async def run(n: int) -> dict[str, Any]:
    slack = await LocalSlack().start()
    counter = iter(range(10**9))
    versions: list[str] = []

    def command() -> dict[str, Any]:
        i = next(counter)
        versions.append(f"9.{i}.0")
        return slash_command(
            "/deploy", f"{SERVICES[i % 4]} 9.{i}.0 to staging", "U0ALICE", "C0BENCH"
        )

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = spawn(
            slack, f"{tmp}/http", "--mode", "http", "--host", "127.0.0.1", "--port", str(port)
        )
        url = f"http://127.0.0.1:{port}/slack/events"
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(200):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/"):
                            break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.05)

                async def http_ack() -> tuple[float, float]:
                    body = form(command())
                    headers = {
                        "Content-Type": "application/x-www-form-urlencoded",
                        **signed(body, SIGNING_SECRET),
                    }
                    started = time.perf_counter()
                    async with http.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        assert resp.status == 200, resp.status
                    return started, (time.perf_counter() - started) * 1000

                for _ in range(5):  # warm up (auth.test, connections, imports)
                    await http_ack()
                await quiet(slack)
                seq, starts = [], []
                for _ in range(n):
                    started, ms = await http_ack()
                    seq.append(ms)
                    starts.append(started)
                await quiet(slack)
                conc: list[float] = []
                for _ in range(n // 20):
                    batch = await asyncio.gather(*(http_ack() for _ in range(20)))
                    conc += [ms for _, ms in batch]
                await quiet(slack)
                results["http"] = {"sequential": summary(seq), "concurrent_20": summary(conc)}
                results["deploy_to_first_thread_message"] = summary(
                    [await first_thread_message(http_ack, slack, versions) for _ in range(n // 2)]
                )
        finally:
            server.terminate()
            server.wait(30)

        # Under that load, requests queue for the work slots; the time to the first thread
        # message is measured on its own below, one request at a time.
        sock = spawn(slack, f"{tmp}/socket", "--mode", "socket")
        try:
            await slack.connected(within=30)

            async def socket_ack() -> float:
                started = time.perf_counter()
                await slack.deliver("slash_commands", command(), within=30)
                return (time.perf_counter() - started) * 1000

            for _ in range(5):
                await socket_ack()
            await quiet(slack)
            seq = [await socket_ack() for _ in range(n)]
            await quiet(slack)
            conc = []
            for _ in range(n // 20):
                conc += await asyncio.gather(*(socket_ack() for _ in range(20)))
            await quiet(slack)
            results["socket_mode"] = {"sequential": summary(seq), "concurrent_20": summary(conc)}
        finally:
            sock.terminate()
            sock.wait(30)
    await slack.stop()
    return {"bench": "slack_ack_latency", "n": n, **results}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    print(json.dumps(asyncio.run(run(parser.parse_args().n))))
