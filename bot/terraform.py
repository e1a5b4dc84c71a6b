"""What skills see of Terraform: workspaces, drift reports and fix plans as data, and the
read-only port that produces them. Applying a plan is an Action (terraform.apply) and only
the Gate's executor does it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import Field

from bot.models import Frozen
from bot.ports import Progress


class Workspace(Frozen):
    """A Terraform root module shipmate watches, as configured."""

    name: str
    path: str  # the module's directory
    environment: str = "production"  # what policy judges its applies as
    variables: dict[str, str] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)  # extra environment for Terraform
    schedule_minutes: int = 0  # 0: on demand only
    channel: str | None = None  # where scheduled reports go
    owners: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # services it serves (links drift to incidents)
    timeout_seconds: float = 600.0


class AttributeChange(Frozen):
    path: str  # e.g. "tags.team", "ingress"
    before: Any = None
    after: Any = None


Cause = Literal["tags", "network", "iam", "deleted", "settings"]

CAUSE_TITLES: dict[str, str] = {
    "deleted": "Deleted outside Terraform",
    "network": "Network rules changed",
    "iam": "Access (IAM) changed",
    "tags": "Tags edited",
    "settings": "Settings changed",
}


class ResourceDrift(Frozen):
    address: str
    type: str
    action: Literal["update", "delete", "replace"]
    cause: Cause
    changes: tuple[AttributeChange, ...] = ()
    ignored_until: datetime | None = None


class DriftReport(Frozen):
    workspace: str
    checked_at: datetime
    resources: tuple[ResourceDrift, ...]
    seconds: float
    terraform_version: str = ""

    @property
    def active(self) -> tuple[ResourceDrift, ...]:
        return tuple(r for r in self.resources if r.ignored_until is None)

    @property
    def clean(self) -> bool:
        return not self.active


class FixPlan(Frozen):
    """A saved plan that reverts a workspace's drift: the file Terraform will apply, its
    digest (what approvers approved), and the plan JSON policy judges."""

    workspace: str
    plan_id: str
    digest: str
    changes: tuple[dict[str, Any], ...]  # resource_changes that do something
    plan: dict[str, Any]  # `terraform show -json`, for policy


class TerraformError(Exception):
    """Terraform failed, timed out or its worker died; the message says which and why."""


class DriftReader(Protocol):
    def workspaces(self) -> list[Workspace]: ...

    def workspace(self, name: str) -> Workspace | None: ...

    async def check(self, name: str, progress: Progress | None = None) -> DriftReport: ...

    async def plan_fix(self, name: str, progress: Progress | None = None) -> FixPlan: ...

    def last_check(self, name: str) -> DriftReport | None: ...
