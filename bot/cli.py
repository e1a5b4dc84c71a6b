"""The `shipmate` command."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from bot import __version__
from bot.gate.policy import PolicyEngine, PolicyError
from bot.models import Transport
from bot.settings import Settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="shipmate: the DevOps agent that lives in chat.",
)
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit chain.")
app.add_typer(audit_app, name="audit")
policy_app = typer.Typer(no_args_is_help=True, help="Policy as code: test and evaluate.")
app.add_typer(policy_app, name="policy")
events_app = typer.Typer(no_args_is_help=True, help="The event backbone: tail and schemas.")
app.add_typer(events_app, name="events")
nlu_app = typer.Typer(no_args_is_help=True, help="Natural language: route and evaluate.")
app.add_typer(nlu_app, name="nlu")
kpi_app = typer.Typer(no_args_is_help=True, help="Delivery KPIs from the event log.")
app.add_typer(kpi_app, name="kpi")
learner_app = typer.Typer(
    no_args_is_help=True, help="The rollout-strategy learner: train, evaluate, score."
)
app.add_typer(learner_app, name="learner")


def _settings() -> Settings:
    settings = Settings()
    from bot.logs import configure

    configure(settings.log_level, settings.log_path)
    return settings


@app.command()
def chat(
    script: Annotated[
        Path | None,
        typer.Option(help="Run one input per line, then exit (1 if any reply reports an error)."),
    ] = None,
    user: Annotated[str | None, typer.Option(help="Who is speaking at the start.")] = None,
) -> None:
    """Talk to shipmate in the terminal, against the sandbox."""
    from bot.compose import build
    from bot.doors.terminal import TerminalDoor

    settings = _settings()
    lines: list[str] | None = None
    if script is not None:
        if not script.is_file():
            typer.echo(f"No such script: {script}", err=True)
            raise typer.Exit(2)
        lines = script.read_text().splitlines()

    async def main() -> int:
        try:
            shipmate = build(settings)
        except PolicyError as exc:
            typer.echo(f"policy does not load: {exc}", err=True)
            return 2
        door = TerminalDoor(shipmate, Console(soft_wrap=True), user)
        try:
            try:
                await shipmate.start()
            except PolicyError as exc:
                typer.echo(f"policy engine did not start: {exc}", err=True)
                return 2
            if lines is not None:
                return await door.run_script(lines)
            shipmate.schedule("terminal", "#chat")  # scheduled drift checks, told here
            return await door.run_interactive()
        finally:
            await shipmate.close()

    raise typer.Exit(asyncio.run(main()))


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain: exit 0 when intact, 1 when any record was edited, removed or moved."""
    from bot.gate.audit import AuditLog
    from bot.store import Store

    settings = _settings()
    report = AuditLog(Store(settings.db_path)).verify()
    if report.ok:
        typer.echo(f"audit chain intact: {report.records} records")
        raise typer.Exit(0)
    typer.echo(f"audit chain BROKEN ({report.records} records):", err=True)
    for problem in report.problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path | None, typer.Option(help="File (default stdout).")] = None,
) -> None:
    """Write the audit chain as JSON lines."""
    from bot.gate.audit import AuditLog
    from bot.store import Store

    settings = _settings()
    log = AuditLog(Store(settings.db_path))
    if out is None:
        log.export(sys.stdout)
        return
    with out.open("w", encoding="utf-8") as fh:
        n = log.export(fh)
    typer.echo(f"wrote {n} records to {out}")


def _engine(settings: Settings) -> PolicyEngine:
    """The configured engine (embedded, or an OPA server), not yet started."""
    from bot.compose import make_engine
    from bot.gate.policy import PolicyError
    from bot.paths import policies_dir

    try:
        return make_engine(
            settings.model_copy(update={"policy_reload_seconds": -1}),
            settings.policy_dir or policies_dir(),
        )
    except (PolicyError, ValueError) as exc:
        typer.echo(f"policy does not load: {exc}", err=True)
        raise typer.Exit(2) from None


