"""The suggester seam. Until a trained model ships, the placeholder says so in every reply."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from learner.features import DeployFeatures


class DeployContext(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    environment: str
    tier: int
    from_version: str
    to_version: str
    requested_strategy: str | None = None
    # What is known about the change and the service (missing: unknown).
    features: DeployFeatures | None = None


class Alternative(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy: str
    expected_cost: float


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy: str | None  # None: no recommendation; else a learner strategy name
    label: str = ""  # in words, e.g. "canary 5% with a 45-minute window"
    deploy_strategy: str | None = None  # what the deploy skill would run: rolling|canary|...
    canary_first_step: float | None = None
    canary_window_minutes: int | None = None
    confidence: float = 0.0
    expected_cost: float | None = None
    failure_probability: float | None = None
    reasons: tuple[str, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    model: str = "none"

    def sentence(self, chosen: str | None = None) -> str:
        if self.strategy is None:
            return "Learner: " + ("; ".join(self.reasons) or "no suggestion") + "."
        why = ", ".join(self.reasons)
        alts = "; ".join(f"{a.strategy} {a.expected_cost:.1f}" for a in self.alternatives)
        text = (
            f"Learner suggests {self.label} (confidence {self.confidence:.0%}) for {why}. "
            f"Expected cost {self.expected_cost or 0:.1f} (alternatives: {alts})."
        )
        if chosen and self.deploy_strategy and chosen != self.deploy_strategy:
            text += f" You chose {chosen}: that is what will run."
        return text


class Suggester(Protocol):
    def suggest(self, context: DeployContext) -> Suggestion: ...


class NoModelSuggester:
    """Stands in until the learner issue ships a trained model."""

    def suggest(self, context: DeployContext) -> Suggestion:
        return Suggestion(strategy=None, reasons=("no learner model loaded",))
