"""The composition root: the only place that builds real clients and wires them together."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import skills.approvals
import skills.deploy
import skills.drift
import skills.incident
import skills.kpi
import skills.postmortem
import skills.runbook
import skills.sandbox
import skills.status
from bot.alerts import AlertIntake
from bot.channel import Channels
from bot.clock import Clock, SystemClock
from bot.events import EventBus, EventLog, InProcessBus
from bot.gate.approvals import ApprovalStore
from bot.gate.audit import AuditLog
from bot.gate.executor import Executor, Handler
from bot.gate.gate import Gate
from bot.gate.policy import PolicyEngine, RegorusEngine, load_data
from bot.history import EventHistory
from bot.identity import Directory
from bot.kpis import KpiSource
from bot.models import Action, Outcome, Transport
from bot.nlu.understand import Understanding
from bot.paths import policies_dir, runbooks_dir
from bot.pipeline import Pipeline
from bot.ports import DeployReader
from bot.rollouts import RolloutControl
from bot.router import Router
from bot.runbooks import load_runbooks
from bot.runtasks import RunTasks
from bot.schedule import DriftSchedule
from bot.sdk import Registry
from bot.settings import Settings
from bot.store import Store
from bot.tasks import Tasks
from bot.terraform import Workspace
from learner.model import load_suggester
from tools.incidents.desk import IncidentDesk
from tools.postmortems import PostmortemWriter
from tools.progressive import Progressive, ProgressiveSettings
from tools.queries import RunbookQueries
from tools.sandbox.fleet import SandboxFleet, SandboxTelemetry
from tools.terraform.sandbox import BUNDLED as BUNDLED_AWS
from tools.terraform.sandbox import LocalAws, SandboxAws
from tools.terraform.workspaces import TerraformWorkspaces

SKILL_MODULES = (
    skills.deploy,
    skills.status,
    skills.approvals,
    skills.sandbox,
    skills.drift,
    skills.incident,
    skills.runbook,
    skills.postmortem,
    skills.kpi,
)


@dataclass
class App:
    settings: Settings
    store: Store
    clock: Clock
    events: EventLog
    bus: EventBus
    audit: AuditLog
    engine: PolicyEngine
    gate: Gate
    pipeline: Pipeline
    fleet: SandboxFleet
    directory: Directory
    tasks: Tasks
    channels: Channels
    terraform: TerraformWorkspaces
    sandbox_aws: SandboxAws
    desk: IncidentDesk
    notion: Any = None  # the Notion publisher, when configured (closed with the app)
    narrator: Any = None  # the postmortem narrative's LLM client, when configured

    def schedule(self, transport: Transport, default_channel: str | None) -> DriftSchedule:
        """Scheduled drift checks, told on this door; the door starts its loop."""
        schedule = DriftSchedule(
            self.terraform, self.pipeline, self.channels, self.clock, transport, default_channel
        )
        self.tasks.spawn(
            schedule.loop(self.settings.drift_schedule_seconds), name=f"drift-schedule:{transport}"
        )
        return schedule

    def intake(self, transport: Transport, channel: str | None = None) -> AlertIntake:
        """Alerts into incidents, announced on this door."""
        return AlertIntake(
            self.desk,
            self.gate,
            self.channels,
            self.clock,
            self.pipeline.runbooks,
            transport=transport,
            channel=channel or self.settings.incident_alerts_channel,
        )

    def runtasks(self, transport: Transport) -> RunTasks:
        """Terraform Cloud run tasks, told and approved on this door."""
        from tools.tfc.client import TfcClient

        s = self.settings
        service = RunTasks(
            self.gate,
            TfcClient(pause_seconds=s.tfc_retry_pause_seconds),
            self.channels,
            self.clock,
            lambda work, name: self.tasks.spawn(work, name=name),
            transport=transport,
            channel_for=lambda ws: s.tfc_channels.get(ws, s.tfc_default_channel),
            environment_for=lambda ws: s.tfc_environments.get(ws, "production"),
            timeout_seconds=s.tfc_timeout_seconds,
        )
        self.gate.executor.register("terraform.runtask", service.release)

        async def closed(ctx: object, action: Action, outcome: Outcome) -> None:
            await service.closed(action, outcome)

        self.pipeline.registry.followups["runtask.closed"] = closed
        return service

    async def start(self) -> None:
        """Connect what needs a connection (an OPA server); the embedded defaults need none."""
        await start_engine(self.engine)
        await self.bus.start()

    async def close(self) -> None:
        await self.tasks.cancel_all()
        await self.terraform.runner.close()
        self.sandbox_aws.close()
        await self.desk.close()
        for client in (self.notion, self.narrator):
            if client is not None:
                await client.close()
        await self.bus.close()
        nlu = self.pipeline.router.nlu
        if nlu is not None and nlu.llm is not None:
            await nlu.llm.close()
        await stop_engine(self.engine)
        self.store.close()


async def start_engine(engine: PolicyEngine) -> None:
    start = getattr(engine, "start", None)  # only engines with a connection have one
    if start is not None:
        await start()


async def stop_engine(engine: PolicyEngine) -> None:
    close = getattr(engine, "close", None)
    if close is not None and inspect.isawaitable(result := close()):
        await result


def make_bus(settings: Settings, store: Store, events: EventLog) -> EventBus:
    if settings.event_bus == "kafka":
        from tools.kafka.bus import KafkaBus

        if not settings.kafka_bootstrap:
            raise ValueError("SHIPMATE_EVENT_BUS=kafka needs SHIPMATE_KAFKA_BOOTSTRAP (host:port)")
        return KafkaBus(
            events,
            store,
            bootstrap=settings.kafka_bootstrap,
            prefix=settings.kafka_topic_prefix,
            group=settings.kafka_group,
            partitions=settings.kafka_partitions,
        )
    return InProcessBus(events)


def kubernetes_target(
    settings: Settings, policy_dir: Path, control: RolloutControl, clock: Clock
) -> tuple[DeployReader, dict[str, Handler], Progressive | None]:
    """The Kubernetes reader and writers (one Deployment per service, a namespace per
    environment), and canary analysis over Prometheus when it is configured."""
    from kubernetes import client as k8s
    from kubernetes import config as kube_config

    from tools.kubernetes.deployer import KubernetesDeployer
    from tools.kubernetes.reader import KubernetesReader

    if settings.kube_host:
        configuration = k8s.Configuration(host=settings.kube_host)
        configuration.verify_ssl = settings.kube_verify_ssl
        if settings.kube_token:
            configuration.api_key = {
                "authorization": f"Bearer {settings.kube_token.get_secret_value()}"
            }
        api_client = k8s.ApiClient(configuration)
    else:
        try:
            kube_config.load_incluster_config()
        except kube_config.ConfigException:
            kube_config.load_kube_config()
        api_client = k8s.ApiClient()
    services = load_data(policy_dir)["org"].get("services", {}).get("services", {})
    catalog = {name: int(svc.get("tier", 2)) for name, svc in services.items()}
    deployer = KubernetesDeployer(
        api_client,
        namespaces=settings.kube_namespaces,
        image_template=settings.kube_image_template,
        poll_seconds=settings.kube_poll_seconds,
        progress_deadline_seconds=settings.kube_progress_deadline_seconds,
    )
    reader = KubernetesReader(api_client, namespaces=settings.kube_namespaces, catalog=catalog)
    if settings.prometheus_url:
        from tools.prometheus.reader import PrometheusReader

        deployer.progressive = Progressive(
            control,
            PrometheusReader(settings.prometheus_url, queries=settings.prometheus_queries),
            ProgressiveSettings(
                canary_steps=settings.canary_steps,
                analysis_seconds=settings.canary_analysis_seconds,
                analysis_window_seconds=settings.canary_window_seconds,
                decision_seconds=settings.canary_decision_seconds,
                rollback_window_seconds=settings.bluegreen_window_seconds,
                slo_success_rate=settings.slo_success_rate,
            ),
            clock.now,
        )
    return (
        reader,
        {
            "deploy.rollout": deployer.rollout,
            "deploy.rollback": deployer.rollback,
            "deploy.pause": deployer.pause,
            "deploy.resume": deployer.resume,
            "k8s.deployment.restart": deployer.restart,
            "k8s.deployment.scale": deployer.scale,
        },
        deployer.progressive,
    )


def sandbox_progressive(
    settings: Settings, fleet: SandboxFleet, control: RolloutControl, clock: Clock
) -> Progressive:
    """The sandbox's canary and blue/green: the same driver and judge, simulated telemetry,
    and one simulated step per step."""
    step = settings.sandbox_step_seconds
    return Progressive(
        control,
        SandboxTelemetry(fleet),
        ProgressiveSettings(
            canary_steps=settings.canary_steps,
            analysis_seconds=step,
            decision_seconds=max(30 * step, 5.0),
            rollback_window_seconds=step,
        ),
        clock.now,
    )


def terraform_target(
    settings: Settings, store: Store, clock: Clock
) -> tuple[TerraformWorkspaces, SandboxAws]:
    """Terraform workspaces from configuration, or the sandbox's AWS workspace against the
    local emulator; the embedded Terraform unless the user's binary is asked for."""
    from tools.terraform.runner import (
        EmbeddedRunner,
        ExecutableRunner,
        TerraformRunner,
        find_plugin_mirror,
        write_cli_config,
    )
    from tools.terraform.workspaces import load_workspaces, prepare_bundled

    home = settings.home / "terraform"
    home.mkdir(parents=True, exist_ok=True)
    mirror = settings.terraform_plugin_mirror or find_plugin_mirror()
    cli_config = write_cli_config(home / "cli.tfrc", mirror, home / "plugin-cache")
    runner: TerraformRunner = (
        EmbeddedRunner(log_path=home / "worker.log")
        if settings.terraform_runner == "embedded"
        else ExecutableRunner(settings.terraform_runner)
    )
    sandbox = SandboxAws(LocalAws(log_path=home / "local-aws.log"))
    prepare: dict[str, Callable[[], Awaitable[dict[str, str]]]] = {}
    if settings.terraform_workspaces is not None:
        spaces = load_workspaces(settings.terraform_workspaces)
    else:
        path = prepare_bundled(BUNDLED_AWS, home / "workspaces" / "sandbox-aws")
        spaces = [
            Workspace(
                name="sandbox-aws",
                path=str(path),
                environment="production",
                owners=("alice", "bob"),
                services=("checkout",),
                timeout_seconds=300,
            )
        ]
        prepare = {"sandbox-aws": sandbox.variables}
    workspaces = TerraformWorkspaces(
        spaces, runner, store, clock, work_dir=home, cli_config=cli_config, prepare=prepare
    )
    return workspaces, sandbox


