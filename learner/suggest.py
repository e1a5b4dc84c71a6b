"""The suggester seam. Until a trained model ships, the placeholder says so in every reply."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict


class DeployContext(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    environment: str
    tier: int
    from_version: str
    to_version: str
    requested_strategy: str | None = None


class Alternative(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy: str
    expected_cost: float


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy: str | None  # None: no recommendation
    canary_window_minutes: int | None = None
    confidence: float = 0.0
    reasons: tuple[str, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    model: str = "none"

    def sentence(self) -> str:
        if self.strategy is None:
            return "Learner: " + ("; ".join(self.reasons) or "no suggestion") + "."
        window = (
            f" with a {self.canary_window_minutes}-minute window"
            if self.canary_window_minutes
            else ""
        )
        why = "; ".join(self.reasons)
        return (
            f"Learner suggests {self.strategy}{window} (confidence {self.confidence:.0%}): {why}."
        )


class Suggester(Protocol):
    def suggest(self, context: DeployContext) -> Suggestion: ...


class NoModelSuggester:
    """Stands in until the learner issue ships a trained model."""

    def suggest(self, context: DeployContext) -> Suggestion:
        return Suggestion(strategy=None, reasons=("no learner model loaded",))
