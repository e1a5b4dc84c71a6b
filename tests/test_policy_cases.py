"""Every case of policies/tests/*.yaml on the embedded engine; every rule fires somewhere."""

from __future__ import annotations

import re

import pytest

from bot.gate.policy import RegorusEngine
from bot.paths import policies_dir
from bot.policytest import PolicyCase, check, load_cases
from bot.vocab import ACTIONS

CASES = load_cases(policies_dir() / "tests")


@pytest.fixture(scope="module")
def engine() -> RegorusEngine:
    return RegorusEngine(policies_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_case(engine: RegorusEngine, case: PolicyCase) -> None:
    assert await check(engine, case) == []


RULE_ID = re.compile(
    r'"((?:deploy|sandbox|terraform|operations|runbook|incident|approvals|autonomy)\.[a-z_]+)"'
)


def test_every_rule_fires_in_some_case() -> None:
    declared: set[str] = set()
    for file in policies_dir().glob("*.rego"):
        declared |= set(RULE_ID.findall(file.read_text()))
    declared -= ACTIONS  # action names are not rule ids
    # Defaults reachable only for actions outside their domain (main.rego dispatches by domain).
    declared -= {f"{d}.default_deny" for d in ("deploy", "operations", "incident", "terraform")}
    covered = {rule for case in CASES for rule in case.expect.get("rules", [])}
    covered |= {f.split("@")[0] for case in CASES for f in case.expect.get("findings", [])}
    assert len(declared) > 40, declared
    assert declared - covered == set()