async def _started(engine: PolicyEngine) -> None:
    from bot.compose import start_engine
    from bot.gate.policy import PolicyError

    try:
        await start_engine(engine)
    except PolicyError as exc:
        typer.echo(f"policy does not load: {exc}", err=True)
        raise typer.Exit(2) from None


@policy_app.command("test")
def policy_test(
    cases: Annotated[Path | None, typer.Option(help="Folder of case files (*.yaml).")] = None,
) -> None:
    """Run the table-driven policy cases on the configured engine (exit 1 on any failure)."""
    from bot.paths import policies_dir
    from bot.policytest import check, load_cases

    settings = _settings()
    engine = _engine(settings)
    folder = cases or (settings.policy_dir or policies_dir()) / "tests"
    loaded = load_cases(folder)
    if not loaded:
        typer.echo(f"no policy cases in {folder}", err=True)
        raise typer.Exit(2)

    async def run() -> int:
        from bot.compose import stop_engine

        await _started(engine)
        failed = 0
        for case in loaded:
            problems = await check(engine, case)
            mark = "ok  " if not problems else "FAIL"
            typer.echo(f"{mark} {case.file}: {case.name}")
            for problem in problems:
                typer.echo(f"       {problem}")
            failed += bool(problems)
        await stop_engine(engine)
        typer.echo(f"{len(loaded) - failed} passed, {failed} failed on the {engine.name} engine")
        return 1 if failed else 0

    raise typer.Exit(asyncio.run(run()))


