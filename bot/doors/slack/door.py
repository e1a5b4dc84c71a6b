"""The Slack door (slack_bolt AsyncApp): slash commands, app mentions, DMs and Approve/Deny
buttons become pipeline Requests; replies go back through SlackChannel.

Slack's rules, kept here: acknowledge first (well under 3 s) and work after, in background
tasks; a request Slack retries (same event_id, X-Slack-Retry-Num) or redelivers (same
trigger_id) runs once, because its key is remembered in the store and the action's idempotency
key derives from it; identities are Slack user IDs, never display names; signatures and
timestamps are checked by bolt (requests older than 5 minutes are refused with 401).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

import structlog
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.channel import MessageRef, Reply, ReplyKind, SafeChannel
from bot.compose import App
from bot.doors.slack.blocks import ACTION_PREFIX
from bot.doors.slack.channel import SlackChannel
from bot.models import Origin, Principal, Request, Transport

log = structlog.get_logger(__name__)

PIN_REACTIONS = {"pushpin", "round_pushpin"}

COMMANDS = (
    "/shipmate",
    "/deploy",
    "/rollback",
    "/promote",
    "/abort",
    "/drift",
    "/incident",
    "/runbook",
    "/postmortem",
    "/kpi",
)
_MENTION = re.compile(r"<@[A-Z0-9]+>\s*")


def make_client(token: str, base_url: str | None = None) -> AsyncWebClient:
    """The Web API client, retrying 429 (honouring Retry-After), 5xx and dropped connections."""
    client = AsyncWebClient(token=token, base_url=base_url or AsyncWebClient.BASE_URL)
    client.retry_handlers.extend(
        [
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=3),
        ]
    )
    if not any(isinstance(h, AsyncConnectionErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(AsyncConnectionErrorRetryHandler(max_retry_count=2))
    return client


class SlackIdentity:
    """Slack user IDs to shipmate principals: the team directory's `slack_id`, plus roles from
    Slack user groups when configured ({role: usergroup id}), refreshed periodically."""

    def __init__(
        self, shipmate: App, client: AsyncWebClient, usergroups: dict[str, str] | None = None
    ) -> None:
        self._directory = shipmate.directory
        self._client = client
        self._usergroups = usergroups or {}
        self._group_roles: dict[str, set[str]] = {}

    async def refresh(self) -> None:
        roles: dict[str, set[str]] = {}
        for role, group in self._usergroups.items():
            try:
                response = await self._client.usergroups_users_list(usergroup=group)
            except SlackApiError as exc:
                log.warning(
                    "could not read a Slack user group",
                    group=group,
                    error=exc.response.get("error"),
                )
                continue
            members: list[str] = list(response.get("users", []))
            for user in members:
                roles.setdefault(user, set()).add(role)
        self._group_roles = roles

    def principal(self, user_id: str) -> Principal:
        base = self._directory.by_slack_id(user_id)
        extra = self._group_roles.get(user_id, set()) - set(base.roles)
        if not extra or not self._directory.knows(base.name):
            return base  # groups add roles to people in the directory, never create people
        return base.model_copy(update={"roles": (*base.roles, *sorted(extra))})


class SlackDoor:
    DDL = """
    CREATE TABLE IF NOT EXISTS slack_requests (
        key TEXT PRIMARY KEY,
        time TEXT NOT NULL
    );
    """

    def __init__(
        self,
        shipmate: App,
        *,
        bot_token: str,
        signing_secret: str,
        app_token: str | None = None,
        api_url: str | None = None,
        usergroups: dict[str, str] | None = None,
        work_slots: int = 4,
    ) -> None:
        self.shipmate = shipmate
        self.client = make_client(bot_token, api_url)
        self.app_token = app_token
        self.identity = SlackIdentity(shipmate, self.client, usergroups)
        # Our listeners only ack and hand the work to a background task, so bolt may run them
        # before responding: that answers at once, where the lazy mode polls for the ack
        # every 10 ms.
        self.bolt = AsyncApp(
            signing_secret=signing_secret, client=self.client, process_before_response=True
        )
        shipmate.store.ensure_schema(self.DDL)
        shipmate.channels.register(
            "slack", lambda origin: SlackChannel(self.client, origin.channel)
        )
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        # Work runs after the ack, a few requests at a time: the event loop stays free to
        # acknowledge a burst of requests at once instead of sharing it with all their work.
        self._slots = asyncio.Semaphore(work_slots)
        self._register()

    # ---- listeners ----------------------------------------------------------------------------
    def _register(self) -> None:
        for command in COMMANDS:
            self.bolt.command(command)(self._on_command)
        self.bolt.event("app_mention")(self._on_mention)
        self.bolt.event("message")(self._on_message)
        self.bolt.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}(approve|deny)$"))(self._on_vote)
        self.bolt.action(f"{ACTION_PREFIX}say")(self._on_say)
        self.bolt.event("reaction_added")(self._on_reaction)

    async def _on_command(self, ack: Any, command: dict[str, Any], body: dict[str, Any]) -> None:
        text = f"{command['command']} {command.get('text', '')}".strip()
        await ack(text=f"Working on `{text}`")
        self._dispatch(
            key=f"cmd:{body.get('trigger_id') or body.get('command_ts', text)}",
            user_id=command["user_id"],
            channel_id=command["channel_id"],
            thread=None,
            text=text,
            response_url=command.get("response_url"),
        )

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        # The story goes in the thread of the mention (or the thread it was made in).
        self._dispatch(
            key=f"evt:{body.get('event_id') or event['ts']}",
            user_id=event["user"],
            channel_id=event["channel"],
            thread=event.get("thread_ts") or event["ts"],
            text=_MENTION.sub("", event.get("text", "")).strip(),
        )

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        # Direct messages only; other channel messages, edits and bots' messages are not ours.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        self._dispatch(
            key=f"evt:{body.get('event_id') or event['ts']}",
            user_id=event["user"],
            channel_id=event["channel"],
            thread=event.get("thread_ts"),
            text=event.get("text", "").strip(),
        )

    async def _on_vote(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        key = f"act:{body.get('trigger_id')}:{action.get('action_ts')}"
        if not self._first(key):
            return
        channel_id = body.get("channel", {}).get("id") or body.get("container", {}).get(
            "channel_id", ""
        )
        approve = action["action_id"].endswith("approve")
        self.shipmate.tasks.spawn(
            self._vote(
                body["user"]["id"],
                channel_id,
                action.get("value") or None,
                approve,
                body.get("container", {}).get("thread_ts"),
            ),
            name=f"slack-vote:{key}",
        )

    async def _on_reaction(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """A pin reaction on any message in a war room puts that message in the timeline."""
        item = event.get("item") or {}
        if event.get("reaction") not in PIN_REACTIONS or item.get("type") != "message":
            return
        channel, ts = str(item.get("channel", "")), str(item.get("ts", ""))
        incident = self.shipmate.desk.by_channel(channel)
        if incident is None or not self._first(f"evt:{body.get('event_id') or ts}"):
            return
        text = ""
        try:
            history = await self.client.conversations_history(
                channel=channel, latest=ts, inclusive=True, limit=1
            )
            messages = history.get("messages") or []
            text = str(messages[0].get("text", "")) if messages else ""
        except SlackApiError as exc:  # the entry still records who pinned what, by link
            log.warning("could not read the pinned message", error=str(exc))
        who = self.identity.principal(str(event.get("user", ""))).name
        self.shipmate.desk.note_timeline(
            incident.id,
            who,
            "reaction",
            f"Pinned: {text[:300] or '(a message)'}",
            f"slack:{channel}/{ts}",
        )

    async def _on_say(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A clarifying question's button: the clicker says that command."""
        await ack()
        container = body.get("container", {})
        self._dispatch(
            key=f"say:{body.get('trigger_id')}:{action.get('action_ts')}",
            user_id=body["user"]["id"],
            channel_id=body.get("channel", {}).get("id") or container.get("channel_id", ""),
            thread=container.get("thread_ts"),
            text=str(action.get("value", "")),
        )

    # ---- work ---------------------------------------------------------------------------------
    def _first(self, key: str) -> bool:
        """True the first time a Slack request is seen; retries and redeliveries are False."""
        with self.shipmate.store.tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO slack_requests VALUES (?, ?)",
                (key, self.shipmate.clock.now().isoformat()),
            )
        if cur.rowcount == 0:
            log.info("Slack request seen before; not running it twice", key=key)
        return cur.rowcount == 1

    @staticmethod
    def request_id(key: str) -> str:
        return "s" + hashlib.sha256(key.encode()).hexdigest()[:11]

    def _dispatch(
        self,
        *,
        key: str,
        user_id: str,
        channel_id: str,
        thread: str | None,
        text: str,
        response_url: str | None = None,
    ) -> None:
        if not self._first(key):
            return
        request = Request(
            id=self.request_id(key),
            principal=self.identity.principal(user_id),
            origin=Origin(transport="slack", channel=channel_id, thread=thread),
            text=text,
            received_at=self.shipmate.clock.now(),
        )
        channel = ResponseUrlFallback(SlackChannel(self.client, channel_id), response_url)
        self.shipmate.tasks.spawn(self._work(request, channel), name=f"slack:{request.id}")

    async def _work(self, request: Request, channel: ResponseUrlFallback) -> None:
        async with self._slots:
            await self.shipmate.pipeline.handle(request, channel)

    async def _vote(
        self,
        user_id: str,
        channel_id: str,
        approval_id: str | None,
        approve: bool,
        thread: str | None,
    ) -> None:
        principal = self.identity.principal(user_id)
        channel = SafeChannel(SlackChannel(self.client, channel_id))
        answer = await self.shipmate.gate.vote(principal, approval_id, approve, channel)
        if answer.kind != ReplyKind.SUCCESS:
            # Only the person who clicked needs to know why their click did nothing.
            await channel.post(
                Reply(kind=ReplyKind(answer.kind), text=answer.text, ephemeral_to=user_id), thread
            )

    # ---- connection modes ---------------------------------------------------------------------
    async def start_http(self, host: str = "127.0.0.1", port: int = 3000) -> int:
        """Serve /slack/events (commands, events and interactivity on one path). Returns the
        bound port (0 picks a free one)."""
        self._runner = web.AppRunner(
            self.bolt.web_app(path="/slack/events", port=port), access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("Slack HTTP endpoint up", host=host, port=bound)
        return int(bound)

    async def start_socket(self) -> None:
        if not self.app_token:
            raise ValueError("Socket Mode needs SLACK_APP_TOKEN (an xapp- app-level token)")
        self._socket = AsyncSocketModeHandler(self.bolt, self.app_token, web_client=self.client)
        await self._socket.connect_async()  # type: ignore[no-untyped-call]
        log.info("Slack Socket Mode connected")

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class ResponseUrlFallback:
    """If shipmate cannot post in the channel (not invited, archived), the person who typed the
    slash command still hears back, through its response_url (never silent)."""

    def __init__(self, inner: SlackChannel, response_url: str | None) -> None:
        self.inner = inner
        self.transport: Transport = inner.transport
        self.channel_id = inner.channel_id
        self._response_url = response_url

    async def post(self, reply: Reply, thread: str | None = None) -> MessageRef:
        try:
            return await self.inner.post(reply, thread)
        except SlackApiError as exc:  # posting failed even after the client's retries
            if not self._response_url:
                raise
            error = exc.response.get("error")
            await AsyncWebhookClient(self._response_url).send(
                text=f"I could not post in this channel ({error}); invite me with "
                f"`/invite @shipmate`. {reply.text}",
                response_type="ephemeral",
            )
            raise

    async def update(self, ref: MessageRef, reply: Reply) -> None:
        await self.inner.update(ref, reply)
