"""Structured logging (structlog), every line through the redaction filter."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

from bot.redact import redact_obj


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    redacted: dict[str, Any] = redact_obj(dict(event_dict))
    return redacted


def configure(level: str = "INFO", file: Path | None = None) -> None:
    """JSON lines to `file` (the chat keeps the terminal for the conversation), else stderr."""
    stream: TextIO
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        stream = file.open("a", encoding="utf-8")
    else:
        stream = sys.stderr
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