@policy_app.command("eval")
def policy_eval(
    input_file: Annotated[
        Path,
        typer.Option(
            "--input",
            help="JSON or YAML: a whole policy input "
            "({action, requester, now}), or an action's "
            "params (a Terraform plan JSON becomes params.plan).",
        ),
    ],
    action: Annotated[str | None, typer.Option(help="Action name, e.g. deploy.rollout.")] = None,
    user: Annotated[str, typer.Option(help="Requester, from the team directory.")] = "alice",
) -> None:
    """Print the decision for one input (exit 0 allowed or needs approval, 1 denied)."""
    import json
    from datetime import UTC, datetime

    import yaml

    from bot.gate.policy import DECISION_QUERY, PolicyError
    from bot.identity import Directory
    from bot.models import Decision
    from bot.paths import policies_dir

    settings = _settings()
    engine = _engine(settings)
    if not input_file.is_file():
        typer.echo(f"No such input file: {input_file}", err=True)
        raise typer.Exit(2)
    doc = yaml.safe_load(input_file.read_text())
    if not isinstance(doc, dict):
        typer.echo("The input must be a JSON or YAML object.", err=True)
        raise typer.Exit(2)
    if "action" not in doc:
        params = {"plan": doc} if "resource_changes" in doc or "planned_values" in doc else doc
        doc = {"action": {"name": action or "", "target": "", "params": params, "risk": {}}}
    elif action:
        doc["action"]["name"] = action
    if not doc["action"].get("name"):
        typer.echo("Name the action with --action (e.g. deploy.rollout).", err=True)
        raise typer.Exit(2)
    directory = Directory.from_policy_dir(settings.policy_dir or policies_dir())
    who = directory.principal(user)
    doc.setdefault("requester", {"name": who.name, "roles": list(who.roles)})
    doc.setdefault("now", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    async def decide() -> object:
        from bot.compose import stop_engine

        await _started(engine)
        try:
            return await engine.evaluate(DECISION_QUERY, doc)
        finally:
            await stop_engine(engine)

    try:
        value = asyncio.run(decide())
    except PolicyError as exc:
        typer.echo(f"policy error: {exc}", err=True)
        raise typer.Exit(2) from None
    if value is None:
        typer.echo(
            json.dumps(
                {
                    "verdict": "undefined",
                    "note": f"no policy decides {doc['action']['name']}; the Gate denies it",
                },
                indent=2,
            )
        )
        raise typer.Exit(1)
    decision = Decision.model_validate(value)
    _record_evaluation(settings, doc, decision, engine.name)
    typer.echo(json.dumps({"verdict": decision.verdict.value, **decision.model_dump()}, indent=2))
    raise typer.Exit(1 if decision.verdict.value == "deny" else 0)


def _record_evaluation(
    settings: Settings, doc: dict[str, object], decision: object, engine: str
) -> None:
    """A decision asked for by hand is still a decision: an audit record and a compliance
    event, like every decision the Gate takes."""
    from datetime import UTC, datetime

    from bot.events import Event, EventLog
    from bot.gate.audit import AuditLog
    from bot.models import Decision, new_id
    from bot.store import Store

    assert isinstance(decision, Decision)
    store = Store(settings.db_path)
    now = datetime.now(UTC)
    corr = new_id("eval-")
    requester = doc.get("requester")
    actor = str(requester.get("name", "?")) if isinstance(requester, dict) else "?"
    payload = {"input": doc, "engine": engine, "decision": decision.model_dump(mode="json")}
    AuditLog(store).append(
        time=now, kind="decision", actor=actor, door="cli", correlation_id=corr, payload=payload
    )
    EventLog(store).append(
        Event(
            type="policy.evaluated",
            time=now,
            topic="compliance",
            correlation_id=corr,
            actor=actor,
            data=payload,
        )
    )
    store.close()


def _event_line(event: object) -> str:
    from bot.events import Event

    assert isinstance(event, Event)
    data = event.data
    what = data.get("summary") or data.get("text") or data.get("target") or ""
    return (
        f"{event.time:%Y-%m-%d %H:%M:%S}  {event.topic:<11} {event.type:<20} "
        f"{event.correlation_id:<14} {event.actor:<8} {str(what)[:80]}"
    )


@events_app.command("tail")
def events_tail(
    topic: Annotated[
        str | None,
        typer.Argument(help="deployments, incidents, drift, compliance, audit, requests, sandbox"),
    ] = None,
    follow: Annotated[bool, typer.Option(help="Keep waiting for new events.")] = False,
    limit: Annotated[int, typer.Option(help="Stop after this many events (0: no limit).")] = 0,
) -> None:
    """Print events: from Kafka when SHIPMATE_EVENT_BUS=kafka, else from the local event log."""
    from bot.events import TOPICS

    settings = _settings()
    if topic is not None and topic not in TOPICS:
        typer.echo(f"Unknown topic '{topic}'. Topics: {', '.join(TOPICS)}.", err=True)
        raise typer.Exit(2)
    if settings.event_bus == "kafka":
        from tools.kafka.tail import tail_kafka

        asyncio.run(
            tail_kafka(settings, topic, follow, limit, lambda e: typer.echo(_event_line(e)))
        )
        return
    asyncio.run(_tail_local(settings, topic, follow, limit))


async def _tail_local(settings: Settings, topic: str | None, follow: bool, limit: int) -> None:
    from bot.events import EventLog
    from bot.store import Store

    log = EventLog(Store(settings.db_path))
    last, shown = 0, 0
    while True:
        for seq, event in log.read_with_seq(topic, after_seq=last):
            typer.echo(_event_line(event))
            last, shown = seq, shown + 1
            if limit and shown >= limit:
                return
        if not follow:
            return
        await asyncio.sleep(0.5)


@events_app.command("schemas")
def events_schemas(
    out: Annotated[Path, typer.Option(help="Folder for the JSON Schema files.")] = Path(
        "docs/schemas"
    ),
) -> None:
    """Export the event envelope and every event type's schema as JSON Schema."""
    from bot.schemas import export

    written = export(out)
    typer.echo(f"wrote {len(written)} schemas to {out}")


@app.command()
def slack(
    mode: Annotated[str | None, typer.Option(help="socket (default) or http.")] = None,
    host: Annotated[str | None, typer.Option(help="HTTP mode: address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP mode: port.")] = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Also serve the machine webhooks (alerts, PagerDuty, Terraform Cloud run "
            "tasks) in this process, so approvals clicked in Slack reach the runs waiting here.",
        ),
    ] = False,
) -> None:
    """Run shipmate in Slack (Socket Mode, or HTTP at /slack/events)."""
    from bot.compose import build
    from bot.doors.slack.door import SlackDoor

    settings = _settings()
    mode = mode or settings.slack_mode
    if mode not in {"socket", "http"}:
        typer.echo("--mode is socket or http.", err=True)
        raise typer.Exit(2)
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", settings.slack_bot_token),
            ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
        )
        if value is None
    ]
    if mode == "socket" and settings.slack_app_token is None:
        missing.append("SLACK_APP_TOKEN")
    if missing:
        typer.echo(
            f"Set {', '.join(missing)} (see docs/slack.md); `make run` needs none of "
            "them and talks to you in the terminal.",
            err=True,
        )
        raise typer.Exit(2)

    async def main() -> int:
        shipmate = build(settings)
        assert settings.slack_bot_token and settings.slack_signing_secret
        door = SlackDoor(
            shipmate,
            bot_token=settings.slack_bot_token.get_secret_value(),
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            app_token=(
                settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
            ),
            api_url=settings.slack_api_url,
            usergroups=settings.slack_usergroups,
        )
        webhooks = None
        try:
            await shipmate.start()
            await door.identity.refresh()
            await shipmate.gate.recover()
            shipmate.schedule("slack", settings.slack_default_channel)
            if serve:
                from bot.serve import Server

                webhooks = Server(
                    shipmate.intake("slack"),
                    shipmate.tasks,
                    settings.pagerduty_webhook_secrets,
                    shipmate.runtasks("slack") if settings.tfc_hmac_keys else None,
                    settings.tfc_hmac_keys,
                )
                bound_hooks = await webhooks.start(settings.serve_host, settings.serve_port)
                typer.echo(f"webhooks on http://{settings.serve_host}:{bound_hooks}")
            if mode == "http":
                bound = await door.start_http(
                    host or settings.slack_host, port or settings.slack_port
                )
                typer.echo(
                    f"shipmate is listening for Slack on "
                    f"http://{host or settings.slack_host}:{bound}/slack/events"
                )
            else:
                await door.start_socket()
                typer.echo("shipmate is connected to Slack (Socket Mode)")
            await asyncio.Event().wait()
            return 0
        finally:
            if webhooks is not None:
                await webhooks.close()
            await door.close()
            await shipmate.close()

    with contextlib.suppress(KeyboardInterrupt):
        raise typer.Exit(asyncio.run(main()))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
) -> None:
    """The HTTP process for machines: alert and PagerDuty webhooks, /healthz, /metrics."""
    from bot.alerts import LogChannel
    from bot.compose import build
    from bot.serve import Server

    settings = _settings()

    async def main() -> int:
        shipmate = build(settings)
        transport: Transport = "webhook"
        shipmate.channels.register("webhook", lambda origin: LogChannel())
        if settings.slack_bot_token:  # announce and open war rooms in Slack
            from slack_sdk.web.async_client import AsyncWebClient

            from bot.doors.slack.channel import SlackChannel

            client = AsyncWebClient(
                token=settings.slack_bot_token.get_secret_value(),
                base_url=settings.slack_api_url or AsyncWebClient.BASE_URL,
            )
            shipmate.channels.register("slack", lambda origin: SlackChannel(client, origin.channel))
            transport = "slack"
        server = Server(
            shipmate.intake(transport), shipmate.tasks, settings.pagerduty_webhook_secrets
        )
        try:
            await shipmate.start()
            bound = await server.start(host or settings.serve_host, port or settings.serve_port)
            typer.echo(
                f"shipmate serve on http://{host or settings.serve_host}:{bound} "
                "(/alerts/alertmanager, /alerts/generic, /webhooks/pagerduty, /runtasks, /healthz, "
                "/metrics)"
            )
            await asyncio.Event().wait()
            return 0
        finally:
            await server.close()
            await shipmate.close()

    with contextlib.suppress(KeyboardInterrupt):
        raise typer.Exit(asyncio.run(main()))


