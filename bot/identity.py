"""The team directory: stable names, roles and door identities (Slack user IDs), read from the
policy data (`policies/data/team.yaml`) so policy and doors agree on who is who."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.gate.policy import load_data
from bot.models import Principal


class Directory:
    def __init__(self, users: dict[str, dict[str, Any]]) -> None:
        self._users = users
        self._by_slack = {u["slack_id"]: name for name, u in users.items() if u.get("slack_id")}

    @classmethod
    def from_policy_dir(cls, policy_dir: Path) -> Directory:
        team = load_data(policy_dir)["org"].get("team", {})
        return cls(dict(team.get("users", {})))

    def names(self) -> list[str]:
        return sorted(self._users)

    def knows(self, name: str) -> bool:
        return name in self._users

    def principal(self, name: str) -> Principal:
        """Unknown people get no roles; policy decides what they may do (nothing, by default)."""
        roles = tuple(self._users.get(name, {}).get("roles", ()))
        return Principal(name=name, roles=roles)

    def emails(self) -> dict[str, str]:
        """email -> name (PagerDuty knows people by email)."""
        return {str(u["email"]).lower(): name for name, u in self._users.items() if u.get("email")}

    def slack_ids(self) -> dict[str, str]:
        return {name: u["slack_id"] for name, u in self._users.items() if u.get("slack_id")}

    def with_role(self, role: str) -> list[str]:
        return sorted(name for name, u in self._users.items() if role in u.get("roles", ()))

    def by_slack_id(self, user_id: str) -> Principal:
        return self.principal(self._by_slack.get(user_id, user_id))
