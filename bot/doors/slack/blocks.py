"""Replies as Block Kit: a section with the text, the fields as context, buttons as actions.
Every message also carries plain `text` (notifications and screen readers use it)."""

from __future__ import annotations

from typing import Any

from bot.channel import Reply, ReplyKind

ICON: dict[ReplyKind, str] = {
    ReplyKind.INFO: "",
    ReplyKind.PROGRESS: ":hourglass_flowing_sand: ",
    ReplyKind.SUCCESS: ":white_check_mark: ",
    ReplyKind.WARNING: ":warning: ",
    ReplyKind.DENIED: ":no_entry: ",
    ReplyKind.ERROR: ":x: ",
    ReplyKind.APPROVAL: ":raised_hand: ",
}

ACTION_PREFIX = "shipmate."


def _escape(text: str) -> str:
    # Slack's three control characters in mrkdwn.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fallback_text(reply: Reply) -> str:
    return f"{ICON[reply.kind]}{reply.text}"[:3000]


def render(reply: Reply) -> list[dict[str, Any]]:
    text = ICON[reply.kind] + _escape(reply.text)
    if "\n" in reply.text and reply.text.count("\n") > 2:  # tables (status) read best monospaced
        head, _, rest = reply.text.partition("\n")
        text = f"{ICON[reply.kind]}{_escape(head)}\n```{_escape(rest)}```"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    ]
    if reply.fields:
        elements = [
            {"type": "mrkdwn", "text": f"*{_escape(k)}:* {_escape(v)}"[:2000]}
            for k, v in reply.fields[:10]
        ]
        blocks.append({"type": "context", "elements": elements})
    if reply.buttons:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": f"{ACTION_PREFIX}{b.action}",
                        "text": {"type": "plain_text", "text": b.label},
                        "value": b.value,
                        **({"style": b.style} if b.style in {"primary", "danger"} else {}),
                    }
                    for b in reply.buttons
                ],
            }
        )
    return blocks
