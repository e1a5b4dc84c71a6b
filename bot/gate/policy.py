"""Policy engines behind one interface. The embedded engine is regorus (in-process Rego).

Policies are `*.rego` files in the policy folder; data files (`data/*.yaml|json`) are loaded as
`data.org.<file stem>`. Every action's decision is `data.shipmate.main.decision`; approver
eligibility is `data.shipmate.approvals.eligibility`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Protocol

import regorus
import yaml

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


class RegorusEngine:
    """In-process Rego. One engine, used from the event loop thread only (regorus engines must
    not be shared across threads); one query takes tens of microseconds, so no thread hop."""

    name = "embedded"

    def __init__(self, policy_dir: Path, extra_data: dict[str, Any] | None = None) -> None:
        self.policy_dir = policy_dir
        self._extra = extra_data or {}
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
        data = load_data(self.policy_dir)
        data["org"].update(self._extra)
        engine.add_data_json(json.dumps(data))
        return engine

    def reload(self) -> None:
        """Rebuild from disk; on any error keep the old policy and raise."""
        self._engine = self._build()

    async def evaluate(self, query: str, input_doc: dict[str, Any]) -> Any | None:
        return self.evaluate_sync(query, input_doc)

    def evaluate_sync(self, query: str, input_doc: dict[str, Any]) -> Any | None:
        try:
            self._engine.set_input_json(json.dumps(input_doc))
            raw = self._engine.eval_query_as_json(query)
        except Exception as exc:
            raise PolicyError(_clean(str(exc))) from None
        results = json.loads(raw).get("result") or []
        if not results:
            return None
        return results[0]["expressions"][0]["value"]
