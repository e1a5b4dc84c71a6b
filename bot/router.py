"""Turns text into an Intent. For now a deterministic slash grammar declared by each skill's
`args`; natural language plugs in behind the same `route` later. The router only chooses."""

from __future__ import annotations

import shlex

from bot.channel import Button, Reply
from bot.models import Intent
from bot.nlu.semantic import Routed
from bot.nlu.understand import Understanding
from bot.sdk import Arg, Registry, SkillSpec


class RouteError(Exception):
    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage


class RouteAnswer(Exception):
    """Not an error: the router answers itself (out of scope, not yet possible, or a
    clarifying question with the likely commands as buttons)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.text)
        self.reply = reply


# Slack entry points whose skills have not landed yet: answered, not "unknown".
COMING: dict[str, str] = {}

# Natural-language intents that a skill answers today, and the skill that does.
SKILL_FOR_INTENT = {
    "deploy": "deploy",
    "rollback": "rollback",
    "deploy_status": "status",
    "help": "help",
    "approve": "approve",
    "deny": "deny",
    "drift_check": "drift",
    "drift_remediate": "drift",
    "incident_ack": "incident",
    "incident_resolve": "incident",
    "incident_status": "incident",
    "runbook_run": "runbook",
}
# Slots an intent implies (fixing drift is `/drift fix <workspace>`).
INTENT_SLOTS: dict[str, dict[str, str]] = {
    "drift_remediate": {"verb": "fix"},
    "incident_ack": {"verb": "ack"},
    "incident_resolve": {"verb": "resolve"},
    "incident_status": {"verb": "status"},
    "runbook_run": {"verb": "run"},
}
# The understanding's slot names where a skill's argument is named differently.
SLOT_ALIASES = {"stack": "workspace", "incident": "text", "runbook": "name"}


def _aliased(slots: dict[str, str]) -> dict[str, str]:
    return {SLOT_ALIASES.get(k, k): v for k, v in slots.items()}


SAYING = {
    "deploy_status": "check status",
    "drift_check": "check drift",
    "drift_remediate": "fix drift",
    "incident_declare": "declare an incident",
    "incident_ack": "acknowledge an incident",
    "incident_update": "post an incident update",
    "incident_resolve": "resolve an incident",
    "incident_status": "see incident status",
    "postmortem": "draft a postmortem",
    "runbook_run": "run a runbook",
    "oncall_who": "find who is on call",
    "kpi_report": "see delivery KPIs",
    "deploy": "deploy",
    "rollback": "roll back",
    "approve": "approve",
    "deny": "deny",
    "help": "get help",
}


class Router:
    def __init__(self, registry: Registry, nlu: Understanding | None = None) -> None:
        self._registry = registry
        self.nlu = nlu

    async def aroute(self, text: str) -> Intent:
        """Slash commands and their bare forms by the grammar; anything else, when the
        grammar cannot read it, by natural-language understanding."""
        try:
            return self.route(text)
        except RouteError:
            if self.nlu is None or text.strip().startswith("/") or not text.strip():
                raise
        routed = await self.nlu.understand(text)
        return self.from_language(routed)

    def command_for(self, intent: str, slots: dict[str, str]) -> str | None:
        """The slash command that says the same thing, if a skill does it today."""
        skill_name = SKILL_FOR_INTENT.get(intent)
        spec = self._registry.skills.get(skill_name or "")
        if spec is None:
            return None
        slots = {**_aliased(slots), **INTENT_SLOTS.get(intent, {})}
        words = ["/" + spec.command]
        for arg in spec.args:
            value = slots.get(arg.name)
            if value is None:
                if arg.required:
                    return None
                continue
            words += (
                [arg.keyword, value] if arg.keyword else [arg.flag, value] if arg.flag else [value]
            )
        return " ".join(w for w in words if w)

    def from_language(self, routed: Routed) -> Intent:
        if routed.intent == "out_of_scope":
            raise RouteAnswer(
                Reply(
                    text="That is outside what I do. I deploy and roll back "
                    "services and answer for their status; /help lists "
                    "the commands."
                )
            )
        if routed.ambiguous:
            options = [(routed.intent, routed.confidence), *routed.alternatives]
            buttons = []
            for name, _ in options:
                command = self.command_for(name, routed.slots)
                if command:
                    buttons.append(Button(label=command, action="say", value=command))
            choices = " or ".join(SAYING.get(n, n) for n, _ in options)
            raise RouteAnswer(
                Reply(
                    text=f"I am not sure what you want: {choices}? Say it as "
                    "a command, or pick one.",
                    buttons=tuple(buttons),
                )
            )
        skill_name = SKILL_FOR_INTENT.get(routed.intent)
        if skill_name is None or skill_name not in self._registry.skills:
            heard = ", ".join(f"{k} {v}" for k, v in routed.slots.items())
            raise RouteAnswer(
                Reply(
                    text=f"I understood: {SAYING.get(routed.intent, routed.intent)}"
                    f"{' (' + heard + ')' if heard else ''}. I cannot do "
                    "that yet; /help lists what I can do."
                )
            )
        spec = self._registry.skills[skill_name]
        allowed = {a.name for a in spec.args}
        implied = {**_aliased(routed.slots), **INTENT_SLOTS.get(routed.intent, {})}
        slots = {k: v for k, v in implied.items() if k in allowed}
        missing = [a.name for a in spec.args if a.required and a.name not in slots]
        if missing:
            raise RouteError(
                f"I understood: {SAYING.get(routed.intent, routed.intent)}, but not "
                f"the {' and '.join(missing)}.",
                spec.usage,
            )
        return Intent(skill=spec.name, slots=slots, confidence=routed.confidence)

    def commands(self) -> str:
        return ", ".join(f"/{s.command}" for s in self._registry.skills.values())

    def route(self, text: str) -> Intent:
        text = text.strip()
        if not text:
            raise RouteError(f"Say a command, for example /help. Commands: {self.commands()}.")
        try:
            tokens = shlex.split(text)
        except ValueError:
            raise RouteError("That has an unclosed quote; close it or leave quotes out.") from None
        head = tokens[0]
        word = head[1:].lower() if head.startswith("/") else head.lower()
        if word == "shipmate":  # Slack's umbrella command: `/shipmate deploy ...`
            rest = tokens[1:]
            if not rest:
                raise RouteError(f"Try /shipmate help. Commands: {self.commands()}.")
            return self.route(shlex.join(["/" + rest[0].lstrip("/"), *rest[1:]]))
        spec = self._registry.by_command(word)
        if spec is None and head.startswith("/") and word in COMING:
            raise RouteAnswer(
                Reply(
                    text=f"/{word} ({COMING[word]}) is not available yet; "
                    "/help lists what I can do today."
                )
            )
        if spec is None or (not head.startswith("/") and word not in spec.aliases):
            if head.startswith("/"):
                raise RouteError(f"Unknown command {head}. Commands: {self.commands()}.")
            raise RouteError(
                "I understand slash commands here (plain language is switched off). "
                f"Commands: {self.commands()}."
            )
        return Intent(skill=spec.name, slots=parse_args(spec, tokens[1:]))


def parse_args(spec: SkillSpec, tokens: list[str]) -> dict[str, str]:
    flags = {a.flag: a for a in spec.args if a.flag}
    keywords = {a.keyword: a for a in spec.args if a.keyword}
    positionals: list[Arg] = [a for a in spec.args if not a.flag and not a.keyword]
    slots: dict[str, str] = {}

    def put(arg: Arg, value: str) -> None:
        if arg.name in slots:
            raise RouteError(f"{arg.name} is given twice.", spec.usage)
        slots[arg.name] = value

    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--"):
            name, eq, value = token.partition("=")
            arg = flags.get(name)
            if arg is None:
                known = ", ".join(flags) or "none"
                raise RouteError(f"Unknown option {name} (options: {known}).", spec.usage)
            if arg.switch:
                put(arg, "true")
                i += 1
                continue
            if not eq:
                if i + 1 >= len(tokens) or tokens[i + 1].startswith("--"):
                    raise RouteError(f"{name} needs a value.", spec.usage)
                i += 1
                value = tokens[i]
            if not value:
                raise RouteError(f"{name} needs a value.", spec.usage)
            put(arg, value)
        elif token.lower() in keywords and i + 1 < len(tokens):
            i += 1
            put(keywords[token.lower()], tokens[i])
        elif positionals and positionals[0].rest:
            words = []
            while i < len(tokens) and not (tokens[i].startswith("--") and tokens[i] in flags):
                words.append(tokens[i])
                i += 1
            put(positionals.pop(0), " ".join(words))
            continue
        elif positionals:
            put(positionals.pop(0), token)
        else:
            raise RouteError(f"Unexpected '{token}'.", spec.usage)
        i += 1
    missing = [a.name for a in spec.args if a.required and a.name not in slots]
    if missing:
        raise RouteError(f"Missing {' and '.join(missing)}.", spec.usage)
    return slots
