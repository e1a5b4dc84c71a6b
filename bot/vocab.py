"""Closed vocabularies shared by router, skills, policy and Gate."""

from __future__ import annotations

from typing import Literal

# Every side effect is one of these. The Gate refuses anything else before policy is asked.
ACTIONS: frozenset[str] = frozenset(
    {
        "deploy.rollout",
        "deploy.rollback",
        "sandbox.fault.inject",
        "sandbox.fault.clear",
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
    return {"deploy": "deployments", "sandbox": "sandbox"}.get(domain, "audit")
