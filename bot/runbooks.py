"""Runbooks as data (`runbooks/*.yaml`), validated when they load: parameters, steps that are
reads (a query whose result is posted) or Actions from the Gate's vocabulary, `when`
conditions on earlier steps' results, and a risk hint policy uses for approvals.

A `when` is one comparison: `<step>.<field> <op> <value>`, op one of == != > < >= <=; a
parameter in any string is `{name}`, an earlier step's field `{step.field}`."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from bot.models import Frozen
from bot.vocab import ACTIONS

# Reads a runbook step may do; each is answered by the skill through its read-only ports.
READS = {"service.status"}

_WHEN = re.compile(r"^\s*([a-z][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\s*(==|!=|>=|<=|>|<)\s*(.+?)\s*$")
_REF = re.compile(r"\{([a-z_][a-z0-9_]*)(?:\.([a-z_][a-z0-9_]*))?\}")
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


class RunbookError(ValueError):
    pass


class Param(Frozen):
    description: str = ""
    required: bool = True
    default: str | None = None
    pattern: str | None = None


class Step(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    read: str | None = None
    action: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    risk: Literal["low", "medium", "high"] = "medium"
    when: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if (self.read is None) == (self.action is None):
            raise ValueError(f"step {self.name}: give exactly one of read or action")
        if self.read is not None and self.read not in READS:
            raise ValueError(
                f"step {self.name}: unknown read '{self.read}' (reads: {sorted(READS)})"
            )
        if self.action is not None and self.action not in ACTIONS:
            raise ValueError(f"step {self.name}: '{self.action}' is not in the Gate's vocabulary")
        if self.when is not None and not _WHEN.match(self.when):
            raise ValueError(f"step {self.name}: cannot read when '{self.when}'")
        return self


class Match(Frozen):
    keywords: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


class Runbook(Frozen):
    name: str
    title: str
    description: str = ""
    match: Match = Field(default_factory=Match)
    params: dict[str, Param] = Field(default_factory=dict)
    steps: tuple[Step, ...]

    @model_validator(mode="after")
    def _references(self) -> Runbook:
        seen: set[str] = set()
        for step in self.steps:
            texts = [*step.params.values(), step.when or ""]
            for text in texts:
                for name, field in _REF.findall(text):
                    if field and name not in seen:
                        raise ValueError(f"step {step.name} uses {name}.{field} before {name} ran")
                    if not field and name not in self.params:
                        raise ValueError(f"step {step.name} uses unknown parameter {{{name}}}")
            if step.when:
                m = _WHEN.match(step.when)
                assert m
                if m.group(1) not in seen:
                    raise ValueError(
                        f"step {step.name}: when refers to {m.group(1)}, not run before it"
                    )
            if step.name in seen:
                raise ValueError(f"two steps are named {step.name}")
            seen.add(step.name)
        return self

    def arguments(self, given: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            raise RunbookError(f"{self.name} has no parameter {', '.join(unknown)}")
        args: dict[str, str] = {}
        for name, param in self.params.items():
            value = given.get(name, param.default)
            if value is None:
                if param.required:
                    raise RunbookError(f"{self.name} needs {name}= ({param.description})")
                continue
            if param.pattern and not re.fullmatch(param.pattern, value):
                raise RunbookError(f"{name}={value} does not look right ({param.description})")
            args[name] = value
        return args


def load_runbooks(folder: Path) -> dict[str, Runbook]:
    """Every runbook in the folder; one that does not validate stops the load with its file
    named (a broken runbook must not be half-run at 3 a.m.)."""
    books: dict[str, Runbook] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text()) or {}
            book = Runbook.model_validate({"name": path.stem, **doc})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'runbook'}: "
                f"{str(e['msg']).removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            raise RunbookError(f"{path.name}: {problems}") from None
        except yaml.YAMLError as exc:
            raise RunbookError(f"{path.name}: not YAML ({exc})") from None
        books[book.name] = book
    return books


def render(
    text: str, args: dict[str, str], results: dict[str, dict[str, Any]], keep: bool = False
) -> str:
    """Fill in parameters and earlier results; `keep` leaves what is not known yet as
    <step.field> (a dry run shows where a result will go)."""

    def value(m: re.Match[str]) -> str:
        name, field = m.group(1), m.group(2)
        if field:
            if keep and field not in results.get(name, {}):
                return f"<{name}.{field}>"
            return str(results.get(name, {}).get(field, ""))
        return args.get(name, f"<{name}>" if keep else "")

    return _REF.sub(value, text)


def _literal(raw: str) -> Any:
    raw = raw.strip().strip("'\"")
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(raw.lower(), raw)


def holds(when: str | None, results: dict[str, dict[str, Any]], args: dict[str, str]) -> bool:
    if when is None:
        return True
    m = _WHEN.match(render(when, args, results) if "{" in when else when)
    if m is None:
        raise RunbookError(f"cannot read when '{when}'")
    step, field, op, raw = m.groups()
    left = results.get(step, {}).get(field)
    left = "none" if left is None else left  # a missing value reads as none
    right = _literal(raw)
    try:
        return bool(_OPS[op](left, right))
    except TypeError:
        return False


def suggest(books: dict[str, Runbook], text: str, service: str | None) -> list[Runbook]:
    """Runbooks whose keywords appear in an incident's title or alert (and that suit the
    service, when they name services)."""
    words = text.lower()
    found = []
    for book in books.values():
        if book.match.services and service not in book.match.services:
            continue
        if any(k.lower() in words for k in book.match.keywords):
            found.append(book)
    return found
