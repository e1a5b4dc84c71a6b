"""Settings from the environment (prefix SHIPMATE_) and one optional YAML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPMATE_", extra="ignore", populate_by_name=True)

    # All local state (SQLite store: approvals, audit, events, sandbox) lives under here.
    home: Path = Path(".shipmate")
    # Policy folder; default: the shipped policies/.
    policy_dir: Path | None = None
    # Which policy engine decides: the in-process Rego engine, or an OPA server over REST.
    policy_engine: Literal["embedded", "opa"] = "embedded"
    opa_url: str = "http://127.0.0.1:8181"
    opa_token: SecretStr | None = None
    opa_timeout_seconds: float = 1.0
    # Push shipmate's policies and data to the OPA server at start (off: OPA loads bundles).
    opa_push_policies: bool = True
    # The event bus: in-process (default), or Kafka at kafka_bootstrap.
    event_bus: Literal["memory", "kafka"] = "memory"
    kafka_bootstrap: str | None = None
    kafka_topic_prefix: str = "shipmate."
    kafka_group: str = "shipmate"
    kafka_partitions: int = 3
    # Slack: the standard variable names (SLACK_BOT_TOKEN, ...) are read as they are.
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "SHIPMATE_SLACK_BOT_TOKEN")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "SHIPMATE_SLACK_APP_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "SHIPMATE_SLACK_SIGNING_SECRET"),
    )
    # Any Slack-compatible Web API (Socket Mode's apps.connections.open goes there too).
    slack_api_url: str | None = None
    slack_mode: Literal["socket", "http"] = "socket"
    slack_host: str = "127.0.0.1"
    slack_port: int = 3000
    # Extra roles from Slack user groups: {role: usergroup id}, e.g. {"oncall": "S0ONCALL"}.
    slack_usergroups: dict[str, str] = {}
    # Where scheduled reports go when their workspace names no channel (None: skipped).
    slack_default_channel: str | None = None
    # Where deploys go: the sandbox (simulated fleet) or a Kubernetes cluster.
    deploy_target: Literal["sandbox", "kubernetes"] = "sandbox"
    kube_host: str | None = None  # API server URL; None: the in-cluster / kubeconfig default
    kube_token: SecretStr | None = None
    kube_verify_ssl: bool = True
    kube_namespaces: dict[str, str] = {"production": "production", "staging": "staging"}
    kube_image_template: str = "{service}:{version}"
    kube_poll_seconds: float = 2.0
    kube_progress_deadline_seconds: float = 600.0
    # Canary analysis on Kubernetes: Prometheus, and the steps' timing.
    prometheus_url: str | None = None  # e.g. http://prometheus.monitoring:9090
    prometheus_queries: dict[str, str] = {}  # metric -> PromQL template (defaults built in)
    canary_steps: tuple[int, ...] = (10, 25, 50)
    canary_analysis_seconds: float = 120.0  # each step runs this long before it is judged
    canary_window_seconds: float = 300.0  # telemetry the judge reads per step
    canary_decision_seconds: float = 900.0  # a marginal verdict waits this long for a person
    bluegreen_window_seconds: float = 600.0  # blue kept (and green watched) after the switch
    slo_success_rate: float = 0.99  # rolling deploys below it (Prometheus) roll back by themselves
    # Terraform drift. Workspaces: a YAML file (see docs/drift.md); None: the sandbox's own.
    terraform_workspaces: Path | None = None
    terraform_runner: Literal["embedded", "terraform", "tofu"] = "embedded"
    terraform_plugin_mirror: Path | None = None  # None: looked for on this machine
    drift_schedule_seconds: float = 60.0  # how often due scheduled checks are looked for
    # Incidents: war-room names, where stakeholder updates go, how long a resolved room stays.
    incident_channel_template: str = "inc-{date}-{service}-{slug}"
    incident_stakeholders_channel: str | None = None
    incident_archive_after_seconds: float = 3600.0
    incident_alerts_channel: str = "#incidents"  # where alert-declared incidents are announced
    # PagerDuty (optional; without it the local incident store stands in, on-call from the
    # team directory).
    pagerduty_api_key: SecretStr | None = None
    pagerduty_from: str | None = None  # a PagerDuty user's email, for writes
    pagerduty_service_id: str | None = None
    pagerduty_escalation_policy_ids: list[str] = []
    pagerduty_api_url: str | None = None  # default https://api.pagerduty.com
    pagerduty_ca_bundle: Path | None = None  # a private CA for the API's certificate
    pagerduty_retry_pause_seconds: float = 1.5  # first pause on 429/5xx, doubling
    pagerduty_routing_key: SecretStr | None = None  # page through Events API v2 instead
    pagerduty_events_url: str | None = None  # default https://events.pagerduty.com
    # `shipmate serve`: webhooks (alerts, PagerDuty), /healthz, /metrics.
    serve_host: str = "127.0.0.1"
    serve_port: int = 8080
    pagerduty_webhook_secrets: list[str] = []  # several during a secret rotation
    # Terraform Cloud run tasks (`shipmate serve` /runtasks): the task's HMAC key(s), where
    # each workspace's runs are told, and as which environment policy judges them.
    tfc_hmac_keys: list[str] = []
    tfc_channels: dict[str, str] = {}  # workspace -> channel (else tfc_default_channel)
    tfc_default_channel: str = "#terraform"
    tfc_environments: dict[str, str] = {}  # workspace -> environment (else production)
    tfc_timeout_seconds: float = 540.0  # fail before Terraform Cloud's 10-minute task timeout
    tfc_retry_pause_seconds: float = 1.0  # first pause before a callback is retried
    # Postmortems: a Jinja2 template of your own, and Notion (optional).
    postmortem_template: Path | None = None
    notion_token: SecretStr | None = None
    notion_parent_page_id: str | None = None
    notion_data_source_id: str | None = None  # a postmortems database, instead of a page
    notion_api_url: str | None = None  # default https://api.notion.com
    # Natural language: the embedded router (offline), or off (slash commands only).
    nlu: Literal["embedded", "off"] = "embedded"
    # An LLM routes plain language when a key or an OpenAI-compatible URL is set.
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "SHIPMATE_OPENAI_API_KEY")
    )
    llm_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SHIPMATE_LLM_BASE_URL", "OPENAI_BASE_URL")
    )
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = 3.0
    # How often (seconds) the engine looks for edited policy files; negative: never.
    policy_reload_seconds: float = 1.0
    approval_ttl_seconds: int = 3600
    # Simulated seconds per sandbox rollout step (0 in tests and benchmarks).
    sandbox_step_seconds: float = 0.4
    # The chat's user at start (`/as NAME` switches).
    chat_user: str = "alice"
    chat_channel: str = "#sandbox"
    log_level: str = "INFO"

    @property
    def db_path(self) -> Path:
        return self.home / "shipmate.db"

    @property
    def log_path(self) -> Path:
        return self.home / "shipmate.log"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, environment, then the YAML file (SHIPMATE_CONFIG).
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("SHIPMATE_CONFIG")
        if config:
            if not Path(config).is_file():
                raise FileNotFoundError(f"SHIPMATE_CONFIG points at {config}, which does not exist")
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config))
        return tuple(sources)
