"""Deploy history read from shipmate's own event log: how a service's recent deploys went.
A read-only port for skills (the learner's context) and for the scorecard."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import Clock
from bot.events import EventLog
from bot.ports import RecentHistory

OUTCOMES = {"action.succeeded": False, "action.rolled_back": True, "action.failed": True}


class EventHistory:
    def __init__(self, events: EventLog, clock: Clock) -> None:
        self._events = events
        self._clock = clock

    def recent(self, service: str, environment: str, days: int = 7) -> RecentHistory:
        since = self._clock.now() - timedelta(days=days)
        deploys = failures = 0
        last = None
        for event in self._events.find(
            "deployments",
            tuple(OUTCOMES),
            since,
            action="deploy.rollout",
            target=f"{service}/{environment}",
        ):
            deploys += 1
            failures += OUTCOMES[event.type]
            last = event.time if last is None or event.time > last else last
        hours = (self._clock.now() - last).total_seconds() / 3600 if last else None
        return RecentHistory(deploys=deploys, failures=failures, hours_since_last=hours)
