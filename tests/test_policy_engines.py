"""Conformance with real OPA: every policy case decides identically on the embedded engine,
on OPA's own library in-process, and on an OPA server over REST. The REST backend fails closed."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.gate.opa_lib import OpaLibEngine
from bot.gate.opa_rest import OpaServerEngine
from bot.gate.policy import DECISION_QUERY, ELIGIBILITY_QUERY, PolicyError, RegorusEngine
from bot.models import OutcomeStatus
from bot.paths import policies_dir
from bot.policytest import PolicyCase, check, load_cases
from tests.conftest import make_harness
from tests.opa_server import LocalOpaServer
from tests.test_gate import _action, _safe

CASES = load_cases(policies_dir() / "tests")
IDS = [c.name for c in CASES]


def _query(case: PolicyCase) -> str:
    return ELIGIBILITY_QUERY if case.query == "eligibility" else DECISION_QUERY


@pytest.fixture(scope="module")
def embedded() -> RegorusEngine:
    return RegorusEngine(policies_dir(), reload_interval=None)


@pytest.fixture(scope="module")
def opa() -> OpaLibEngine:
    # Must load: a missing OPA library is a failure, never a skip.
    return OpaLibEngine.from_dir(policies_dir())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_real_opa_decides_identically(
    embedded: RegorusEngine, opa: OpaLibEngine, case: PolicyCase
) -> None:
    assert opa.evaluate_sync(_query(case), case.input) == embedded.evaluate_sync(
        _query(case), case.input
    )


@pytest.fixture
async def server() -> AsyncIterator[LocalOpaServer]:
    srv = LocalOpaServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def rest(server: LocalOpaServer) -> AsyncIterator[OpaServerEngine]:
    engine = OpaServerEngine(
        f"http://127.0.0.1:{server.port}",
        policy_dir=policies_dir(),
        timeout=1.0,
        reload_interval=None,
    )
    await engine.start()
    yield engine
    await engine.close()


async def test_rest_backend_passes_every_case_identically(
    rest: OpaServerEngine, server: LocalOpaServer, embedded: RegorusEngine
) -> None:
    assert ("PUT", "/v1/policies/shipmate/deploy.rego") in server.requests
    assert ("PUT", "/v1/data/org") in server.requests
    for case in CASES:
        assert await check(rest, case) == [], case.name
        got = await rest.evaluate(_query(case), case.input)
        assert got == embedded.evaluate_sync(_query(case), case.input), case.name
    assert ("POST", "/v1/data/shipmate/main/decision") in server.requests


async def test_rest_undefined_is_none(rest: OpaServerEngine) -> None:
    assert await rest.evaluate("data.shipmate.nothing.here", {}) is None


async def test_rest_timeout_error_and_outage_fail_closed(
    rest: OpaServerEngine, server: LocalOpaServer
) -> None:
    doc = CASES[0].input
    server.delay = 1.5
    with pytest.raises(PolicyError, match="did not answer"):
        await rest.evaluate(DECISION_QUERY, doc)
    server.delay, server.fail_with = 0.0, 500
    with pytest.raises(PolicyError, match="HTTP 500"):
        await rest.evaluate(DECISION_QUERY, doc)
    server.fail_with = None
    await server.stop()
    with pytest.raises(PolicyError, match="unreachable"):
        await rest.evaluate(DECISION_QUERY, doc)


async def test_gate_on_an_unreachable_opa_denies(tmp_path: Path, server: LocalOpaServer) -> None:
    engine = OpaServerEngine(
        f"http://127.0.0.1:{server.port}",
        policy_dir=policies_dir(),
        timeout=0.5,
        reload_interval=None,
    )
    await engine.start()
    await server.stop()
    h = make_harness(tmp_path / "h", engine=engine)
    out = await h.app.gate.submit(_action(h, env="staging"), _safe(h))
    assert out.status is OutcomeStatus.DENIED
    assert out.decision is not None and out.decision.rules == ("gate.policy_error",)
    await engine.close()
    await h.app.close()


async def test_rest_refuses_a_broken_policy_with_location(
    tmp_path: Path, server: LocalOpaServer
) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(policies_dir(), folder)
    (folder / "zz_broken.rego").write_text("package shipmate.zz\n\nimport rego.v1\n\nx := }\n")
    engine = OpaServerEngine(
        f"http://127.0.0.1:{server.port}", policy_dir=folder, reload_interval=None
    )
    with pytest.raises(PolicyError, match=r"zz_broken\.rego:5"):
        await engine.start()
    await engine.close()


async def test_rest_hot_reload_pushes_changed_data(tmp_path: Path, server: LocalOpaServer) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(policies_dir(), folder)
    engine = OpaServerEngine(
        f"http://127.0.0.1:{server.port}", policy_dir=folder, reload_interval=0
    )
    await engine.start()
    doc = {
        "action": {
            "name": "deploy.rollout",
            "params": {"service": "cart", "environment": "staging"},
        },
        "requester": {"name": "alice", "roles": ["deployer"]},
        "now": "2026-12-01T10:00:00Z",
    }
    assert (await engine.evaluate(DECISION_QUERY, doc))["allow"] is True
    services = folder / "data" / "services.yaml"
    services.write_text(services.read_text().replace("  cart: {", "  cart-retired: {"))
    decision = await engine.evaluate(DECISION_QUERY, doc)
    assert decision["rules"] == ["deploy.unknown_service"]
    await engine.close()


def test_opa_library_refuses_a_broken_policy() -> None:
    with pytest.raises(PolicyError, match=r"bad\.rego:3"):
        OpaLibEngine({"bad.rego": "package x\nimport rego.v1\ny := undefined_fn(1)\n"}, {})


async def test_configuration_picks_the_opa_server_end_to_end(
    tmp_path: Path, server: LocalOpaServer
) -> None:
    from bot.channel import ReplyKind
    from bot.compose import make_engine, start_engine
    from bot.settings import Settings

    settings = Settings(
        home=tmp_path / "h",
        policy_engine="opa",
        opa_url=f"http://127.0.0.1:{server.port}",
        policy_reload_seconds=-1,
    )
    engine = make_engine(settings, policies_dir())
    assert isinstance(engine, OpaServerEngine)
    await start_engine(engine)
    h = make_harness(tmp_path / "h", engine=engine)
    await h.say("alice", "/deploy checkout 1.5.0 to production")
    assert h.channel.of(ReplyKind.APPROVAL)
    await h.say("bob", "approve")
    state = await h.app.fleet.service("checkout", "production")
    assert state is not None and state.version == "1.5.0"
    decided = [r for r in h.app.audit.records() if r.kind == "decision"]
    assert decided and decided[0].payload["engine"] == "opa-server"
    assert ("POST", "/v1/data/shipmate/approvals/eligibility") in server.requests
    await h.app.close()
