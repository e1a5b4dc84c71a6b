"""The one redaction filter: secrets never reach a reply, a log line, an event or the audit
record."""

from __future__ import annotations

import re
from typing import Any

_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{8,}"),  # Slack tokens
    re.compile(r"xapp-[A-Za-z0-9-]{8,}"),  # Slack app-level tokens
    re.compile(r"sk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style keys
    re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}"),  # AWS access key ids
    re.compile(r"ghp_[A-Za-z0-9]{30,}"),  # GitHub tokens
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]{12,}"),
)
_ASSIGNMENT = re.compile(
    r"(?i)\b(password|passwd|secret|token|api[_-]?key|signing[_-]?secret)\b(\s*[:=]\s*)(\S+)"
)
MASK = "[redacted]"


# One pass for all token shapes: this runs on every reply, log line, event and audit record.
_ANY = re.compile("|".join(f"(?:{p.pattern})" for p in _PATTERNS))


def redact(text: str) -> str:
    if len(text) < 8:  # no secret shape is that short
        return text
    text = _ANY.sub(MASK, text)
    return _ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def redact_obj(value: Any) -> Any:
    """Redact every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_obj(v) for v in value]
    return value