@kpi_app.command("report")
def kpi_report(
    quarter: Annotated[str, typer.Option(help="The quarter, e.g. 2026Q4 (or 2026-11, 90d).")],
    out: Annotated[Path, typer.Option(help="Where the Markdown and charts go.")] = Path("reports"),
) -> None:
    """The quarterly delivery report: DORA per team and service, MTTA/MTTR, automation, and
    the audit trail's summary; Markdown with charts, and a Notion page when Notion is set."""
    from bot.compose import build, make_notion, service_teams
    from bot.kpi_report import write_report
    from bot.kpis import period
    from bot.paths import policies_dir

    settings = _settings()

    async def main() -> int:
        shipmate = build(settings)
        try:
            try:
                per = period(quarter, shipmate.clock.now())
            except ValueError as exc:
                typer.echo(str(exc), err=True)
                return 2
            teams = service_teams(settings.policy_dir or policies_dir())
            path, text = write_report(
                shipmate.events.read(), per, teams, shipmate.audit, out, shipmate.clock.now()
            )
            typer.echo(f"wrote {path}")
            notion = make_notion(settings)
            if notion is not None:
                try:
                    typer.echo(
                        f"Notion: {await notion.publish(f'Delivery report {per.name}', text)}"
                    )
                finally:
                    await notion.close()
            return 0
        finally:
            await shipmate.close()

    raise typer.Exit(asyncio.run(main()))


