"""Shadow-mode scoring: what the learner recommended beside what the humans chose, how those
deploys ended, and what the learner's choice would have cost by the outcome model."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from learner.history import CHOSEN_AS, DeploymentRecord
from learner.simulator import NAMES, expected_costs


def scorecard(history: list[DeploymentRecord]) -> dict[str, Any]:
    per: dict[str, list[DeploymentRecord]] = defaultdict(list)
    for record in history:
        if record.suggested is not None:
            per[record.service].append(record)
    services = {}
    for service, rows in sorted(per.items()):
        agree = sum(r.suggested_deploy == r.chosen for r in rows)
        chosen_cost = suggested_cost = 0.0
        for r in rows:
            costs = expected_costs(r.features)
            chosen_cost += float(costs[NAMES.index(CHOSEN_AS.get(r.chosen, "rolling"))])
            suggested_cost += (
                float(costs[NAMES.index(r.suggested)]) if r.suggested in NAMES else 0.0
            )
        finished = [r for r in rows if r.outcome]
        services[service] = {
            "deploys": len(rows),
            "agreement": round(agree / len(rows), 3),
            "finished": len(finished),
            "failed": sum(r.outcome != "success" for r in finished),
            "failed_when_disagreeing": sum(
                r.outcome != "success" for r in finished if r.suggested_deploy != r.chosen
            ),
            "estimated_cost_chosen": round(chosen_cost / len(rows), 2),
            "estimated_cost_suggested": round(suggested_cost / len(rows), 2),
        }
    total = sum(s["deploys"] for s in services.values())
    agreement = (
        sum(s["agreement"] * s["deploys"] for s in services.values()) / total if total else 0.0
    )
    return {"deploys": total, "agreement": round(agreement, 3), "services": services}
