"""Deploys and rollbacks: plan, the learner's suggestion, policy, approval, execution step by step
in the deployment's thread, and a final summary."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator

from bot.sdk import (
    Action,
    ActiveRollout,
    Arg,
    DeployContext,
    DeployFeatures,
    Outcome,
    OutcomeStatus,
    Reply,
    ReplyKind,
    ServiceState,
    SkillContext,
    Suggestion,
    UserError,
    followup,
    skill,
)
from bot.vocab import Environment, Strategy, normalize_env, normalize_strategy

DEPLOY_USAGE = (
    "/deploy <service> <version> [to <env>] [--strategy rolling|canary|bluegreen] "
    "[--committed-at <ISO time of the commit>]"
)
ROLLBACK_USAGE = "/rollback <service> [env]"
PROMOTE_USAGE = "/promote <service> [env]"
ABORT_USAGE = "/abort <service> [env]"

_VERSION = re.compile(r"^v?[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

STEPS: dict[str, str] = {
    "rolling": "replace replicas 25 % at a time, health check after each batch",
    "canary": "10 % -> 25 % -> 50 % of traffic, each step judged against the baseline "
    "(Mann-Whitney, Kayenta's method), then promote; a failing verdict aborts by itself",
    "bluegreen": "start green beside blue, health check, switch traffic, keep blue through "
    "the rollback window while green is judged, then retire blue",
}


def _service(value: str) -> str:
    value = value.strip().lower()
    if not _SERVICE.match(value):
        raise ValueError(f"'{value}' is not a service name (lowercase letters, digits, dashes)")
    return value


class DeploySlots(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str
    version: str
    environment: Environment = "staging"
    strategy: Strategy = "rolling"
    committed_at: datetime | None = None  # for lead time (KPIs); CI passes it

    _svc = field_validator("service")(_service)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError(f"'{value}' is not a version (e.g. 1.5.0 or v2.0.1-rc1)")
        return value

    @field_validator("environment", mode="before")
    @classmethod
    def _env(cls, value: str) -> str:
        return normalize_env(value)

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy(cls, value: str) -> str:
        return normalize_strategy(value)


class RollbackSlots(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str
    environment: Environment | None = None

    _svc = field_validator("service")(_service)

    @field_validator("environment", mode="before")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return normalize_env(value) if value else None


async def _known(ctx: SkillContext, service: str, environment: str, usage: str) -> ServiceState:
    state = await ctx.fleet.service(service, environment)
    if state is not None:
        return state
    fleet = await ctx.fleet.services()
    names = sorted({s.service for s in fleet})
    if service not in names:
        raise UserError(f"Unknown service '{service}'. Known services: {', '.join(names)}.", usage)
    envs = sorted(s.environment for s in fleet if s.service == service)
    raise UserError(f"{service} has no {environment} environment (it runs in {', '.join(envs)}).")


def _title(summary: str, requester: str) -> str:
    return f"{summary[:1].upper()}{summary[1:]}, requested by {requester}"


def _parent(title: str, status: str, kind: ReplyKind = ReplyKind.INFO) -> Reply:
    return Reply(kind=kind, text=title, fields=(("Status", status),))


_STATUS = {
    OutcomeStatus.DENIED: ("denied by policy", ReplyKind.DENIED),
    OutcomeStatus.PENDING: ("waiting for approval", ReplyKind.APPROVAL),
    OutcomeStatus.STARTED: ("in progress", ReplyKind.PROGRESS),
    OutcomeStatus.SHADOW: ("shadow mode: recorded, not run", ReplyKind.INFO),
    OutcomeStatus.DUPLICATE: ("already done", ReplyKind.INFO),
}


@skill(
    "deploy",
    command="deploy",
    usage=DEPLOY_USAGE,
    summary="Deploy a version of a service (staging by default).",
    slots=DeploySlots,
    args=(
        Arg("service", required=True),
        Arg("version", required=True),
        Arg("environment", keyword="to"),
        Arg("strategy", flag="--strategy"),
        Arg("committed_at", flag="--committed-at"),
    ),
    examples=("/deploy checkout 1.5.0 to production --strategy canary",),
)
async def deploy(ctx: SkillContext, s: DeploySlots) -> None:
    state = await _known(ctx, s.service, s.environment, DEPLOY_USAGE)
    if state.version == s.version:
        await ctx.reply(f"{s.service} in {s.environment} is already on {s.version}; nothing to do.")
        return
    if state.status != "stable":
        raise UserError(
            f"{s.service} in {s.environment} is busy ({state.status}); wait for it "
            "to finish, or /rollback."
        )
    features = await _features(ctx, state, s.version)
    suggestion = ctx.suggest(
        DeployContext(
            service=s.service,
            environment=s.environment,
            tier=state.tier,
            from_version=state.version,
            to_version=s.version,
            requested_strategy=s.strategy,
            features=features,
        )
    )
    summary = f"deploy {s.service} {state.version} -> {s.version} to {s.environment} ({s.strategy})"
    title = _title(summary, ctx.principal.name)
    await ctx.open_thread(_parent(title, "planning"), correlation_id=f"dep-{ctx.correlation_id}")
    await ctx.reply(
        Reply(
            text=f"Plan: {s.service} in {s.environment} from {state.version} to {s.version}.",
            fields=(
                ("Strategy", f"{s.strategy}: {STEPS[s.strategy]}"),
                ("Replicas", str(state.replicas)),
                ("Target", state.target),
                ("Suggestion", suggestion.sentence(chosen=s.strategy)),
            ),
        )
    )
    outcome = await ctx.act(
        "deploy.rollout",
        f"{s.service}/{s.environment}",
        params={
            "service": s.service,
            "environment": s.environment,
            "version": s.version,
            "from_version": state.version,
            "strategy": s.strategy,
            **({"committed_at": s.committed_at.isoformat()} if s.committed_at else {}),
        },
        risk=_risk(features, suggestion),
        summary=summary,
        followup="deploy.finished",
    )
    status, kind = _STATUS.get(outcome.status, (outcome.status.value, ReplyKind.INFO))
    await ctx.update_parent(_parent(title, status, kind))


async def _features(ctx: SkillContext, state: ServiceState, version: str) -> DeployFeatures:
    """What is known about this change and this service, for the learner and for policy."""
    change = await ctx.fleet.change(state.service, state.version, version)
    recent = ctx.history.recent(state.service, state.environment)
    now = ctx.now()
    return DeployFeatures(
        tier=min(max(state.tier, 1), 3),
        dependents=change.dependents if change else None,
        change_lines=change.lines if change else None,
        change_files=change.files if change else None,
        migrations=change.migrations if change else None,
        tests_passed=change.tests_passed if change else None,
        coverage_delta=change.coverage_delta if change else None,
        hours_since_last_deploy=recent.hours_since_last,
        recent_failure_rate=recent.failures / recent.deploys if recent.deploys else None,
        hour=now.hour,
        weekday=now.weekday(),
    )


def _risk(features: DeployFeatures, suggestion: Suggestion) -> dict[str, object]:
    """Risk hints for policy (change size, migrations, the learner's estimate) and the
    learner's suggestion, recorded with the decision for shadow-mode scoring."""
    risk: dict[str, object] = {"tier": features.tier}
    if features.change_lines is not None:
        risk["change_lines"] = features.change_lines
    if features.migrations:
        risk["migrations"] = features.migrations
    if features.recent_failure_rate is not None:
        risk["recent_failure_rate"] = round(features.recent_failure_rate, 3)
    if suggestion.strategy is not None:
        if suggestion.failure_probability is not None:
            risk["failure_probability"] = suggestion.failure_probability
        risk["learner"] = {
            "strategy": suggestion.strategy,
            "deploy_strategy": suggestion.deploy_strategy,
            "confidence": round(suggestion.confidence, 3),
            "expected_cost": suggestion.expected_cost,
            "model": suggestion.model,
            "features": features.model_dump(exclude_none=True),
        }
    return risk


@skill(
    "rollback",
    command="rollback",
    usage=ROLLBACK_USAGE,
    summary="Roll a service back to its previous version (the last environment changed, "
    "unless you name one).",
    slots=RollbackSlots,
    args=(Arg("service", required=True), Arg("environment")),
    examples=("/rollback checkout production",),
)
async def rollback(ctx: SkillContext, s: RollbackSlots) -> None:
    if s.environment is None:
        mine = [x for x in await ctx.fleet.services() if x.service == s.service]
        if not mine:
            await _known(ctx, s.service, "production", ROLLBACK_USAGE)
        # The environment that changed last (and so has something to roll back to).
        changed = [x for x in mine if x.previous_version] or mine
        environment = max(changed, key=lambda x: x.updated_at).environment
    else:
        environment = s.environment
    state = await _known(ctx, s.service, environment, ROLLBACK_USAGE)
    if not state.previous_version:
        raise UserError(
            f"{s.service} in {environment} has no earlier version to roll back to "
            f"(it is on {state.version})."
        )
    summary = f"roll {s.service} back {state.version} -> {state.previous_version} in {environment}"
    title = _title(summary, ctx.principal.name)
    await ctx.open_thread(_parent(title, "planning"), correlation_id=f"dep-{ctx.correlation_id}")
    outcome = await ctx.act(
        "deploy.rollback",
        f"{s.service}/{environment}",
        params={
            "service": s.service,
            "environment": environment,
            "from_version": state.version,
            "to_version": state.previous_version,
        },
        risk={"tier": state.tier},
        summary=summary,
        followup="deploy.finished",
    )
    status, kind = _STATUS.get(outcome.status, (outcome.status.value, ReplyKind.INFO))
    await ctx.update_parent(_parent(title, status, kind))


@followup("deploy.finished")
async def deploy_finished(ctx: SkillContext, action: Action, outcome: Outcome) -> None:
    """Final summary in the thread, and the parent message updated in place."""
    final = {
        OutcomeStatus.SUCCEEDED: ("done", ReplyKind.SUCCESS, "Done"),
        OutcomeStatus.ROLLED_BACK: (
            "failed, rolled back",
            ReplyKind.ERROR,
            "Failed and rolled back",
        ),
        OutcomeStatus.FAILED: ("failed", ReplyKind.ERROR, "Failed"),
        OutcomeStatus.REJECTED: ("denied by approver", ReplyKind.DENIED, ""),
        OutcomeStatus.EXPIRED: ("approval expired", ReplyKind.WARNING, ""),
    }
    status, kind, verb = final.get(outcome.status, (outcome.status.value, ReplyKind.INFO, ""))
    if verb:
        await ctx.reply(Reply(kind=kind, text=f"{verb}: {outcome.message}"))
    await ctx.update_parent(_parent(_title(action.summary, action.requester.name), status, kind))


# Promote and abort name a service and, optionally, its environment, as rollback does.
SteerSlots = RollbackSlots


def _in_flight(ctx: SkillContext, s: SteerSlots, usage: str) -> ActiveRollout:
    mine = [r for r in ctx.rollouts.all() if r.service == s.service]
    if s.environment is not None:
        mine = [r for r in mine if r.environment == s.environment]
    if not mine:
        where = f" in {s.environment}" if s.environment else ""
        raise UserError(
            f"{s.service} has no canary or blue/green rollout in flight{where}; nothing to steer.",
            usage,
        )
    if len(mine) > 1:
        envs = ", ".join(r.environment for r in mine)
        raise UserError(f"{s.service} has rollouts in flight in {envs}; name one.", usage)
    return mine[0]


async def _steer(ctx: SkillContext, s: SteerSlots, name: str, usage: str, verb: str) -> None:
    rollout = _in_flight(ctx, s, usage)
    state = await ctx.fleet.service(rollout.service, rollout.environment)
    await ctx.act(
        name,
        f"{rollout.service}/{rollout.environment}",
        params={
            "service": rollout.service,
            "environment": rollout.environment,
            "version": rollout.version,
            "strategy": rollout.strategy,
            # Policy refuses to promote what the judge failed.
            "verdict": rollout.verdict or "",
            "phase": rollout.phase,
        },
        risk={"tier": state.tier if state else 2},
        summary=f"{verb} the {rollout.strategy} of {rollout.service} {rollout.version} in "
        f"{rollout.environment} ({rollout.phase})",
    )


@skill(
    "promote",
    command="promote",
    usage=PROMOTE_USAGE,
    summary="Promote a canary (or finish a blue/green) now, skipping the remaining steps.",
    slots=SteerSlots,
    args=(Arg("service", required=True), Arg("environment")),
    examples=("/promote checkout production",),
)
async def promote(ctx: SkillContext, s: SteerSlots) -> None:
    await _steer(ctx, s, "deploy.promote", PROMOTE_USAGE, "promote")


@skill(
    "abort",
    command="abort",
    usage=ABORT_USAGE,
    summary="Abort a canary (or switch a blue/green back to blue) now.",
    slots=SteerSlots,
    args=(Arg("service", required=True), Arg("environment")),
    examples=("/abort checkout production",),
)
async def abort(ctx: SkillContext, s: SteerSlots) -> None:
    await _steer(ctx, s, "deploy.abort", ABORT_USAGE, "abort")
