"""Versioned schemas of the events shipmate writes: one envelope (bot.events.Event) and, per
event type, the model of its `data` at each schema version. Exported as JSON Schema to
docs/schemas/ (`shipmate events schemas`), checked in CI against these models.

Consumers call `parse_data`: an unknown type or a newer version than this build knows is not
an error (it is passed over, logged), so an old replica never crashes on a new producer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.events import Event


class Payload(BaseModel):
    # Producers may add fields within a version; consumers keep what they know.
    model_config = ConfigDict(extra="allow")


class ActionRef(Payload):
    action_id: str
    action: str
    target: str


class RequestReceived(Payload):
    text: str
    door: str


class PolicyDecided(ActionRef):
    proposal: dict[str, Any]
    input: dict[str, Any]
    engine: str
    decision: dict[str, Any]


class PolicyEvaluated(Payload):
    input: dict[str, Any]
    engine: str
    decision: dict[str, Any]


class ApprovalRequested(ActionRef):
    approval_id: str
    required: int
    eligible: list[str]
    expires_at: str


class ApprovalClosed(ActionRef):
    approval_id: str
    text: str


class ApprovalRefused(ActionRef):
    approval_id: str
    verb: str
    reasons: list[str]


class ApprovalVote(ActionRef):
    approval_id: str
    have: int
    required: int


class ActionStarted(ActionRef):
    pass


class ActionFinished(ActionRef):
    status: str
    summary: str = ""
    details: dict[str, Any] = {}


class ActionShadowed(ActionRef):
    decision: dict[str, Any]


class IncidentEvent(Payload):
    incident_id: str
    title: str = ""
    severity: str | None = None
    service: str | None = None
    status: str | None = None


class DriftDetected(Payload):
    """A drift check's result (drift.detected when something drifted, drift.checked when
    clean): the services the workspace serves let incidents link it into their timelines."""

    workspace: str
    resources: list[dict[str, Any]]
    services: list[str] = []
    snoozed: int = 0
    seconds: float = 0.0


class RunbookStep(Payload):
    """A runbook step told in its thread, for the incident's timeline."""

    text: str
    incident: str | None = None
    services: list[str] = []
    runbook: str | None = None


class AuditAppended(Payload):
    seq: int
    kind: str
    hash: str


# type -> {schema_version: model}
SCHEMAS: dict[str, dict[int, type[Payload]]] = {
    "request.received": {1: RequestReceived},
    "policy.decided": {1: PolicyDecided},
    "policy.evaluated": {1: PolicyEvaluated},
    "approval.requested": {1: ApprovalRequested},
    "approval.granted": {1: ApprovalClosed},
    "approval.rejected": {1: ApprovalClosed},
    "approval.expired": {1: ApprovalClosed},
    "approval.withdrawn": {1: ApprovalClosed},
    "approval.refused": {1: ApprovalRefused},
    "approval.vote": {1: ApprovalVote},
    "action.started": {1: ActionStarted},
    "action.succeeded": {1: ActionFinished},
    "action.failed": {1: ActionFinished},
    "action.rolled_back": {1: ActionFinished},
    "action.interrupted": {1: ActionFinished},
    "action.shadowed": {1: ActionShadowed},
    "incident.declared": {1: IncidentEvent},
    "incident.updated": {1: IncidentEvent},
    "incident.resolved": {1: IncidentEvent},
    "drift.detected": {1: DriftDetected},
    "drift.checked": {1: DriftDetected},
    "runbook.step": {1: RunbookStep},
    "audit.appended": {1: AuditAppended},
}


class UnsupportedEvent(Exception):
    """Not for this build: an unknown type, or a newer schema version than it knows."""


def parse_data(event: Event) -> Payload:
    versions = SCHEMAS.get(event.type)
    if versions is None:
        raise UnsupportedEvent(f"unknown event type {event.type}")
    model = versions.get(event.schema_version)
    if model is None:
        newest = max(versions)
        raise UnsupportedEvent(
            f"{event.type} v{event.schema_version} is newer than v{newest}, "
            "the newest this build knows"
        )
    return model.model_validate(event.data)


def export(folder: Path) -> list[Path]:
    """Write envelope.schema.json and <type>.v<N>.schema.json; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    documents: dict[str, dict[str, Any]] = {"envelope.schema.json": Event.model_json_schema()}
    for event_type, versions in SCHEMAS.items():
        for version, model in versions.items():
            schema = model.model_json_schema()
            schema["title"] = f"{event_type} v{version}"
            documents[f"{event_type}.v{version}.schema.json"] = schema
    for name, schema in sorted(documents.items()):
        path = folder / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