def _history(settings: Settings) -> list[Any]:
    from bot.events import EventLog
    from bot.store import Store
    from learner.history import records

    log = EventLog(Store(settings.db_path))
    return records((e.type, e.data) for e in log.read())


@learner_app.command("train")
def learner_train(
    steps: Annotated[int, typer.Option(help="Environment steps.")] = 60000,
    seed: Annotated[int, typer.Option(help="Seed (training is deterministic).")] = 7,
    algo: Annotated[str, typer.Option(help="ppo (default) or dqn.")] = "ppo",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Model folder (default: a new version under $SHIPMATE_HOME/learner/models)."
        ),
    ] = None,
) -> None:
    """Train a model on the synthetic history and write it with its training report."""
    import json
    from datetime import UTC, datetime

    from learner.train import train

    settings = _settings()
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = out or settings.home / "learner" / "models" / version
    report = train(folder, steps=steps, seed=seed, algo=algo, version=version)
    typer.echo(json.dumps({**report, "folder": str(folder)}, indent=2))


@learner_app.command("evaluate")
def learner_evaluate(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Write a bar chart (PNG).")] = None,
    n: Annotated[int, typer.Option(help="Held-out deploys.")] = 5000,
    model: Annotated[
        Path | None, typer.Option(help="Model folder (default: the one in use).")
    ] = None,
) -> None:
    """Mean cost, failure impact and duration per policy on held-out data, with 95 % CIs."""
    import json

    from learner.evaluate import evaluate
    from learner.evaluate import plot as draw
    from learner.model import SHIPPED

    settings = _settings()
    current = settings.home / "learner" / "current"
    folder = model or (current if (current / "policy.npz").is_file() else SHIPPED)
    result = evaluate(folder, n=n)
    if plot is not None:
        draw(result, plot)
    if as_json:
        typer.echo(json.dumps(result))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Held-out deploys: n={n}, shifted distribution (model {result['model']})")
    for column in (
        "policy",
        "mean cost",
        "95% CI",
        "failure impact",
        "duration",
        "agrees with oracle",
    ):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for name, row in result["policies"].items():
        table.add_row(
            name,
            f"{row['mean_cost']:.3f}",
            f"{row['ci_low']:.3f} - {row['ci_high']:.3f}",
            f"{row['failure_impact']:.3f}",
            f"{row['duration_cost']:.3f}",
            f"{row['agrees_with_oracle']:.0%}",
        )
    console = Console()
    console.print(table)
    summary = result["summary"]
    console.print(
        f"learned is {summary['learned_vs_best_fixed']:.1%} below the best fixed "
        f"strategy, {summary['learned_vs_oracle']:.1%} above the oracle, "
        f"{summary['learned_vs_bandit']:.1%} below the contextual bandit."
    )
    if plot is not None:
        console.print(f"chart: {plot}")


