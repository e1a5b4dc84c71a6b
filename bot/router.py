"""Turns text into an Intent. For now a deterministic slash grammar declared by each skill's
`args`; natural language plugs in behind the same `route` later. The router only chooses."""

from __future__ import annotations

import shlex

from bot.models import Intent
from bot.sdk import Arg, Registry, SkillSpec


class RouteError(Exception):
    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage


class Router:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

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
        if spec is None or (not head.startswith("/") and word not in spec.aliases):
            if head.startswith("/"):
                raise RouteError(f"Unknown command {head}. Commands: {self.commands()}.")
            raise RouteError(
                "I understand slash commands for now (natural language is coming). "
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
        elif positionals:
            put(positionals.pop(0), token)
        else:
            raise RouteError(f"Unexpected '{token}'.", spec.usage)
        i += 1
    missing = [a.name for a in spec.args if a.required and a.name not in slots]
    if missing:
        raise RouteError(f"Missing {' and '.join(missing)}.", spec.usage)
    return slots
