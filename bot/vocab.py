"""Closed vocabularies shared by router, skills, policy and Gate."""

from __future__ import annotations

from typing import Literal

# Every side effect is one of these. The Gate refuses anything else before policy is asked.
ACTIONS: frozenset[str] = frozenset(
    {
        # deploys and progressive delivery
        "deploy.rollout",
        "deploy.rollback",
        "deploy.promote",
        "deploy.abort",
        "deploy.pause",
        "deploy.resume",
        "deploy.set_weight",
        # the sandbox's own controls
        "sandbox.fault.inject",
        "sandbox.fault.clear",
        "sandbox.drift.inject",
        # Terraform
        "terraform.plan",
        "terraform.apply",
        "terraform.drift.ignore",
        "terraform.runtask",
        "postmortem.publish",
        # operations (runbook steps name these)
        "k8s.deployment.restart",
        "k8s.deployment.scale",
        "k8s.node.drain",
        "cache.flush",
        "runbook.query",
        # incidents
        "pagerduty.incident.create",
        "pagerduty.incident.acknowledge",
        "pagerduty.incident.resolve",
        "pagerduty.incident.note",
        "slack.channel.create",
        "slack.channel.archive",
        "incident.status.update",
        "incident.role.assign",
    }
)

Environment = Literal["production", "staging", "development"]
Strategy = Literal["rolling", "canary", "bluegreen"]
STRATEGIES: tuple[Strategy, ...] = ("rolling", "canary", "bluegreen")

_ENV_ALIASES: dict[str, Environment] = {
    "production": "production",
    "prod": "production",
    "prd": "production",
    "live": "production",
    "staging": "staging",
    "stage": "staging",
    "stg": "staging",
    "development": "development",
    "dev": "development",
}
_STRATEGY_ALIASES: dict[str, Strategy] = {
    "rolling": "rolling",
    "roll": "rolling",
    "canary": "canary",
    "bluegreen": "bluegreen",
    "blue-green": "bluegreen",
    "blue/green": "bluegreen",
    "bg": "bluegreen",
}


def normalize_env(value: str) -> Environment:
    try:
        return _ENV_ALIASES[value.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown environment '{value}' (use production, staging or development)"
        ) from None


def normalize_strategy(value: str) -> Strategy:
    try:
        return _STRATEGY_ALIASES[value.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown strategy '{value}' (use rolling, canary or bluegreen)") from None


def topic_for_action(name: str) -> str:
    domain = name.split(".", 1)[0]
    return {
        "deploy": "deployments",
        "sandbox": "sandbox",
        "terraform": "drift",
        "pagerduty": "incidents",
        "incident": "incidents",
        "slack": "incidents",
        "k8s": "incidents",
        "cache": "incidents",
        "runbook": "incidents",
        "postmortem": "incidents",
    }.get(domain, "audit")
