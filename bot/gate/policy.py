"""Policy engines behind one interface. The embedded engine is regorus (in-process Rego).

Policies are `*.rego` files in the policy folder; data files (`data/*.yaml|json`) are loaded as
`data.org.<file stem>`. Every action's decision is `data.shipmate.main.decision`; approver
eligibility is `data.shipmate.approvals.eligibility`.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any, Protocol

import regorus
import structlog
import yaml

log = structlog.get_logger(__name__)

DECISION_QUERY = "data.shipmate.main.decision"
ELIGIBILITY_QUERY = "data.shipmate.approvals.eligibility"


class PolicyError(Exception):
    """The policy could not be loaded or evaluated. The Gate turns this into a denial."""


class PolicyEngine(Protocol):
    name: str

    async def evaluate(self, query: str, input_doc: dict[str, Any]) -> Any | None:
        """The value of `query` for this input; None when undefined. Raises PolicyError."""
        ...


def _clean(message: str) -> str:
    # regorus appends a Rust backtrace to its messages; the user needs the first part only.
    return message.split("Stack backtrace:")[0].strip()


_LOCATION = re.compile(r"-->\s*(\S+?):(\d+):(\d+)")


def _located(path: Path, message: str) -> str:
    text = _clean(message)
    m = _LOCATION.search(text)
    where = f"{path}:{m.group(2)}" if m else str(path)
    first = next((ln for ln in text.splitlines() if ln.startswith("error:")), text.splitlines()[-1])
    return f"{where}: {first.removeprefix('error:').strip()}"


def load_data(policy_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = {}
    data_dir = policy_dir / "data"
    if data_dir.is_dir():
        for file in sorted(data_dir.iterdir()):
            if file.suffix in {".yaml", ".yml"}:
                data[file.stem] = yaml.safe_load(file.read_text()) or {}
            elif file.suffix == ".json":
                data[file.stem] = json.loads(file.read_text())
    return {"org": data}


def policy_files(policy_dir: Path) -> list[Path]:
    return sorted(p for p in policy_dir.glob("*.rego") if not p.name.endswith("_test.rego"))


def signature(policy_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when any policy or data file is edited, added or removed."""
    files = [*policy_files(policy_dir), *sorted((policy_dir / "data").glob("*"))]
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file())


class PolicyWatch:
    """Hot reload's trigger: at most every `interval` seconds, have the policy files changed
    since they were last loaded (or last refused)?"""

    def __init__(self, policy_dir: Path | None, interval: float | None) -> None:
        self.policy_dir = policy_dir
        self.interval = interval
        self.loaded = signature(policy_dir) if policy_dir is not None else ()
        self._checked = time.monotonic()

    def due(self) -> bool:
        if self.policy_dir is None or self.interval is None:
            return False
        now = time.monotonic()
        if now - self._checked < self.interval:
            return False
        self._checked = now
        return signature(self.policy_dir) != self.loaded

    def seen(self) -> None:
        """The files as they are now were loaded, or refused: do not try them again."""
        if self.policy_dir is not None:
            self.loaded = signature(self.policy_dir)


class RegorusEngine:
    """In-process Rego. One engine, used from the event loop thread only (regorus engines must
    not be shared across threads); one query takes tens of microseconds, so no thread hop.

    Hot reload: at most every `reload_interval` seconds it compares the files' signature with
    the loaded one and rebuilds; a broken file is refused (with file:line in the log and in
    `reload_error`) and the policy in force stays.
    """

    name = "embedded"

    def __init__(
        self,
        policy_dir: Path,
        extra_data: dict[str, Any] | None = None,
        reload_interval: float | None = 1.0,
    ) -> None:
        self.policy_dir = policy_dir
        self._extra = extra_data or {}
        self._watch = PolicyWatch(policy_dir, reload_interval)
        self.reload_error: str | None = None
        self._engine = self._build()

    def _build(self) -> Any:
        engine = regorus.Engine()
        files = policy_files(self.policy_dir)
        if not files:
            raise PolicyError(f"no .rego files in {self.policy_dir}")
        for file in files:
            try:
                engine.add_policy(str(file), file.read_text())
            except Exception as exc:
                raise PolicyError(_located(file, str(exc))) from None
        try:
            data = load_data(self.policy_dir)
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise PolicyError(f"policy data is not valid: {exc}") from None
        data["org"].update(self._extra)
        engine.add_data_json(json.dumps(data))
        return engine

    def reload(self) -> None:
        """Rebuild from disk; on any error keep the old policy and raise."""
        self._watch.seen()
        try:
            engine = self._build()
        except PolicyError as exc:
            self.reload_error = str(exc)
            log.error("policy reload refused; keeping the policy in force", error=str(exc))
            raise
        self._engine, self.reload_error = engine, None
        log.info("policy reloaded", folder=str(self.policy_dir))

    def maybe_reload(self) -> None:
        if self._watch.due():
            with contextlib.suppress(PolicyError):  # logged; the old policy stays in force
                self.reload()

    async def evaluate(self, query: str, input_doc: dict[str, Any]) -> Any | None:
        return self.evaluate_sync(query, input_doc)

    def close(self) -> None:
        """Free the engine here, on the loop's thread: regorus' engine may only be dropped on
        the thread that made it, and a garbage collection in a worker thread would not be."""
        self._engine = None

    def evaluate_sync(self, query: str, input_doc: dict[str, Any]) -> Any | None:
        self.maybe_reload()
        if self._engine is None:
            raise PolicyError("the policy engine is closed")
        try:
            self._engine.set_input_json(json.dumps(input_doc))
            raw = self._engine.eval_query_as_json(query)
        except Exception as exc:
            raise PolicyError(_clean(str(exc))) from None
        results = json.loads(raw).get("result") or []
        if not results:
            return None
        return results[0]["expressions"][0]["value"]