@learner_app.command("scorecard")
def learner_scorecard(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Shadow mode: the learner's suggestions beside what ran, agreement, outcomes, costs."""
    import json

    from learner.scorecard import scorecard

    card = scorecard(_history(_settings()))
    if as_json:
        typer.echo(json.dumps(card))
        return
    typer.echo(f"{card['deploys']} deploys with a suggestion; agreement {card['agreement']:.0%}")
    for service, row in card["services"].items():
        typer.echo(
            f"  {service:<10} deploys {row['deploys']:>3}  agreement "
            f"{row['agreement']:.0%}  failed {row['failed']}/{row['finished']}  "
            f"est. cost chosen {row['estimated_cost_chosen']:.2f} vs suggested "
            f"{row['estimated_cost_suggested']:.2f}"
        )


@learner_app.command("retrain")
def learner_retrain(
    steps: Annotated[int, typer.Option(help="Environment steps.")] = 60000,
    every: Annotated[float, typer.Option(help="Repeat every this many hours (0: once).")] = 0,
    times: Annotated[
        int, typer.Option(help="With --every: stop after this many runs (0: never).")
    ] = 0,
) -> None:
    """Retrain on the synthetic world plus real deploys; promote only if it beats the model
    in use on held-out data."""
    import json
    import time as clock

    from learner.retrain import retrain

    settings = _settings()
    runs = 0
    while True:
        report = retrain(settings.home, _history(settings), steps=steps)
        typer.echo(json.dumps(report))
        runs += 1
        if every <= 0 or (times and runs >= times):
            return
        clock.sleep(every * 3600)


def _understanding(settings: Settings) -> Any:
    from bot.compose import make_nlu
    from bot.paths import policies_dir

    nlu = make_nlu(
        settings.model_copy(update={"nlu": "embedded"}), settings.policy_dir or policies_dir()
    )
    assert nlu is not None
    return nlu


@nlu_app.command("route")
def nlu_route() -> None:
    """Read utterances on stdin (one per line, or JSONL with a "text" field); write one JSON
    object per line: {"intent", "slots", "confidence"}."""
    import json

    nlu = _understanding(_settings())

    async def run() -> None:
        for raw in sys.stdin:
            line = raw.strip()
            if not line:
                continue
            text = line
            if line.startswith("{"):
                try:
                    text = str(json.loads(line).get("text", ""))
                except json.JSONDecodeError:
                    text = line
            routed = await nlu.understand(text)
            typer.echo(
                json.dumps(
                    {
                        "intent": routed.intent,
                        "slots": routed.slots,
                        "confidence": routed.confidence,
                    }
                )
            )

    asyncio.run(run())


@nlu_app.command("eval")
def nlu_eval(
    file: Annotated[Path, typer.Argument(help="JSONL rows: text, intent, optional slots.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Accuracy per intent, slot accuracy, out-of-scope precision and recall, latency."""
    import json

    from bot.nlu.evaluate import evaluate_rows

    if not file.is_file():
        typer.echo(f"No such file: {file}", err=True)
        raise typer.Exit(2)
    rows = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
    report = asyncio.run(evaluate_rows(_understanding(_settings()), rows))
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(
        f"{report['rows']} utterances: intent accuracy {report['accuracy']:.1%}, "
        f"slot accuracy {report['slot_accuracy']:.1%}, out-of-scope precision "
        f"{report['out_of_scope']['precision']:.1%} recall "
        f"{report['out_of_scope']['recall']:.1%}, latency p50 "
        f"{report['latency_ms']['p50']:.1f} ms p99 {report['latency_ms']['p99']:.1f} ms"
    )
    for intent, row in report["per_intent"].items():
        typer.echo(f"  {intent:<18} {row['correct']:>3}/{row['total']:<3} {row['accuracy']:.0%}")
    for name, row in report["slots"].items():
        typer.echo(f"  slot {name:<12} {row['correct']:>3}/{row['total']:<3} {row['accuracy']:.0%}")


@app.command()
def version() -> None:
    """Print shipmate's version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