def incident_desk(
    settings: Settings,
    store: Store,
    clock: Clock,
    channels: Channels,
    tasks: Tasks,
    directory: Directory,
) -> IncidentDesk:
    """War rooms in Slack when a bot token is set (else named rooms in the terminal); on-call
    from the team directory (PagerDuty when configured)."""
    from tools.incidents.desk import LocalPager, Pager
    from tools.incidents.rooms import LocalRooms, Rooms, SlackRooms

    rooms: Rooms = LocalRooms()
    if settings.slack_bot_token:
        from slack_sdk.web.async_client import AsyncWebClient

        client = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url or AsyncWebClient.BASE_URL,
        )
        rooms = SlackRooms(client, directory.slack_ids())
    oncall = tuple(directory.with_role("oncall"))
    pager: Pager = LocalPager(list(oncall))
    if settings.pagerduty_api_key:
        from tools.pagerduty.pager import PagerDutyPager

        if not (settings.pagerduty_from and settings.pagerduty_service_id):
            raise ValueError(
                "SHIPMATE_PAGERDUTY_API_KEY needs SHIPMATE_PAGERDUTY_FROM (a PagerDuty user's "
                "email) and SHIPMATE_PAGERDUTY_SERVICE_ID"
            )
        pager = PagerDutyPager(
            settings.pagerduty_api_key.get_secret_value(),
            from_email=settings.pagerduty_from,
            service_id=settings.pagerduty_service_id,
            escalation_policy_ids=settings.pagerduty_escalation_policy_ids,
            people=directory.emails(),
            base_url=settings.pagerduty_api_url,
            verify=str(settings.pagerduty_ca_bundle) if settings.pagerduty_ca_bundle else True,
            pause_seconds=settings.pagerduty_retry_pause_seconds,
            routing_key=(
                settings.pagerduty_routing_key.get_secret_value()
                if settings.pagerduty_routing_key
                else None
            ),
            events_url=settings.pagerduty_events_url,
        )
    return IncidentDesk(
        store,
        clock,
        rooms,
        pager,
        channels,
        tasks,
        name_template=settings.incident_channel_template,
        stakeholders=settings.incident_stakeholders_channel,
        archive_after_seconds=settings.incident_archive_after_seconds,
        directory_oncall=oncall,
    )


