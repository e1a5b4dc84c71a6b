"""Table-driven policy cases (`policies/tests/*.yaml`): input -> expected decision, run on any
engine. Used by the test suite (and `shipmate policy test`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from bot.gate.policy import DECISION_QUERY, ELIGIBILITY_QUERY, PolicyEngine
from bot.models import Decision


class PolicyCase(BaseModel):
    name: str
    input: dict[str, Any]
    expect: dict[str, Any]
    query: str = "decision"
    # A Terraform plan JSON (relative to the case file) placed at input.action.params.plan.
    plan_file: str | None = None
    file: str = ""


def load_cases(folder: Path) -> list[PolicyCase]:
    cases: list[PolicyCase] = []
    for file in sorted(folder.glob("*.yaml")):
        for raw in yaml.safe_load(file.read_text()) or []:
            case = PolicyCase(**raw, file=file.name)
            if case.plan_file:
                plan = json.loads((folder / case.plan_file).read_text())
                case.input["action"].setdefault("params", {})["plan"] = plan
            cases.append(case)
    return cases


async def check(engine: PolicyEngine, case: PolicyCase) -> list[str]:
    """The ways the engine's answer differs from the expectation (empty: it passes)."""
    query = ELIGIBILITY_QUERY if case.query == "eligibility" else DECISION_QUERY
    value = await engine.evaluate(query, case.input)
    want, problems = case.expect, []
    if case.query == "eligibility":
        got = value or {}
        if got.get("eligible") is not want["eligible"]:
            problems.append(f"eligible: want {want['eligible']}, got {got.get('eligible')}")
        if "rules" in want and sorted(got.get("rules", [])) != sorted(want["rules"]):
            problems.append(f"rules: want {want['rules']}, got {got.get('rules')}")
        return problems
    if value is None:
        return [] if want["verdict"] == "undefined" else ["decision is undefined"]
    if want["verdict"] == "undefined":
        return [f"want undefined, got {value}"]
    decision = Decision.model_validate(value)
    if decision.verdict.value != want["verdict"]:
        problems.append(f"verdict: want {want['verdict']}, got {decision.verdict.value}")
    if "rules" in want and sorted(decision.rules) != sorted(want["rules"]):
        problems.append(f"rules: want {want['rules']}, got {list(decision.rules)}")
    if "mode" in want and decision.mode != want["mode"]:
        problems.append(f"mode: want {want['mode']}, got {decision.mode}")
    if "findings" in want:
        got_findings = sorted(f"{f.rule}@{f.address}" for f in decision.findings)
        if got_findings != sorted(want["findings"]):
            problems.append(f"findings: want {sorted(want['findings'])}, got {got_findings}")
    for key in ("approvals_required", "eligible_approvers"):
        if key in want:
            got_value = getattr(decision, key)
            if (list(got_value) if isinstance(got_value, tuple) else got_value) != want[key]:
                problems.append(f"{key}: want {want[key]}, got {got_value}")
    if "reason_contains" in want and not any(
        want["reason_contains"] in r for r in decision.reasons
    ):
        problems.append(f"no reason mentions {want['reason_contains']}: {decision.reasons}")
    return problems
