"""Real OPA, in-process, through OPA's Go library (`opa-golib-python-bindings`, import name
`opa_bindings`). Used to check that the embedded engine decides exactly as OPA does, by the
test suite's local OPA server, and by the benchmarks. It is a test extra: the package declares
Python >= 3.14 and is installed with --ignore-requires-python (see the Makefile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.gate.policy import PolicyError, load_data, policy_files


def _bindings() -> Any:
    try:
        import opa_bindings
    except ImportError as exc:  # a missing test extra must fail loudly, never skip
        raise PolicyError(
            "OPA's library (opa-golib-python-bindings) is not installed; run `make test`, which "
            "installs it with --ignore-requires-python"
        ) from exc
    return opa_bindings


def query_path(query: str) -> str:
    """`data.shipmate.main.decision` -> `shipmate.main.decision` (the bindings' document path)."""
    return query.removeprefix("data.")


class OpaLibEngine:
    name = "opa-lib"

    def __init__(self, modules: dict[str, str], data: dict[str, Any]) -> None:
        lib = _bindings()
        self._undefined = lib.OpaUndefinedError
        self._error = lib.OpaError
        self._engine = lib.OpaEngine()
        try:
            for path, source in modules.items():
                self._engine.add_policy(path, source)
            self._engine.add_data(data)
            # Compile errors surface on first evaluation: force one now, so a broken policy is
            # refused when loaded, not at the first decision.
            self._engine.eval_query("x := 1", {})
        except self._error as exc:
            raise PolicyError(str(exc)) from None

    @classmethod
    def from_dir(cls, policy_dir: Path) -> OpaLibEngine:
        modules = {str(p): p.read_text() for p in policy_files(policy_dir)}
        return cls(modules, load_data(policy_dir))

    async def evaluate(self, query: str, input_doc: dict[str, Any]) -> Any | None:
        return self.evaluate_sync(query, input_doc)

    def evaluate_sync(self, query: str, input_doc: dict[str, Any]) -> Any | None:
        try:
            return self._engine.eval_document(query_path(query), input_doc)
        except self._undefined:
            return None
        except self._error as exc:
            raise PolicyError(str(exc)) from None

    def close(self) -> None:
        self._engine.close()
