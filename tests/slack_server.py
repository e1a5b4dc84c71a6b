"""A local Slack for the tests, on 127.0.0.1: the Web API (/api/<method>) answering as Slack
does (ok/error bodies, 429 with Retry-After, 5xx), Socket Mode (apps.connections.open hands out
a ws:// URL to a local socket that delivers envelopes and checks acks), and response_url.

It keeps every call, so tests read what shipmate said and where, as a Slack user would see it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.local_http import serve

BOT_TOKEN = "xoxb-test-1234567890-abcdefghijkl"
APP_TOKEN = "xapp-1-A111-1234567890-abcdef"
SIGNING_SECRET = "secret"


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)
    posted_at: float = field(default_factory=time.perf_counter)

    @property
    def current_text(self) -> str:
        return self.updates[-1]["text"] if self.updates else self.text

    @property
    def current_blocks(self) -> list[dict[str, Any]]:
        return self.updates[-1]["blocks"] if self.updates else self.blocks


class LocalSlack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: dict[str, Message] = {}  # ts -> message
        self.ephemeral: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []  # what came to response_url
        self.failures: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.channels: dict[str, dict[str, Any]] = {}  # id -> name, members, topic, pins, archived
        self.files: dict[str, dict[str, Any]] = {}  # id -> filename, length, bytes, channel, thread
        self.acks: dict[str, tuple[float, dict[str, Any]]] = {}  # envelope id -> (time, ack)
        self._ack_waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._connected = asyncio.Event()
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle ----------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    async def start(self) -> LocalSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_get("/link", self._socket)
        app.router.add_post("/response/{name}", self._response)
        self._runner, self.port = await serve(app)
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner:
            await self._runner.cleanup()

    # ---- failure injection --------------------------------------------------------------------
    def fail(
        self,
        method: str,
        status: int,
        times: int = 1,
        retry_after: int | None = None,
        error: str | None = None,
    ) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = {
            "ok": False,
            "error": error or ("ratelimited" if status == 429 else "internal_error"),
        }
        self.failures.setdefault(method, []).extend([(status, body, headers)] * times)

    # ---- Web API ------------------------------------------------------------------------------
    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.text()
            if request.content_type == "application/json":
                args.update(json.loads(raw or "{}"))
            else:
                args.update(dict(parse_qsl(raw)))
        for key in ("blocks", "attachments"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or args.get(
            "token", ""
        )
        self.calls.append((method, args))
        queued = self.failures.get(method)
        if queued:
            status, body, headers = queued.pop(0)
            return web.json_response(body, status=status, headers=headers)
        if method == "apps.connections.open":
            if not token.startswith("xapp-"):
                return web.json_response({"ok": False, "error": "not_allowed_token_type"})
            return web.json_response(
                {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link?ticket={uuid.uuid4()}"}
            )
        if token != BOT_TOKEN:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        result: web.Response = handler(args)
        return result

    def _m_auth_test(self, args: dict[str, Any]) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "shipmate",
                "team_id": "T111",
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "is_enterprise_install": False,
            }
        )

    def _m_chat_postMessage(self, args: dict[str, Any]) -> web.Response:
        channel = args.get("channel")
        if not channel:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if not args.get("text") and not args.get("blocks"):
            return web.json_response({"ok": False, "error": "no_text"})
        ts = self._next_ts()
        message = Message(
            channel=channel,
            ts=ts,
            text=args.get("text", ""),
            blocks=args.get("blocks") or [],
            thread_ts=args.get("thread_ts"),
        )
        self.messages[ts] = message
        return web.json_response(
            {"ok": True, "channel": channel, "ts": ts, "message": {"text": message.text, "ts": ts}}
        )

    def _m_chat_update(self, args: dict[str, Any]) -> web.Response:
        message = self.messages.get(args.get("ts", ""))
        if message is None or message.channel != args.get("channel"):
            return web.json_response({"ok": False, "error": "message_not_found"})
        message.updates.append({"text": args.get("text", ""), "blocks": args.get("blocks") or []})
        return web.json_response(
            {"ok": True, "channel": message.channel, "ts": message.ts, "text": args.get("text", "")}
        )

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> web.Response:
        if not args.get("user"):
            return web.json_response({"ok": False, "error": "user_not_in_channel"})
        self.ephemeral.append(args)
        return web.json_response({"ok": True, "message_ts": self._next_ts()})

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> web.Response:
        group = args.get("usergroup", "")
        if group not in self.usergroups:
            return web.json_response({"ok": False, "error": "no_such_subteam"})
        return web.json_response({"ok": True, "users": self.usergroups[group]})

    # ---- channels, as conversations.* and pins.add answer (errors as Slack names them) -------
    _NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")

    def _channel(self, args: dict[str, Any]) -> dict[str, Any] | None:
        return self.channels.get(str(args.get("channel", "")))

    def _m_conversations_create(self, args: dict[str, Any]) -> web.Response:
        name = str(args.get("name", ""))
        if not self._NAME.match(name):
            return web.json_response({"ok": False, "error": "invalid_name_specials"})
        if any(c["name"] == name for c in self.channels.values()):
            return web.json_response({"ok": False, "error": "name_taken"})
        cid = f"C{len(self.channels) + 100:07d}"
        self.channels[cid] = {
            "name": name,
            "members": ["UBOT"],
            "topic": "",
            "pins": [],
            "archived": False,
        }
        return web.json_response(
            {
                "ok": True,
                "channel": {
                    "id": cid,
                    "name": name,
                    "is_channel": True,
                    "is_archived": False,
                    "created": int(time.time()),
                },
            }
        )

    def _m_conversations_invite(self, args: dict[str, Any]) -> web.Response:
        channel = self._channel(args)
        if channel is None:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if not users:
            return web.json_response({"ok": False, "error": "no_user"})
        new = [u for u in users if u not in channel["members"]]
        if not new:
            return web.json_response({"ok": False, "error": "already_in_channel"})
        channel["members"] += new
        return web.json_response(
            {"ok": True, "channel": {"id": args["channel"], "name": channel["name"]}}
        )

    def _m_conversations_setTopic(self, args: dict[str, Any]) -> web.Response:
        channel = self._channel(args)
        if channel is None:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if len(str(args.get("topic", ""))) > 250:
            return web.json_response({"ok": False, "error": "too_long"})
        channel["topic"] = str(args.get("topic", ""))
        return web.json_response(
            {"ok": True, "channel": {"id": args["channel"], "topic": {"value": channel["topic"]}}}
        )

    def _m_conversations_archive(self, args: dict[str, Any]) -> web.Response:
        channel = self._channel(args)
        if channel is None:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if channel["archived"]:
            return web.json_response({"ok": False, "error": "already_archived"})
        channel["archived"] = True
        return web.json_response({"ok": True})

    def _m_pins_add(self, args: dict[str, Any]) -> web.Response:
        channel = self._channel(args)
        message = self.messages.get(str(args.get("timestamp", "")))
        if channel is None:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if message is None or message.channel != args.get("channel"):
            return web.json_response({"ok": False, "error": "message_not_found"})
        channel["pins"].append(message.ts)
        return web.json_response({"ok": True})

    # ---- files, as files_upload_v2 uses them: get an upload URL, POST the bytes, complete ----
    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> web.Response:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return web.json_response({"ok": False, "error": "invalid_arguments"})
        fid = f"F{len(self.files) + 1:07d}"
        self.files[fid] = {
            "filename": args["filename"],
            "length": int(args["length"]),
            "bytes": None,
            "channel": None,
            "thread_ts": None,
        }
        return web.json_response(
            {"ok": True, "file_id": fid, "upload_url": f"http://127.0.0.1:{self.port}/upload/{fid}"}
        )

    async def _upload(self, request: web.Request) -> web.Response:
        entry = self.files.get(request.match_info["file_id"])
        if entry is None:
            return web.Response(status=404, text="no such upload")
        data = await request.read()
        if len(data) != entry["length"]:
            return web.Response(status=400, text="length mismatch")
        entry["bytes"] = data
        return web.Response(text=f"OK - {len(data)}")

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> web.Response:
        files = args.get("files")
        items = json.loads(files) if isinstance(files, str) else files or []
        done = []
        for item in items:
            entry = self.files.get(item.get("id", ""))
            if entry is None or entry["bytes"] is None:
                return web.json_response({"ok": False, "error": "file_not_found"})
            entry.update(channel=args.get("channel_id"), thread_ts=args.get("thread_ts"))
            done.append({"id": item["id"], "name": entry["filename"]})
        return web.json_response({"ok": True, "files": done})

    def _m_conversations_history(self, args: dict[str, Any]) -> web.Response:
        channel = str(args.get("channel", ""))
        latest = float(args.get("latest") or "inf")
        inclusive = str(args.get("inclusive", "false")).lower() in {"true", "1"}
        found = [
            m
            for m in self.messages.values()
            if m.channel == channel
            and (float(m.ts) < latest or (inclusive and float(m.ts) == latest))
        ]
        found.sort(key=lambda m: float(m.ts), reverse=True)
        limit = int(args.get("limit") or 100)
        return web.json_response(
            {
                "ok": True,
                "messages": [
                    {"type": "message", "ts": m.ts, "text": m.text} for m in found[:limit]
                ],
                "has_more": len(found) > limit,
            }
        )

    def _m_conversations_info(self, args: dict[str, Any]) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "channel": {"id": args.get("channel"), "name": "deploys", "is_member": True},
            }
        )

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    # ---- Socket Mode --------------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "connection_info": {"app_id": "A111"},
                "debug_info": {"host": "local"},
            }
        )
        self._connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                ack = json.loads(msg.data)
                envelope = ack.get("envelope_id")
                if envelope:
                    self.acks[envelope] = (time.perf_counter(), ack)
                    waiter = self._ack_waiters.pop(envelope, None)
                    if waiter and not waiter.done():
                        waiter.set_result(ack)
        self._sockets.remove(ws)
        return ws

    async def connected(self, within: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), within)

    async def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        envelope_id: str | None = None,
        wait_ack: bool = True,
        within: float = 5.0,
    ) -> dict[str, Any]:
        """Send one Socket Mode envelope; returns the ack (and fails if none comes)."""
        envelope = envelope_id or str(uuid.uuid4())
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._ack_waiters[envelope] = waiter
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        if not wait_ack:
            return {}
        return await asyncio.wait_for(waiter, within)

    # ---- what a user sees ---------------------------------------------------------------------
    def posted(self, channel: str | None = None) -> list[Message]:
        return [m for m in self.messages.values() if channel is None or m.channel == channel]

    def thread(self, parent_ts: str) -> list[Message]:
        return [m for m in self.messages.values() if m.thread_ts == parent_ts]

    def method_calls(self, method: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == method]