def make_notion(settings: Settings) -> Any:
    if settings.notion_token is None:
        return None
    from tools.notion.publisher import NotionPublisher

    return NotionPublisher(
        settings.notion_token.get_secret_value(),
        parent_page_id=settings.notion_parent_page_id,
        data_source_id=settings.notion_data_source_id,
        base_url=settings.notion_api_url,
    )


def make_narrator(settings: Settings) -> Any:
    """The postmortem narrative's LLM: the same OpenAI settings as plain-language routing."""
    if not (settings.openai_api_key or settings.llm_base_url):
        return None
    from bot.narrative import Narrator

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "none"
    return Narrator(
        api_key=key,
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        timeout=max(settings.llm_timeout_seconds, 30.0),
    )


def service_teams(policy_dir: Path) -> dict[str, str]:
    services = load_data(policy_dir)["org"].get("services", {}).get("services", {})
    return {name: str(svc.get("team", "")) for name, svc in services.items() if svc.get("team")}


def make_nlu(settings: Settings, policy_dir: Path) -> Understanding | None:
    """Plain-language understanding over this deployment's service catalog and runbooks."""
    if settings.nlu == "off":
        return None
    catalog = load_data(policy_dir)["org"].get("services", {}).get("services", {})
    runbook_dir = runbooks_dir()
    runbooks = sorted(p.stem for p in runbook_dir.glob("*.yaml"))
    llm = None
    if settings.openai_api_key or settings.llm_base_url:
        from bot.nlu.understand import LlmRouter

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "none"
        llm = LlmRouter(
            api_key=key,
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            timeout=settings.llm_timeout_seconds,
        )
    return Understanding(sorted(catalog), runbooks, llm)


