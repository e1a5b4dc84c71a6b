"""The slash grammar: what parses, and the one clear sentence for what does not."""

from __future__ import annotations

import pytest

from bot.compose import SKILL_MODULES
from bot.router import RouteError, Router
from bot.sdk import Registry

ROUTER = Router(Registry.from_modules(*SKILL_MODULES))


@pytest.mark.parametrize(
    ("text", "skill", "slots"),
    [
        ("/deploy checkout 1.5.0", "deploy", {"service": "checkout", "version": "1.5.0"}),
        (
            "/deploy checkout 1.5.0 to prod --strategy canary",
            "deploy",
            {
                "service": "checkout",
                "version": "1.5.0",
                "environment": "prod",
                "strategy": "canary",
            },
        ),
        (
            "/deploy checkout 1.5.0 --strategy=bluegreen to staging",
            "deploy",
            {
                "service": "checkout",
                "version": "1.5.0",
                "environment": "staging",
                "strategy": "bluegreen",
            },
        ),
        ("/rollback checkout", "rollback", {"service": "checkout"}),
        (
            "/rollback checkout production",
            "rollback",
            {"service": "checkout", "environment": "production"},
        ),
        ("/status", "status", {}),
        ("/status cart", "status", {"service": "cart"}),
        ("/help", "help", {}),
        ("help", "help", {}),
        ("approve", "approve", {}),
        ("approve ap12345678", "approve", {"id": "ap12345678"}),
        ("deny", "deny", {}),
        ("/shipmate deploy cart 2.0.0", "deploy", {"service": "cart", "version": "2.0.0"}),
        ("  /DEPLOY cart 2.0.0 ", "deploy", {"service": "cart", "version": "2.0.0"}),
    ],
)
def test_parses(text: str, skill: str, slots: dict[str, str]) -> None:
    intent = ROUTER.route(text)
    assert (intent.skill, intent.slots) == (skill, slots)


@pytest.mark.parametrize(
    ("text", "message", "has_usage"),
    [
        ("", "Say a command", False),
        ("/deploy", "Missing service and version.", True),
        ("/deploy checkout", "Missing version.", True),
        ("/deploy checkout 1.5.0 extra", "Unexpected 'extra'.", True),
        ("/deploy checkout 1.5.0 --force", "Unknown option --force", True),
        ("/deploy checkout 1.5.0 --strategy", "--strategy needs a value.", True),
        ("/deploy checkout 1.5.0 to prod to staging", "environment is given twice.", True),
        ("/frobnicate", "Unknown command /frobnicate.", False),
        ("deploy checkout please", "I understand slash commands here", False),
        ('/deploy "checkout 1.5.0', "unclosed quote", False),
    ],
)
def test_refuses_with_one_sentence(text: str, message: str, has_usage: bool) -> None:
    with pytest.raises(RouteError) as err:
        ROUTER.route(text)
    assert message in str(err.value)
    assert (err.value.usage is not None) is has_usage


def test_every_announced_command_has_its_skill_now() -> None:
    from bot.router import COMING

    assert COMING == {}
    assert ROUTER.route("/postmortem INC-1").skill == "postmortem"
    assert ROUTER.route("/kpi checkout 2026Q4").skill == "kpi"
