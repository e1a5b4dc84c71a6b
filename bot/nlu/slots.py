"""Slot filling: the service catalog (with typo tolerance), environment and strategy aliases,
and patterns for versions, incident ids, severities, runbooks, stacks and time ranges. Found
values are also masked in the text the intent classifier sees ("deploy SERVICE VERSION")."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from bot.vocab import normalize_env

_VERSION = re.compile(r"(?<![\w.])v?\d+(?:\.\d+){1,3}(?:-[A-Za-z0-9.]+)?(?![\w.])")
_ENV = re.compile(r"\b(production|prod|prd|live|staging|stage|stg|development|dev)\b", re.I)
_STRATEGY = re.compile(r"\b(canary|blue[\s/-]?green|rolling)\b", re.I)
_INCIDENT = re.compile(r"\b(INC-?\d+|P[A-Z0-9]{3,}\d)\b|\binc\s+(\d+)\b", re.I)
_SEVERITY = re.compile(r"\bsev\s?([1-4])\b", re.I)
_APPROVAL = re.compile(r"\b(ap[0-9a-f]{8})\b")
_STACK = re.compile(
    r"\b([a-z0-9]+-(?:prod|infra|stack|staging|network|aws|data)[a-z0-9-]*|"
    r"[a-z0-9]+(?=\s+(?:stack|workspace)\b))",
    re.I,
)
_RUNBOOK = re.compile(r"\b([a-z]+(?:-[a-z]+)+)\b")
_TIME = re.compile(
    r"\b(last|this|past)\s+(week|month|quarter|year|\d+\s+days?)\b|"
    r"\b(\d{4}\s?Q[1-4]|Q[1-4](?:\s\d{4})?)\b|\b(yesterday|today|tonight)\b",
    re.I,
)


@dataclass
class Extracted:
    slots: dict[str, str] = field(default_factory=dict)
    masked: str = ""


class SlotFiller:
    def __init__(self, services: list[str], runbooks: list[str] | None = None) -> None:
        self.services = sorted(services)
        self.runbooks = sorted(runbooks or [])

    def _service(self, words: list[str]) -> tuple[str, str] | None:
        for word in words:
            if word in self.services:
                return word, word
        for word in words:
            if len(word) >= 4:
                close = difflib.get_close_matches(word, self.services, n=1, cutoff=0.8)
                if close:
                    return word, close[0]
        return None

    def extract(self, text: str) -> Extracted:
        slots: dict[str, str] = {}
        masked = f" {text} "

        def mask(pattern: re.Pattern[str] | str, token: str) -> None:
            nonlocal masked
            if isinstance(pattern, str):
                masked = re.sub(rf"\b{re.escape(pattern)}\b", token, masked, flags=re.I)
            else:
                masked = pattern.sub(token, masked)

        if m := _APPROVAL.search(text):
            slots["id"] = m.group(1)
            mask(_APPROVAL, " APPROVAL ")
        if m := _VERSION.search(text):
            slots["version"] = m.group(0)
            mask(_VERSION, " VERSION ")
        if m := _INCIDENT.search(text):
            slots["incident_id"] = (m.group(1) or f"INC-{m.group(2)}").upper()
            mask(_INCIDENT, " INCIDENT ")
        if m := _SEVERITY.search(text):
            slots["severity"] = f"sev{m.group(1)}"
        if m := _STRATEGY.search(text):
            word = m.group(1).lower()
            slots["strategy"] = "bluegreen" if word.startswith("blue") else word
        if m := _ENV.search(text):
            slots["environment"] = normalize_env(m.group(1))
            mask(_ENV, " ENV ")
        if m := _TIME.search(text):
            slots["time_range"] = m.group(0).lower()
        words = re.findall(r"[a-z0-9][a-z0-9-]*", text.lower())
        if found := self._service(words):
            typed, service = found
            slots["service"] = service
            mask(typed, " SERVICE ")
        for name in self.runbooks:
            if name in text.lower():
                slots["runbook"] = name
                break
        else:
            if "runbook" in text.lower() or "playbook" in text.lower():
                names = [w for w in _RUNBOOK.findall(text.lower()) if w not in self.services]
                if names:
                    slots["runbook"] = names[0]
        if m := _STACK.search(text):
            stack = m.group(1).lower()
            if stack not in self.services and stack not in {"the", "a", "vpc", "our"} | {
                slots.get("runbook", "")
            }:
                slots["stack"] = stack
            elif stack == "vpc":
                slots["stack"] = "vpc"
        return Extracted(slots=slots, masked=" ".join(masked.split()).lower())
