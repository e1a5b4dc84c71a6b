"""Deployment outcomes from shipmate's own event log: each deploy's context (the features the
deploy skill recorded with its policy decision), the strategy that ran, what the learner
suggested, and how it ended. The event log is append-only, so every new outcome event adds to
this history without a copy."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from learner.features import DeployFeatures

OUTCOMES = {
    "action.succeeded": "success",
    "action.rolled_back": "rolled_back",
    "action.failed": "failed",
    "action.interrupted": "failed",
}
# The deploy skill's strategies, as the learner's (its canary starts at 10 %, between the
# learner's small and medium first steps; the medium one is the closer in exposure).
CHOSEN_AS = {"rolling": "rolling", "canary": "canary_medium_short", "bluegreen": "bluegreen"}


class DeploymentRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    action_id: str
    service: str
    environment: str
    features: DeployFeatures
    chosen: str  # the deploy skill's strategy: rolling | canary | bluegreen
    suggested: str | None  # the learner's strategy name, if it suggested one
    suggested_deploy: str | None
    outcome: str | None  # success | rolled_back | failed | None (not finished)


def records(events: Iterable[tuple[str, dict[str, Any]]]) -> list[DeploymentRecord]:
    """Join decisions and outcomes by action id. `events` are (type, data) in log order."""
    decided: dict[str, dict[str, Any]] = {}
    outcome: dict[str, str] = {}
    for event_type, data in events:
        if event_type == "policy.decided" and data.get("action") == "deploy.rollout":
            if data.get("decision", {}).get("allow"):
                decided[data["action_id"]] = data
        elif event_type in OUTCOMES and data.get("action") == "deploy.rollout":
            outcome[data["action_id"]] = OUTCOMES[event_type]
    out = []
    for action_id, data in decided.items():
        proposal = data.get("proposal", {})
        params, risk = proposal.get("params", {}), proposal.get("risk", {})
        learner = risk.get("learner") or {}
        features = DeployFeatures.model_validate(
            learner.get("features") or {"tier": risk.get("tier", 2)}
        )
        out.append(
            DeploymentRecord(
                action_id=action_id,
                service=params.get("service", "?"),
                environment=params.get("environment", "?"),
                features=features,
                chosen=params.get("strategy", "rolling"),
                suggested=learner.get("strategy"),
                suggested_deploy=learner.get("deploy_strategy"),
                outcome=outcome.get(action_id),
            )
        )
    return out
