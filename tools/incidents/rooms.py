"""War rooms: a channel per incident. `SlackRooms` with the Slack Web API (conversations.create,
invite, setTopic, pins.add, archive; a taken name gets -2, -3, ...); `LocalRooms` for the
terminal, where a room is a name and every message is printed with it."""

from __future__ import annotations

from typing import Protocol

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = structlog.get_logger(__name__)


class Rooms(Protocol):
    async def create(self, name: str) -> tuple[str, str]:
        """(channel id, the name it got)."""
        ...

    async def invite(self, channel: str, people: list[str]) -> list[str]: ...

    async def topic(self, channel: str, text: str) -> None: ...

    async def pin(self, channel: str, message: str) -> None: ...

    async def archive(self, channel: str) -> None: ...


class SlackRooms:
    def __init__(self, client: AsyncWebClient, slack_id: dict[str, str]) -> None:
        self.client = client
        self.slack_id = slack_id  # directory name -> Slack user id

    async def create(self, name: str) -> tuple[str, str]:
        for n in range(1, 20):
            candidate = name if n == 1 else f"{name[:76]}-{n}"
            try:
                response = await self.client.conversations_create(name=candidate)
            except SlackApiError as exc:
                if exc.response.get("error") == "name_taken":
                    continue
                raise
            channel = response["channel"]
            return str(channel["id"]), str(channel["name"])
        raise RuntimeError(f"no free channel name like {name}")

    async def invite(self, channel: str, people: list[str]) -> list[str]:
        ids = [self.slack_id[p] for p in people if p in self.slack_id]
        if ids:
            try:
                await self.client.conversations_invite(channel=channel, users=",".join(ids))
            except SlackApiError as exc:  # already in it is fine; the rest is reported
                if exc.response.get("error") != "already_in_channel":
                    raise
        return [p for p in people if p in self.slack_id]

    async def topic(self, channel: str, text: str) -> None:
        await self.client.conversations_setTopic(channel=channel, topic=text[:250])

    async def pin(self, channel: str, message: str) -> None:
        await self.client.pins_add(channel=channel, timestamp=message)

    async def archive(self, channel: str) -> None:
        try:
            await self.client.conversations_archive(channel=channel)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_archived":
                raise


class LocalRooms:
    """Rooms for the terminal: names, kept in memory; nothing to invite or pin."""

    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, object]] = {}

    async def create(self, name: str) -> tuple[str, str]:
        candidate, n = name, 1
        while f"#{candidate}" in self.rooms:
            n += 1
            candidate = f"{name[:76]}-{n}"
        self.rooms[f"#{candidate}"] = {"members": [], "topic": "", "archived": False}
        return f"#{candidate}", candidate

    async def invite(self, channel: str, people: list[str]) -> list[str]:
        members = self.rooms.setdefault(channel, {"members": []})["members"]
        assert isinstance(members, list)
        members.extend(p for p in people if p not in members)
        return people

    async def topic(self, channel: str, text: str) -> None:
        self.rooms.setdefault(channel, {})["topic"] = text

    async def pin(self, channel: str, message: str) -> None:
        return None

    async def archive(self, channel: str) -> None:
        self.rooms.setdefault(channel, {})["archived"] = True