def make_engine(settings: Settings, policy_dir: Path) -> PolicyEngine:
    reload = settings.policy_reload_seconds if settings.policy_reload_seconds >= 0 else None
    if settings.policy_engine == "opa":
        from bot.gate.opa_rest import OpaServerEngine

        token = settings.opa_token.get_secret_value() if settings.opa_token else None
        return OpaServerEngine(
            settings.opa_url,
            token=token,
            timeout=settings.opa_timeout_seconds,
            policy_dir=policy_dir if settings.opa_push_policies else None,
            reload_interval=reload,
        )
    return RegorusEngine(policy_dir, reload_interval=reload)


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    engine: PolicyEngine | None = None,
    registry: Registry | None = None,
) -> App:
    settings = settings or Settings()
    clock = clock or SystemClock()
    policy_dir = settings.policy_dir or policies_dir()
    store = Store(settings.db_path)
    events = EventLog(store)
    bus = make_bus(settings, store, events)
    audit = AuditLog(store)
    engine = engine or make_engine(settings, policy_dir)
    tasks = Tasks()
    channels = Channels()
    fleet = SandboxFleet(store, clock, settings.sandbox_step_seconds)
    control = RolloutControl()
    fleet.progressive = sandbox_progressive(settings, fleet, control, clock)
    progressives = [fleet.progressive]
    terraform, sandbox_aws = terraform_target(settings, store, clock)
    directory = Directory.from_policy_dir(policy_dir)
    desk = incident_desk(settings, store, clock, channels, tasks, directory)
    handlers: dict[str, Handler] = {
        "pagerduty.incident.create": desk.declare,
        "pagerduty.incident.acknowledge": desk.acknowledge,
        "pagerduty.incident.resolve": desk.resolve,
        "pagerduty.incident.note": desk.note,
        "incident.status.update": desk.update,
        "incident.role.assign": desk.assign,
        "slack.channel.archive": desk.archive,
        "k8s.deployment.restart": fleet.restart,
        "k8s.deployment.scale": fleet.scale,
        "k8s.node.drain": fleet.drain_node,
        "cache.flush": fleet.flush_cache,
        "terraform.apply": terraform.apply,
        "terraform.drift.ignore": terraform.ignore,
        "sandbox.drift.inject": sandbox_aws.inject_drift,
        "deploy.rollout": fleet.rollout,
        "deploy.rollback": fleet.rollback,
        "deploy.promote": fleet.progressive.steer,
        "deploy.abort": fleet.progressive.steer,
        "sandbox.fault.inject": fleet.inject_fault,
        "sandbox.fault.clear": fleet.clear_fault,
    }
    reader: DeployReader = fleet.reader
    if settings.deploy_target == "kubernetes":
        reader, kube_handlers, kube_progressive = kubernetes_target(
            settings, policy_dir, control, clock
        )
        handlers = {**handlers, **kube_handlers}
        if kube_progressive is not None:
            progressives.append(kube_progressive)
    handlers["runbook.query"] = RunbookQueries(reader).query
    notion = make_notion(settings)
    narrator = make_narrator(settings)
    handlers["postmortem.publish"] = PostmortemWriter(
        desk,
        events,
        clock,
        channels,
        settings.home / "postmortems",
        notion=notion,
        template=settings.postmortem_template,
        narrator=narrator,
    ).publish
    executor = Executor(handlers)
    gate = Gate(
        store=store,
        engine=engine,
        approvals=ApprovalStore(store),
        executor=executor,
        audit=audit,
        bus=bus,
        clock=clock,
        tasks=tasks,
        channels=channels,
        approval_ttl_seconds=settings.approval_ttl_seconds,
    )
    for progressive in progressives:  # automatic aborts and switch-backs ask policy first
        progressive.authorize = gate.authorize_automatic
    desk.authorize = gate.authorize_automatic
    for topic in ("deployments", "drift", "compliance", "incidents"):
        bus.subscribe(topic, desk.on_event, group="incident-timeline")
    registry = registry or Registry.from_modules(*SKILL_MODULES)
    pipeline = Pipeline(
        registry=registry,
        router=Router(registry, nlu=make_nlu(settings, policy_dir)),
        gate=gate,
        fleet=reader,
        suggester=load_suggester(settings.home / "learner" / "current"),
        history=EventHistory(events, clock),
        audit=audit,
        bus=bus,
        clock=clock,
        tasks=tasks,
        channels=channels,
        store=store,
        rollouts=control.reader,
        drift=terraform,
        incidents=desk,
        runbooks=load_runbooks(runbooks_dir()),
        kpis=KpiSource(events, service_teams(policy_dir), clock.now),
    )
    return App(
        settings=settings,
        store=store,
        clock=clock,
        events=events,
        bus=bus,
        audit=audit,
        engine=engine,
        gate=gate,
        pipeline=pipeline,
        fleet=fleet,
        directory=directory,
        tasks=tasks,
        channels=channels,
        terraform=terraform,
        sandbox_aws=sandbox_aws,
        desk=desk,
        notion=notion,
        narrator=narrator,
    )
