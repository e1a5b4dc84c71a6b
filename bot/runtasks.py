"""Terraform Cloud run tasks: shipmate as the policy gate of HCP Terraform / Terraform
Enterprise runs. A signed request (X-TFC-Task-Signature, HMAC-SHA512 of the body) is answered
200 at once; behind it: a `running` result, the plan JSON fetched, the one Terraform plan
policy decision through the Gate (as `terraform.runtask`: audited, a compliance event, a thread
in the workspace's channel, approval when policy asks), and the final `passed` or `failed`
with one outcome per finding. A plan that cannot be fetched or read fails, never passes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable, Coroutine
from typing import Any, Literal, Protocol

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.channel import Channels, Reply, SafeChannel
from bot.clock import Clock
from bot.models import Action, Origin, Outcome, OutcomeStatus, Principal, Transport, new_id

log = structlog.get_logger(__name__)

VERIFY_TOKEN = "test-token"  # what Terraform Cloud sends when a run task is created
TFC = Principal(name="terraform-cloud", roles=("deployer",))


def verify_signature(keys: list[str], body: bytes, header: str | None) -> bool:
    if not header or not keys:
        return False
    for key in keys:
        want = hmac.new(key.encode(), body, hashlib.sha512).hexdigest()
        if hmac.compare_digest(want, header.strip().lower()):
            return True
    return False


class RunTaskRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    payload_version: int
    access_token: str
    stage: str = "post_plan"
    is_speculative: bool = False
    task_result_id: str = ""
    task_result_enforcement_level: Literal["advisory", "mandatory"] | str = "mandatory"
    task_result_callback_url: str
    run_app_url: str = ""
    run_id: str = ""
    run_message: str = ""
    run_created_by: str = ""
    workspace_name: str = ""
    workspace_id: str = ""
    workspace_app_url: str = ""
    organization_name: str = ""
    plan_json_api_url: str | None = None


class RunTaskError(ValueError):
    """The request cannot be taken (the message says why)."""


def parse_request(doc: Any) -> RunTaskRequest:
    if not isinstance(doc, dict):
        raise RunTaskError("the body is not a JSON object")
    if doc.get("payload_version") != 1:
        raise RunTaskError(
            f"payload_version {doc.get('payload_version')!r} is not supported (only 1 is)"
        )
    try:
        return RunTaskRequest.model_validate(doc)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise RunTaskError(f"the run task request is missing or has bad fields: {fields}") from None


class Tfc(Protocol):
    async def plan_json(self, url: str, token: str) -> dict[str, Any]: ...

    async def patch_result(self, url: str, token: str, document: dict[str, Any]) -> None: ...


class Submitter(Protocol):
    async def submit(self, action: Action, channel: SafeChannel) -> Outcome: ...


def result_document(
    status: str, message: str, outcomes: list[dict[str, Any]] | None = None, url: str = ""
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "task-results",
        "attributes": {"status": status, "message": message[:500], **({"url": url} if url else {})},
    }
    if outcomes:
        data["relationships"] = {"outcomes": {"data": outcomes}}
    return {"data": data}


_LEVEL = {"deny": ("Denied", "error"), "high": ("High", "error"), "approval": ("Review", "warning")}


def outcome(finding: Any) -> dict[str, Any]:
    """One task-result outcome per policy finding (rule, address, severity, reason)."""
    if not isinstance(finding, dict):
        finding = finding.model_dump()
    label, level = _LEVEL.get(str(finding.get("severity")), ("Info", "info"))
    return {
        "type": "task-result-outcomes",
        "attributes": {
            "outcome-id": f"{finding.get('rule')}@{finding.get('address')}",
            "description": str(finding.get("reason", ""))[:200],
            "body": f"**{finding.get('rule')}** on `{finding.get('address')}`\n\n"
            f"{finding.get('reason', '')}",
            "tags": {
                "Status": [{"label": "Failed" if level == "error" else "Review", "level": level}],
                "Severity": [{"label": label, "level": level}],
            },
        },
    }


class RunTasks:
    def __init__(
        self,
        gate: Submitter,
        tfc: Tfc,
        channels: Channels,
        clock: Clock,
        spawn: Callable[[Coroutine[Any, Any, None], str], object],
        *,
        transport: Transport,
        channel_for: Callable[[str], str],
        environment_for: Callable[[str], str],
        timeout_seconds: float = 540.0,
    ) -> None:
        self.gate = gate
        self.tfc = tfc
        self.channels = channels
        self.clock = clock
        self.spawn = spawn
        self.transport = transport
        self.channel_for = channel_for
        self.environment_for = environment_for
        self.timeout = timeout_seconds
        # run_id -> (request, decided); the token lives here, never in the audit trail.
        self._runs: dict[str, RunTaskRequest] = {}
        self._closed: set[str] = set()
        self._deadlines: dict[str, Any] = {}

    def take(self, request: RunTaskRequest) -> str:
        """Start the work behind a 200; returns what it will do, for the log."""
        if request.access_token == VERIFY_TOKEN:
            return "verification"
        self.spawn(self._work(request), f"runtask:{request.run_id}")
        return "started"

    async def _finish(
        self,
        request: RunTaskRequest,
        status: str,
        message: str,
        outcomes: list[dict[str, Any]] | None = None,
    ) -> None:
        if request.run_id in self._closed:
            return
        self._closed.add(request.run_id)
        self._runs.pop(request.run_id, None)
        deadline = self._deadlines.pop(request.run_id, None)
        if deadline is not None and deadline is not asyncio.current_task():
            deadline.cancel()
        advisory = request.task_result_enforcement_level == "advisory"
        if status == "failed" and advisory:
            message = f"Advisory: {message} (the run goes on; this task only advises)"
        try:
            await self.tfc.patch_result(
                request.task_result_callback_url,
                request.access_token,
                result_document(status, message, outcomes, request.run_app_url),
            )
        except Exception as exc:  # logged: Terraform Cloud times the task out on its side
            log.error("run task result not delivered", run=request.run_id, error=str(exc))

    async def _work(self, request: RunTaskRequest) -> None:
        try:
            await self.tfc.patch_result(
                request.task_result_callback_url,
                request.access_token,
                result_document("running", "shipmate is evaluating the plan against policy"),
            )
        except Exception as exc:
            log.warning("run task 'running' not delivered", run=request.run_id, error=str(exc))
        if request.stage == "pre_plan" or not request.plan_json_api_url:
            await self._finish(
                request, "passed", f"Nothing to judge at {request.stage}: there is no plan yet."
            )
            return
        try:
            plan = await self.tfc.plan_json(request.plan_json_api_url, request.access_token)
        except Exception as exc:
            await self._finish(request, "failed", f"shipmate could not read the plan: {exc}")
            return
        origin = Origin(transport=self.transport, channel=self.channel_for(request.workspace_name))
        channel = self.channels.resolve(origin)
        if channel is None:
            await self._finish(request, "failed", "shipmate has no channel to report this run in")
            return
        parent = await channel.post(
            Reply(
                text=f"Terraform Cloud run {request.run_id} on {request.workspace_name} "
                f"({request.stage}), by {request.run_created_by or 'unknown'}",
                fields=(
                    ("Message", request.run_message or "-"),
                    ("Run", request.run_app_url or "-"),
                ),
            )
        )
        request_id = new_id("rt")
        action = Action(
            name="terraform.runtask",
            target=f"tfc/{request.workspace_name}",
            params={
                "workspace": request.workspace_name,
                "environment": self.environment_for(request.workspace_name),
                "run_id": request.run_id,
                "stage": request.stage,
                "plan": plan,
            },
            requester=TFC,
            origin=origin.model_copy(update={"thread": parent.id or None}),
            correlation_id=request_id,
            idempotency_key=Action.key_for(request.run_id, "terraform.runtask", request.stage),
            summary=f"let Terraform Cloud apply run {request.run_id} on {request.workspace_name}",
            followup="runtask.closed",
        )
        self._runs[request.run_id] = request
        result = await self.gate.submit(action, channel)
        findings = [outcome(f) for f in (result.decision.findings if result.decision else ())]
        if result.status is OutcomeStatus.DENIED:
            await self._finish(request, "failed", result.message or "denied by policy", findings)
        elif result.status is OutcomeStatus.PENDING:
            await self.tfc.patch_result(
                request.task_result_callback_url,
                request.access_token,
                result_document(
                    "running",
                    "Waiting for approval in Slack: "
                    + " ".join(result.decision.reasons if result.decision else ()),
                ),
            )
            self._deadlines[request.run_id] = self.spawn(
                self._deadline(request, findings), f"runtask-deadline:{request.run_id}"
            )
        elif result.status is OutcomeStatus.SHADOW:
            await self._finish(request, "passed", "shadow mode: judged, not enforced", findings)
        # STARTED: the executor (release) reports passed.

    async def _deadline(self, request: RunTaskRequest, findings: list[dict[str, Any]]) -> None:
        await asyncio.sleep(self.timeout)
        await self._finish(
            request, "failed", "No eligible approval within the run task's timeout", findings
        )

    # ---- the Gate's side --------------------------------------------------------------------
    async def release(self, action: Action, progress: Any) -> Any:
        """The executor of terraform.runtask: the decision allowed the apply (now, or after
        approval), so the run task passes."""
        from bot.models import ExecutionResult

        run = self._runs.get(str(action.params.get("run_id")))
        if run is None:
            return ExecutionResult(
                status="failed",
                summary="This run is no longer waiting (its run task timed out or finished).",
            )
        await self._finish(run, "passed", "shipmate policy: the plan may be applied")
        return ExecutionResult(
            status="succeeded",
            summary=f"Terraform Cloud may apply run {run.run_id} on {run.workspace_name}.",
        )

    async def closed(self, action: Action, outcome_: Outcome) -> None:
        """A run's approval was refused or expired: the run task fails."""
        run = self._runs.get(str(action.params.get("run_id")))
        if run is not None and outcome_.status in (OutcomeStatus.REJECTED, OutcomeStatus.EXPIRED):
            await self._finish(
                run,
                "failed",
                f"Approval {outcome_.status.value}: {outcome_.message or 'no approval'}",
            )
