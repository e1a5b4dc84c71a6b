"""Event schemas: the committed JSON Schemas match the models, every event shipmate writes in
a real session matches its schema, and consumers tolerate what they do not know."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.events import Event
from bot.schemas import SCHEMAS, UnsupportedEvent, export, parse_data
from tests.conftest import Harness

ROOT = Path(__file__).resolve().parents[1]
SHIPMATE = Path(sys.executable).with_name("shipmate")


def test_committed_schemas_match_the_models(tmp_path: Path) -> None:
    written = {p.name: p.read_text() for p in export(tmp_path)}
    committed = {p.name: p.read_text() for p in (ROOT / "docs" / "schemas").glob("*.json")}
    assert committed == written, "run `shipmate events schemas` and commit docs/schemas/"


async def test_every_event_of_a_session_matches_its_schema(harness: Harness) -> None:
    for text, user in [
        ("/deploy checkout 1.5.0 to staging", "alice"),
        ("/deploy checkout 1.5.0 to production", "alice"),
        ("approve", "alice"),
        ("approve", "carol"),
        ("approve", "bob"),
        ("/sandbox break cart 9.9.9", "alice"),
        ("/deploy cart 9.9.9 to staging", "alice"),
        ("/rollback checkout", "bob"),
        ("/deploy ledger 3.2.0 to production", "alice"),
        ("/deploy cart 2.4.0 to production", "alice"),
        ("deny", "bob"),
    ]:
        await harness.say(user, text)
    events = harness.app.events.read()
    types = {e.type for e in events}
    assert {
        "request.received",
        "policy.decided",
        "approval.requested",
        "approval.refused",
        "approval.granted",
        "approval.rejected",
        "action.started",
        "action.succeeded",
        "action.rolled_back",
    } <= types
    for event in events:
        parse_data(event)  # raises on a payload that does not match its schema
    assert types <= set(SCHEMAS)


def test_unknown_and_newer_events_are_refused_politely() -> None:
    base = Event(
        type="action.started",
        time=datetime(2026, 12, 1, tzinfo=UTC),
        topic="deployments",
        correlation_id="c",
        actor="a",
        data={"action_id": "a", "action": "deploy.rollout", "target": "x"},
    )
    assert parse_data(base).model_dump()["action_id"] == "a"
    with pytest.raises(UnsupportedEvent, match="newer than v1"):
        parse_data(base.model_copy(update={"schema_version": 2}))
    with pytest.raises(UnsupportedEvent, match="unknown event type"):
        parse_data(base.model_copy(update={"type": "party.started"}))
    # Envelope fields from a newer producer are ignored, not fatal.
    newer = base.model_dump_json()[:-1] + ', "trace_id": "t-1"}'
    assert Event.model_validate_json(newer).id == base.id


def test_events_tail_reads_the_local_log(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SHIPMATE_HOME": str(tmp_path / "home"),
        "SHIPMATE_SANDBOX_STEP_SECONDS": "0",
    }
    script = tmp_path / "s.txt"
    script.write_text("/deploy cart 2.4.0 to staging\n")
    subprocess.run(
        [str(SHIPMATE), "chat", "--script", str(script)],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    result = subprocess.run(
        [str(SHIPMATE), "events", "tail", "deployments"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[3] for line in lines] == ["action.started", "action.succeeded"]
    bad = subprocess.run(
        [str(SHIPMATE), "events", "tail", "nonsense"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "Unknown topic" in bad.stderr


def test_every_event_type_shipmate_publishes_has_a_schema() -> None:
    """Kafka consumers pass over unknown types, so a type without a schema would never reach
    its subscribers in production (the incident timeline, for one)."""
    import re

    published: set[str] = set()
    for path in Path(__file__).resolve().parents[1].joinpath("skills").glob("*.py"):
        published |= set(re.findall(r'publish\(\s*"([a-z]+\.[a-z_]+)"', path.read_text()))
    published |= {"drift.detected", "drift.checked", "runbook.step"}
    assert published <= set(SCHEMAS), sorted(published - set(SCHEMAS))
