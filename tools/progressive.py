"""Progressive delivery, the same on every deploy target: the canary's stepped weights with a
statistical verdict between steps, and blue/green's health check, switch and rollback window.
A target only moves traffic (CanaryTarget, BlueGreenTarget); this module decides when.

Every step is told in the thread. A failing verdict aborts on its own, after policy allows
that automatic step; a marginal one waits for a human's Promote or Abort (then aborts: an
unattended canary never goes to 100 %). Promote and Abort reach a running rollout through
bot.rollouts.RolloutControl."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel

from bot.canary.analysis import DEFAULT_METRICS, MetricSource, MetricSpec, StepVerdict, analyze
from bot.channel import Button, Reply, ReplyKind
from bot.models import Action, Decision, ExecutionResult
from bot.ports import Progress
from bot.rollouts import ActiveRollout, Command, RolloutControl
from tools.guard import writer

# Policy's word on a step shipmate takes by itself: (running action, action name, params, why).
Authorize = Callable[[Action, str, dict[str, Any], str], Awaitable[Decision]]


class RolloutError(Exception):
    """The target could not do a step (the message says what and why)."""


class ProgressiveSettings(BaseModel):
    canary_steps: tuple[int, ...] = (10, 25, 50)  # then 100 % by promotion
    analysis_seconds: float = 60.0  # each step runs this long before it is judged
    analysis_window_seconds: float = 300.0  # the telemetry the judge reads, ending now
    sample_step_seconds: float = 15.0
    decision_seconds: float = 900.0  # a marginal verdict waits this long for a human
    rollback_window_seconds: float = 300.0  # blue kept, and green watched, after the switch
    slo_success_rate: float = 0.99  # a rolling deploy below this after it finished rolls back
    metrics: tuple[MetricSpec, ...] = DEFAULT_METRICS


class CanaryTarget(Protocol):
    async def canary_start(self, action: Action, progress: Progress) -> str: ...

    async def canary_weight(self, action: Action, weight: int, progress: Progress) -> str: ...

    async def canary_promote(self, action: Action, progress: Progress) -> str: ...

    async def canary_abort(self, action: Action, progress: Progress) -> str: ...


class BlueGreenTarget(Protocol):
    async def green_up(self, action: Action, progress: Progress) -> str: ...

    async def green_switch(self, action: Action, to_green: bool, progress: Progress) -> str: ...

    async def green_finish(self, action: Action, progress: Progress) -> str: ...

    async def green_discard(self, action: Action, progress: Progress) -> str: ...


def steering_buttons(
    service: str, environment: str, promote: str = "Promote"
) -> tuple[Button, ...]:
    """Promote / Abort: each says a command as the clicker, so policy judges the clicker."""
    return (
        Button(
            label=promote, action="say", value=f"/promote {service} {environment}", style="primary"
        ),
        Button(
            label="Abort", action="say", value=f"/abort {service} {environment}", style="danger"
        ),
    )


def verdict_reply(title: str, verdict: StepVerdict, buttons: tuple[Button, ...] = ()) -> Reply:
    kind = {"pass": ReplyKind.SUCCESS, "marginal": ReplyKind.WARNING}.get(
        verdict.verdict, ReplyKind.ERROR
    )
    fields = tuple((m.name, m.sentence().split(": ", 1)[1]) for m in verdict.metrics)
    if verdict.reason:
        fields += (("Reason", verdict.reason),)
    return Reply(kind=kind, text=f"{title}: {verdict.headline()}.", fields=fields, buttons=buttons)


class Progressive:
    def __init__(
        self,
        control: RolloutControl,
        source: MetricSource,
        settings: ProgressiveSettings,
        now: Callable[[], datetime],
        authorize: Authorize | None = None,
    ) -> None:
        self.control = control
        self.source = source
        self.settings = settings
        self.now = now
        self.authorize = authorize  # set by the composition root once the Gate exists

    # ---- shared pieces --------------------------------------------------------------------
    async def _judge(self, action: Action) -> StepVerdict:
        p, s = action.params, self.settings
        end = self.now()
        return await analyze(
            self.source,
            p["service"],
            p["from_version"],
            p["version"],
            end - timedelta(seconds=s.analysis_window_seconds),
            end,
            metrics=s.metrics,
            step_seconds=s.sample_step_seconds,
        )

    async def _allowed(self, action: Action, name: str, reason: str, progress: Progress) -> bool:
        """Ask policy before an automatic abort or switch-back; say so if it refuses."""
        if self.authorize is None:
            return True
        p = action.params
        params: dict[str, Any] = {k: p[k] for k in ("service", "environment", "version") if k in p}
        decision = await self.authorize(action, name, params, reason)
        if decision.allow:
            await progress(f"Policy allows the automatic {name}: {' '.join(decision.reasons)}")
        else:
            await progress(
                Reply(
                    kind=ReplyKind.WARNING,
                    text=f"Policy refused the automatic {name} ({' '.join(decision.reasons)}); "
                    "nothing is changed until a person decides.",
                    buttons=steering_buttons(p["service"], p["environment"]),
                )
            )
        return decision.allow

    def _track(self, action: Action, phase: str) -> ActiveRollout:
        p = action.params
        return ActiveRollout(
            service=p["service"],
            environment=p["environment"],
            strategy=p.get("strategy", "canary"),
            version=p["version"],
            from_version=p["from_version"],
            phase=phase,
            started_at=self.now(),
        )

    async def _wait(self, action: Action, seconds: float) -> tuple[Command, str] | None:
        return await self.control.wait(
            action.params["service"], action.params["environment"], seconds
        )

    def _phase(self, action: Action, **changes: object) -> None:
        self.control.update(action.params["service"], action.params["environment"], **changes)

    async def allowed(self, action: Action, name: str, reason: str, progress: Progress) -> bool:
        return await self._allowed(action, name, reason, progress)

    async def slo_check(self, action: Action, progress: Progress) -> tuple[bool, str]:
        """After a rolling deploy: the new version's success rate over the analysis window
        against the SLO. No data is not a breach here (the rollout itself was healthy); it is
        said so in the thread."""
        p, s = action.params, self.settings
        end = self.now()
        values = await self.source.metric(
            "success_rate",
            p["service"],
            p["version"],
            end - timedelta(seconds=s.analysis_window_seconds),
            end,
            s.sample_step_seconds,
        )
        values = [v for v in values if v == v]  # NaN is no data
        if not values:
            await progress(f"No success-rate data for {p['version']} yet; the SLO was not checked.")
            return True, "no data"
        rate = sum(values) / len(values)
        verdict = f"success rate {rate:.2%} against the SLO of {s.slo_success_rate:.2%}"
        await progress(
            Reply(
                kind=ReplyKind.SUCCESS if rate >= s.slo_success_rate else ReplyKind.ERROR,
                text=f"SLO check of {p['version']}: {verdict}.",
            )
        )
        return rate >= s.slo_success_rate, verdict

    # ---- canary ---------------------------------------------------------------------------
    async def canary(
        self, target: CanaryTarget, action: Action, progress: Progress
    ) -> ExecutionResult:
        p = action.params
        svc, env, new, old = p["service"], p["environment"], p["version"], p["from_version"]
        verdicts: list[dict[str, Any]] = []
        details = {"from": old, "to": new, "steps": verdicts}

        async def abort(why: str, automatic: bool) -> ExecutionResult:
            if automatic and not await self._allowed(action, "deploy.abort", why, progress):
                command = await self._wait(action, self.settings.decision_seconds)
                if command is None or command[0] != "abort":
                    return ExecutionResult(
                        status="failed",
                        summary=f"The canary of {new} is left running ({why}); policy refused "
                        "the automatic abort and no one aborted it.",
                        details=details,
                    )
            said = await target.canary_abort(action, progress)
            return ExecutionResult(
                status="rolled_back",
                summary=f"The canary of {new} was aborted ({why}); {said}.",
                details={**details, "serving": old},
            )

        async def promote(why: str) -> ExecutionResult:
            self._phase(action, phase="promoting")
            await progress(f"Promoting {new} to every replica ({why}).")
            said = await target.canary_promote(action, progress)
            return ExecutionResult(
                status="succeeded",
                summary=f"{svc} in {env} is on {new}: {why}; {said}.",
                details={**details, "serving": new},
            )

        with self.control.running(self._track(action, "starting canary")):
            try:
                await progress(await target.canary_start(action, progress))
                for weight in self.settings.canary_steps:
                    share = await target.canary_weight(action, weight, progress)
                    self._phase(action, phase=f"canary {weight}%")
                    await progress(
                        Reply(
                            kind=ReplyKind.PROGRESS,
                            text=f"Canary at {weight}% ({share}); judging it against {old}"
                            + (
                                f" in {wait:g} s."
                                if (wait := self.settings.analysis_seconds) >= 1
                                else "."
                            ),
                            buttons=steering_buttons(svc, env),
                        )
                    )
                    command = await self._wait(action, self.settings.analysis_seconds)
                    if command is not None:
                        return await (
                            promote(f"promoted by {command[1]} at {weight}%")
                            if command[0] == "promote"
                            else abort(f"aborted by {command[1]} at {weight}%", False)
                        )
                    verdict = await self._judge(action)
                    verdicts.append({"weight": weight, **verdict.model_dump(mode="json")})
                    self._phase(action, verdict=verdict.verdict)
                    title = f"Canary verdict at {weight}%"
                    if verdict.verdict == "fail":
                        await progress(verdict_reply(title, verdict))
                        return await abort(
                            f"judged failing at {weight}%, score {verdict.score:g}/100", True
                        )
                    await progress(verdict_reply(title, verdict))
                    if verdict.verdict == "marginal":
                        wait = self.settings.decision_seconds
                        await progress(
                            Reply(
                                kind=ReplyKind.WARNING,
                                text=f"Marginal at {weight}%: holding here for a person's "
                                f"decision (Promote or Abort) for up to {wait:g} s; without "
                                "one the canary is aborted.",
                                buttons=steering_buttons(svc, env),
                            )
                        )
                        command = await self._wait(action, wait)
                        if command is None:
                            return await abort(f"marginal at {weight}% and no decision", True)
                        if command[0] == "abort":
                            return await abort(f"aborted by {command[1]} at {weight}%", False)
                        if command[0] == "promote":
                            return await promote(f"promoted by {command[1]} at {weight}%")
                steps = len(verdicts)
                return await promote(f"{steps} canary step{'s' * (steps != 1)} passed")
            except RolloutError as exc:
                await progress(Reply(kind=ReplyKind.ERROR, text=f"The canary stopped: {exc}."))
                return await abort(str(exc), True)

    # ---- blue/green -----------------------------------------------------------------------
    async def bluegreen(
        self, target: BlueGreenTarget, action: Action, progress: Progress
    ) -> ExecutionResult:
        p = action.params
        svc, env, new, old = p["service"], p["environment"], p["version"], p["from_version"]
        window = self.settings.rollback_window_seconds
        verdicts: list[dict[str, Any]] = []
        details = {"from": old, "to": new, "steps": verdicts}

        async def back(why: str, automatic: bool, switched: bool) -> ExecutionResult:
            name = "deploy.rollback" if switched else "deploy.abort"
            if automatic and not await self._allowed(action, name, why, progress):
                return ExecutionResult(
                    status="failed",
                    summary=f"Green ({new}) {why}; policy refused the automatic {name}.",
                    details=details,
                )
            said = ""
            if switched:
                said = await target.green_switch(action, False, progress) + "; "
            said += await target.green_discard(action, progress)
            return ExecutionResult(
                status="rolled_back",
                summary=f"Green ({new}) {why}; {said}.",
                details={**details, "serving": old},
            )

        with self.control.running(self._track(action, "green starting")):
            try:
                up = await target.green_up(action, progress)
            except RolloutError as exc:
                return await back(f"did not become ready: {exc}", True, False)
            self._phase(action, phase="green up")
            await progress(f"Green ({new}) is up beside blue ({old}): {up}. Checking its health.")
            verdict = await self._judge(action)
            verdicts.append({"phase": "before switch", **verdict.model_dump(mode="json")})
            self._phase(action, verdict=verdict.verdict)
            await progress(verdict_reply("Green health before the switch", verdict))
            if verdict.verdict == "fail":
                return await back(
                    f"failed its health check (score {verdict.score:g}/100)", True, False
                )
            command = await self._wait(action, 0)
            if command is not None and command[0] == "abort":
                return await back(f"was aborted by {command[1]} before the switch", False, False)
            said = await target.green_switch(action, True, progress)
            self._phase(action, phase="rollback window")
            await progress(
                Reply(
                    kind=ReplyKind.PROGRESS,
                    text=f"Switched traffic to green ({new}): {said}. Blue ({old}) is kept "
                    f"for {window:g} s as the way back.",
                    buttons=steering_buttons(svc, env, promote="Finish now"),
                )
            )
            command = await self._wait(action, window)
            if command is not None and command[0] == "abort":
                return await back(f"was rolled back by {command[1]}", False, True)
            if command is None:
                verdict = await self._judge(action)
                verdicts.append({"phase": "after switch", **verdict.model_dump(mode="json")})
                self._phase(action, verdict=verdict.verdict)
                await progress(verdict_reply("Green under live traffic", verdict))
                if verdict.verdict == "fail":
                    return await back(
                        f"failed under live traffic (score {verdict.score:g}/100)", True, True
                    )
            why = f"finished early by {command[1]}" if command else "rollback window passed"
            try:
                finished = await target.green_finish(action, progress)
            except RolloutError as exc:
                return ExecutionResult(
                    status="failed",
                    summary=f"Green ({new}) serves all traffic, but retiring blue failed: {exc}.",
                    details={**details, "serving": new},
                )
            return ExecutionResult(
                status="succeeded",
                summary=f"{svc} in {env} is on {new} ({why}); {finished}.",
                details={**details, "serving": new},
            )

    # ---- steering (the deploy.promote and deploy.abort writers) ----------------------------
    @writer
    async def steer(self, action: Action, progress: Progress) -> ExecutionResult:
        p = action.params
        command: Command = "promote" if action.name == "deploy.promote" else "abort"
        if not self.control.send(p["service"], p["environment"], command, action.requester.name):
            return ExecutionResult(
                status="failed",
                summary=f"{p['service']} in {p['environment']} has no canary or blue/green "
                f"rollout in flight, so there is nothing to {command}.",
            )
        return ExecutionResult(
            status="succeeded",
            summary=f"{command.capitalize()} handed to the rollout of {p['service']} in "
            f"{p['environment']}; its thread tells the rest.",
        )
