"""Reading `terraform show -json` of a plan: the drift (from `resource_drift`, never from the
refresh-only exit code, which reports changes when there are none), attribute by attribute
with the noise filtered (null, {}, [] and "" are the same absence; `tags_all` repeats `tags`),
and each drifted resource put under its likely cause."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.terraform import AttributeChange, Cause, DriftReport, ResourceDrift

# Attributes that echo others or that the provider computes; a change in them alone is noise.
ECHOES = {"tags_all"}
COMPUTED = {"arn", "id", "unique_id", "create_date", "owner_id"}
NETWORK_ATTRS = {"ingress", "egress", "cidr_block", "cidr_blocks", "from_port", "to_port"}
IAM_ATTRS = {"assume_role_policy", "policy", "inline_policy", "managed_policy_arns"}


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == [] or value == ""


def same(a: Any, b: Any) -> bool:
    """Equal up to the noise Terraform providers produce: absence in any of its forms, and
    JSON documents that differ only in key order or whitespace."""
    if _empty(a) and _empty(b):
        return True
    if isinstance(a, str) and isinstance(b, str) and a[:1] in "{[" and b[:1] in "{[":
        try:
            return bool(json.loads(a) == json.loads(b))
        except ValueError:
            return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return all(same(a.get(k), b.get(k)) for k in keys)
    return bool(a == b)


def attribute_changes(before: Any, after: Any) -> list[AttributeChange]:
    """The attributes that really changed; maps (tags, labels) are opened one key deep so a
    single edited tag reads as `tags.team: payments -> search`."""
    b = before if isinstance(before, dict) else {}
    a = after if isinstance(after, dict) else {}
    found: list[AttributeChange] = []
    for key in sorted(set(a) | set(b)):
        if key in ECHOES or same(b.get(key), a.get(key)):
            continue
        old, new = b.get(key), a.get(key)
        if (
            isinstance(old, dict)
            and isinstance(new, dict)
            and all(not isinstance(v, dict | list) for v in (*old.values(), *new.values()))
        ):
            for sub in sorted(set(old) | set(new)):
                if not same(old.get(sub), new.get(sub)):
                    found.append(
                        AttributeChange(
                            path=f"{key}.{sub}", before=old.get(sub), after=new.get(sub)
                        )
                    )
            continue
        if isinstance(old, list) and isinstance(new, list):
            added = [x for x in new if not any(same(x, y) for y in old)]
            removed = [x for x in old if not any(same(x, y) for y in new)]
            found.append(AttributeChange(path=key, before=removed or None, after=added or None))
            continue
        found.append(AttributeChange(path=key, before=old, after=new))
    return found


def cause_of(action: str, changes: Iterable[AttributeChange]) -> Cause:
    if action == "delete":
        return "deleted"
    roots = {c.path.split(".", 1)[0] for c in changes}
    if roots & NETWORK_ATTRS:
        return "network"
    if roots & IAM_ATTRS:
        return "iam"
    if roots and roots <= {"tags", "labels"}:
        return "tags"
    return "settings"


def _action(actions: list[str]) -> str | None:
    if actions == ["no-op"] or actions == ["read"] or not actions:
        return None
    if "delete" in actions and "create" in actions:
        return "replace"
    if "delete" in actions:
        return "delete"
    return "update"


def drift_report(
    plan: dict[str, Any],
    workspace: str,
    checked_at: datetime,
    seconds: float,
    ignored: dict[str, datetime] | None = None,
) -> DriftReport:
    ignored = ignored or {}
    resources = []
    for rd in plan.get("resource_drift") or []:
        if rd.get("mode", "managed") != "managed":
            continue
        change = rd.get("change", {})
        action = _action(list(change.get("actions", [])))
        if action is None:
            continue
        if action == "delete" or change.get("after") is None:
            changes: list[AttributeChange] = []
            action = "delete"
        else:
            changes = [
                c
                for c in attribute_changes(change.get("before"), change.get("after"))
                if c.path not in COMPUTED
            ]
            if not changes:  # only noise: not drift
                continue
        resources.append(
            ResourceDrift(
                address=rd["address"],
                type=rd.get("type", ""),
                action=action,
                cause=cause_of(action, changes),
                changes=tuple(changes),
                ignored_until=ignored.get(rd["address"]) or ignored.get("*"),
            )
        )
    return DriftReport(
        workspace=workspace,
        checked_at=checked_at,
        resources=tuple(sorted(resources, key=lambda r: r.address)),
        seconds=round(seconds, 2),
        terraform_version=str(plan.get("terraform_version", "")),
    )


def effective_changes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The resource changes that would do something when the plan is applied."""
    return [
        rc
        for rc in plan.get("resource_changes") or []
        if _action(list(rc.get("change", {}).get("actions", []))) is not None
    ]


def change_key(changes: Iterable[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    """What a plan does, comparable across two plans of the same intent (addresses and
    actions), so a re-plan after a stale one can be checked against what was approved."""
    return sorted((rc["address"], tuple(rc["change"]["actions"])) for rc in changes)
