"""Slack requests for the tests, built from the real payloads in tests/data/slack (their shape
and every field Slack sends, with the user, channel, text and ids set per test), signed as
Slack signs them."""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_sdk.signature import SignatureVerifier

DATA = Path(__file__).parent / "data" / "slack"


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / name).read_text())
    return loaded


def slash_command(
    command: str,
    text: str,
    user: str,
    channel: str = "C0DEPLOYS",
    response_url: str = "https://hooks.slack.com/commands/T111/1/x",
) -> dict[str, Any]:
    body = dict(
        parse_qsl(_load("slash_command_bolt.json")["request"]["body_raw"], keep_blank_values=True)
    )
    body.update(
        {
            "command": command,
            "text": text,
            "user_id": user,
            "channel_id": channel,
            "response_url": response_url,
            "trigger_id": f"{uuid.uuid4().int % 10**12}.1.x",
        }
    )
    return body


def button_click(
    action: str, value: str, user: str, channel: str, message_ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    payload = copy.deepcopy(_load("block_actions_button_bolt.json")["payload_json"])
    payload["user"]["id"] = user
    payload["channel"]["id"] = channel
    payload["container"].update(
        {"channel_id": channel, "message_ts": message_ts, "is_ephemeral": False}
    )
    if thread_ts:
        payload["container"]["thread_ts"] = thread_ts
    payload["trigger_id"] = f"{uuid.uuid4().int % 10**12}.2.x"
    payload["actions"][0].update(
        {"action_id": f"shipmate.{action}", "value": value, "action_ts": f"{time.time():.6f}"}
    )
    return payload


def app_mention(
    text: str, user: str, channel: str = "C0DEPLOYS", event_id: str | None = None
) -> dict[str, Any]:
    body = json.loads(_load("event_app_mention_bolt.json")["request"]["body_raw"])
    ts = f"{time.time():.6f}"
    body["event"].update(
        {"text": f"<@UBOT> {text}", "user": user, "channel": channel, "ts": ts, "event_ts": ts}
    )
    body["event_id"] = event_id or f"Ev{uuid.uuid4().hex[:10]}"
    return body


def direct_message(text: str, user: str, channel: str = "D0ALICE") -> dict[str, Any]:
    body = copy.deepcopy(_load("event_message_user_message_event_payload.json")["body_json"])
    ts = f"{time.time():.6f}"
    body["event"].update(
        {
            "text": text,
            "user": user,
            "channel": channel,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "im",
        }
    )
    body["event_id"] = f"Ev{uuid.uuid4().hex[:10]}"
    return body


def signed(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def form(body: dict[str, Any]) -> str:
    return urlencode(body)


def interactive_form(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})
