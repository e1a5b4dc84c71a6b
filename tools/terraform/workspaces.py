"""Terraform workspaces: drift checks and fix plans (the reading half, for skills), and the
writers the Gate's executor runs: apply an approved saved plan, then prove the workspace is
clean; snooze a drift report. One lock per workspace: two Terraform commands never share a
working directory at once.

A drift check is a refresh-only plan saved to a file and read back with `show -json`; the
drift is what `resource_drift` says (tools/terraform/plans.py), whatever the exit code."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from bot.clock import Clock
from bot.models import Action, ExecutionResult, new_id
from bot.ports import Progress
from bot.store import Store
from bot.terraform import DriftReport, FixPlan, TerraformError, Workspace
from tools.guard import writer
from tools.terraform.plans import change_key, drift_report, effective_changes
from tools.terraform.runner import RunResult, TerraformRunner, base_env

log = structlog.get_logger(__name__)

PROGRESS_EVERY_SECONDS = 2.0


class TerraformProgress:
    """Turns Terraform's `-json` UI stream into a few sentences: how many resources have
    been refreshed (at most one sentence every couple of seconds), and the summary."""

    def __init__(self, progress: Progress | None, verb: str, now: Callable[[], float]) -> None:
        self.progress = progress
        self.verb = verb
        self.now = now
        self.started = 0
        self.done = 0
        self.last = now()

    async def __call__(self, line: str) -> None:
        if self.progress is None or not line.startswith("{"):
            return
        try:
            event = json.loads(line)
        except ValueError:
            return
        kind = event.get("type")
        if kind == "refresh_start":
            self.started += 1
        elif kind == "refresh_complete":
            self.done += 1
            if self.now() - self.last >= PROGRESS_EVERY_SECONDS:
                self.last = self.now()
                await self.progress(f"{self.verb}: {self.done} resources read so far.")


class TerraformWorkspaces:
    DDL = """
    CREATE TABLE IF NOT EXISTS drift_checks (
        workspace TEXT NOT NULL,
        checked_at TEXT NOT NULL,
        drifted INTEGER NOT NULL,
        report TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS drift_ignores (
        workspace TEXT NOT NULL,
        address TEXT NOT NULL,
        until TEXT NOT NULL,
        by TEXT NOT NULL,
        PRIMARY KEY (workspace, address)
    );
    CREATE TABLE IF NOT EXISTS terraform_plans (
        plan_id TEXT PRIMARY KEY,
        workspace TEXT NOT NULL,
        path TEXT NOT NULL,
        digest TEXT NOT NULL,
        changes TEXT NOT NULL,
        created_at TEXT NOT NULL,
        applied_at TEXT
    );
    """

    def __init__(
        self,
        workspaces: list[Workspace],
        runner: TerraformRunner,
        store: Store,
        clock: Clock,
        *,
        work_dir: Path,
        cli_config: Path,
        prepare: dict[str, Callable[[], Awaitable[dict[str, str]]]] | None = None,
    ) -> None:
        self._workspaces = {w.name: w for w in workspaces}
        # Workspaces whose world is made on first use (the sandbox's emulator): the hook gives
        # extra variables, and the workspace is applied from empty state once per process.
        self._prepare = prepare or {}
        self.runner = runner
        self._store = store
        self._clock = clock
        self.work_dir = work_dir
        self.cli_config = cli_config
        self._locks: dict[str, asyncio.Lock] = {}
        self._initialised: set[str] = set()
        store.ensure_schema(self.DDL)

    # ---- configuration -----------------------------------------------------------------
    def workspaces(self) -> list[Workspace]:
        return sorted(self._workspaces.values(), key=lambda w: w.name)

    def workspace(self, name: str) -> Workspace | None:
        return self._workspaces.get(name)

    def _get(self, name: str) -> Workspace:
        ws = self._workspaces.get(name)
        if ws is None:
            known = ", ".join(sorted(self._workspaces)) or "none"
            raise TerraformError(f"no workspace '{name}' (known: {known})")
        return ws

    def env_for(self, ws: Workspace) -> dict[str, str]:
        """The environment Terraform runs with for this workspace."""
        env = base_env(self.cli_config, self.work_dir / "home")
        env.update({f"TF_VAR_{k}": v for k, v in ws.variables.items()})
        env.update(ws.env)
        return env

    def _dir(self, ws: Workspace) -> Path:
        return Path(ws.path)

    def _plans(self, ws: Workspace) -> Path:
        folder = self.work_dir / "plans" / ws.name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def _tf(
        self,
        ws: Workspace,
        argv: list[str],
        on_line: Callable[[str], Awaitable[None]] | None = None,
    ) -> RunResult:
        return await self.runner.run(
            self._dir(ws),
            argv,
            self.env_for(ws),
            timeout_seconds=ws.timeout_seconds,
            on_line=on_line,
        )

    async def _init(self, ws: Workspace, progress: Progress | None) -> Workspace:
        if ws.name in self._initialised and (self._dir(ws) / ".terraform").exists():
            return self._workspaces[ws.name]
        if progress:
            await progress(f"Initialising {ws.name} (providers from the project's CLI config).")
        hook = self._prepare.get(ws.name)
        if hook is not None:
            ws = ws.model_copy(update={"variables": {**ws.variables, **await hook()}})
            self._workspaces[ws.name] = ws
        result = await self._tf(ws, ["init", "-input=false", "-no-color"])
        if result.rc != 0:
            raise TerraformError(f"terraform init failed in {ws.name}: {result.error()}")
        if hook is not None:
            if progress:
                await progress(f"Setting up {ws.name} in the sandbox's local AWS (first use).")
            for stale in self._dir(ws).glob("terraform.tfstate*"):
                stale.unlink()
            result = await self._tf(ws, ["apply", "-auto-approve", "-input=false", "-json"])
            if result.rc != 0:
                raise TerraformError(f"setting up {ws.name} failed: {result.error()}")
        self._initialised.add(ws.name)
        return ws

    async def _show(self, ws: Workspace, plan_file: Path) -> dict[str, Any]:
        result = await self._tf(ws, ["show", "-json", str(plan_file)])
        if result.rc != 0:
            raise TerraformError(f"terraform show failed in {ws.name}: {result.error()}")
        try:
            doc: dict[str, Any] = json.loads(result.text)
        except ValueError as exc:
            raise TerraformError(f"terraform show gave no JSON in {ws.name}: {exc}") from None
        return doc

    async def _plan(
        self, ws: Workspace, plan_file: Path, progress: Progress | None, *extra: str
    ) -> dict[str, Any]:
        reporter = TerraformProgress(progress, f"Planning {ws.name}", time.monotonic)
        result = await self._tf(
            ws,
            ["plan", *extra, f"-out={plan_file}", "-input=false", "-json", "-lock-timeout=60s"],
            reporter,
        )
        # 0 and 2 both mean "planned"; the content decides whether anything drifted.
        if result.rc not in (0, 2):
            raise TerraformError(f"terraform plan failed in {ws.name}: {result.error()}")
        return await self._show(ws, plan_file)

    def _ignored(self, name: str) -> dict[str, datetime]:
        now = self._clock.now()
        rows = self._store.query(
            "SELECT address, until FROM drift_ignores WHERE workspace=?", (name,)
        )
        return {
            r["address"]: until for r in rows if (until := datetime.fromisoformat(r["until"])) > now
        }

    # ---- reading ------------------------------------------------------------------------
    async def check(self, name: str, progress: Progress | None = None) -> DriftReport:
        ws = self._get(name)
        async with self.lock(name):
            started = time.perf_counter()
            ws = await self._init(ws, progress)
            plan_file = self._plans(ws) / "drift.tfplan"
            plan = await self._plan(ws, plan_file, progress, "-refresh-only")
            report = drift_report(
                plan,
                ws.name,
                self._clock.now(),
                time.perf_counter() - started,
                self._ignored(name),
            )
        with self._store.tx() as db:
            db.execute(
                "INSERT INTO drift_checks VALUES (?,?,?,?)",
                (name, report.checked_at.isoformat(), len(report.active), report.model_dump_json()),
            )
        return report

    def last_check(self, name: str) -> DriftReport | None:
        row = self._store.one(
            "SELECT report FROM drift_checks WHERE workspace=? ORDER BY rowid DESC LIMIT 1",
            (name,),
        )
        return DriftReport.model_validate_json(row["report"]) if row else None

    async def plan_fix(self, name: str, progress: Progress | None = None) -> FixPlan:
        ws = self._get(name)
        async with self.lock(name):
            ws = await self._init(ws, progress)
            plan_id = new_id("tfp")
            plan_file = self._plans(ws) / f"{plan_id}.tfplan"
            plan = await self._plan(ws, plan_file, progress)
            changes = effective_changes(plan)
            digest = await asyncio.to_thread(_digest, plan_file)
        with self._store.tx() as db:
            db.execute(
                "INSERT INTO terraform_plans VALUES (?,?,?,?,?,?,NULL)",
                (
                    plan_id,
                    name,
                    str(plan_file),
                    digest,
                    json.dumps(change_key(changes)),
                    self._clock.now().isoformat(),
                ),
            )
        return FixPlan(
            workspace=name, plan_id=plan_id, digest=digest, changes=tuple(changes), plan=plan
        )

    # ---- writing (the Gate's executor only) ----------------------------------------------
    @writer
    async def apply(self, action: Action, progress: Progress) -> ExecutionResult:
        """Apply the saved plan policy judged and people approved, byte for byte (its digest is
        checked); a plan gone stale is re-planned and applied only if it does the same; then a
        verifying plan must be clean."""
        p = action.params
        ws = self._get(p["workspace"])
        row = self._store.one("SELECT * FROM terraform_plans WHERE plan_id=?", (p["plan_id"],))
        if row is None or row["workspace"] != ws.name:
            return ExecutionResult(status="failed", summary="That plan is unknown; plan again.")
        if row["applied_at"]:
            return ExecutionResult(status="failed", summary="That plan was applied already.")
        plan_file = Path(row["path"])
        if await asyncio.to_thread(_digest, plan_file) != p["digest"]:
            return ExecutionResult(
                status="failed",
                summary="The saved plan is not the one that was approved (its digest differs); "
                "nothing was applied. Plan the fix again.",
            )
        async with self.lock(ws.name):
            ws = self._workspaces[ws.name]
            await progress(f"Applying the approved plan to {ws.name}.")
            result = await self._tf(ws, ["apply", "-input=false", "-json", str(plan_file)])
            if result.rc != 0 and "stale" in result.error().lower():
                await progress(
                    "The saved plan is stale (the state changed since it was made); "
                    "planning again to check it still does the same."
                )
                fresh_file = self._plans(ws) / f"{p['plan_id']}-replan.tfplan"
                fresh = await self._plan(ws, fresh_file, None)
                redo = json.loads(json.dumps(change_key(effective_changes(fresh))))
                if redo != json.loads(row["changes"]):
                    return ExecutionResult(
                        status="failed",
                        summary=f"{ws.name} changed since the plan was approved and the new "
                        "plan does something else; nothing was applied. Check for drift and "
                        "fix again.",
                    )
                result = await self._tf(ws, ["apply", "-input=false", "-json", str(fresh_file)])
            if result.rc != 0:
                return ExecutionResult(
                    status="failed",
                    summary=f"terraform apply failed in {ws.name}: {result.error()}",
                )
            with self._store.tx() as db:
                db.execute(
                    "UPDATE terraform_plans SET applied_at=? WHERE plan_id=?",
                    (self._clock.now().isoformat(), p["plan_id"]),
                )
            await progress(f"Applied. Verifying {ws.name} with a fresh plan.")
            verify = await self._plan(ws, self._plans(ws) / "verify.tfplan", None)
        left = effective_changes(verify)
        drift = drift_report(verify, ws.name, self._clock.now(), 0).active
        applied = _summary(json.loads(row["changes"]))
        if left or drift:
            return ExecutionResult(
                status="failed",
                summary=f"Applied ({applied}), but the verifying plan of {ws.name} is not "
                f"clean: {len(left)} change(s) and {len(drift)} drifted resource(s) remain.",
                details={"remaining": [rc["address"] for rc in left]},
            )
        return ExecutionResult(
            status="succeeded",
            summary=f"{ws.name} is back in line with its code ({applied}); the verifying "
            "plan is clean.",
            details={"applied": json.loads(row["changes"])},
        )

    @writer
    async def ignore(self, action: Action, progress: Progress) -> ExecutionResult:
        p = action.params
        ws = self._get(p["workspace"])
        days = int(p.get("days", 7))
        address = p.get("address") or "*"
        until = self._clock.now() + timedelta(days=days)
        with self._store.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO drift_ignores VALUES (?,?,?,?)",
                (ws.name, address, until.isoformat(), action.requester.name),
            )
        what = "all drift" if address == "*" else address
        return ExecutionResult(
            status="succeeded",
            summary=f"Drift reports of {what} in {ws.name} are snoozed until "
            f"{until:%Y-%m-%d %H:%M} UTC ({days} days); checks still run and record it.",
        )


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _summary(changes: list[list[Any]]) -> str:
    counts: dict[str, int] = {}
    for _, actions in changes:
        verb = (
            "replaced"
            if len(actions) > 1
            else {"create": "created", "delete": "deleted"}.get(actions[0], "updated")
        )
        counts[verb] = counts.get(verb, 0) + 1
    return ", ".join(f"{n} {verb}" for verb, n in sorted(counts.items())) or "no changes"


def prepare_bundled(source: Path, target: Path) -> Path:
    """Copy a workspace shipped with shipmate (the sandbox's) to where its state may live."""
    if not (target / "main.tf").exists():
        target.mkdir(parents=True, exist_ok=True)
        for item in source.iterdir():
            if item.suffix == ".tf":
                shutil.copy2(item, target / item.name)
    return target


def load_workspaces(path: Path) -> list[Workspace]:
    """Workspaces from YAML: `workspaces: {name: {path, environment, variables, env,
    schedule_minutes, channel, owners, services, timeout_seconds}}`; relative paths are
    relative to the file."""
    import yaml

    doc = yaml.safe_load(path.read_text()) or {}
    found = []
    for name, spec in (doc.get("workspaces") or {}).items():
        folder = Path(spec["path"]).expanduser()
        if not folder.is_absolute():
            folder = (path.parent / folder).resolve()
        found.append(Workspace.model_validate({**spec, "name": name, "path": str(folder)}))
    return found
