"""Every case of policies/tests/*.yaml on the embedded engine; every rule fires somewhere."""

from __future__ import annotations

import re

import pytest

from bot.gate.policy import RegorusEngine
from bot.paths import policies_dir
from bot.policytest import PolicyCase, check, load_cases

CASES = load_cases(policies_dir() / "tests")


@pytest.fixture(scope="module")
def engine() -> RegorusEngine:
    return RegorusEngine(policies_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_case(engine: RegorusEngine, case: PolicyCase) -> None:
    assert await check(engine, case) == []


def test_every_rule_fires_in_some_case() -> None:
    declared: set[str] = set()
    for file in policies_dir().glob("*.rego"):
        declared |= set(re.findall(r'"rule":\s*"([a-z_]+\.[a-z_]+)"', file.read_text()))
        declared |= set(re.findall(r'\["((?:deploy|sandbox)\.[a-z_]+)"\]', file.read_text()))
    declared.discard("deploy.default_deny")  # reachable only for actions outside the domain
    covered = {rule for case in CASES for rule in case.expect.get("rules", [])}
    assert declared, "no rule ids found in the policies"
    assert declared - covered == set()
