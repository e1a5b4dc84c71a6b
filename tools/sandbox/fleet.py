"""The sandbox fleet: simulated services with telemetry per version, rolled out with rolling,
canary and blue/green at a configurable simulated speed. State lives in the shared SQLite file.

Health model (simulated): a good version serves ~0.3 % errors at its base latency; a version
marked bad (`/sandbox break`) serves ~9 % errors at 4x the latency. A step is healthy when the
new version's error rate is at most 1 % and its p95 at most twice the service's base latency.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bot.clock import Clock
from bot.models import Action, ExecutionResult
from bot.ports import ChangeInfo, Health, Progress, ServiceState
from bot.store import Store
from tools.guard import writer
from tools.progressive import Progressive

MAX_ERROR_RATE = 0.01
MAX_LATENCY_FACTOR = 2.0

DEFAULT_CONFIG = Path(__file__).with_name("fleet.yaml")


def _jitter(*parts: str) -> float:
    """A stable number in [0, 1) per service/version, so telemetry is repeatable."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


class SandboxFleet:
    DDL = """
    CREATE TABLE IF NOT EXISTS sandbox_services (
        service TEXT NOT NULL,
        environment TEXT NOT NULL,
        tier INTEGER NOT NULL,
        version TEXT NOT NULL,
        previous_version TEXT,
        target_version TEXT,
        new_replicas INTEGER NOT NULL DEFAULT 0,
        replicas INTEGER NOT NULL,
        base_rps REAL NOT NULL,
        base_latency_ms REAL NOT NULL,
        status TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (service, environment)
    );
    CREATE TABLE IF NOT EXISTS sandbox_faults (
        service TEXT NOT NULL,
        version TEXT NOT NULL,
        PRIMARY KEY (service, version)
    );
    """

    def __init__(
        self, store: Store, clock: Clock, step_seconds: float, config: Path = DEFAULT_CONFIG
    ) -> None:
        self._store = store
        self._clock = clock
        self.step_seconds = step_seconds
        self.progressive: Progressive | None = None  # canary analysis, set by the composition root
        store.ensure_schema(self.DDL)
        if store.one("SELECT 1 FROM sandbox_services LIMIT 1") is None:
            self._seed(config)
        self._recover()

    def _seed(self, config: Path) -> None:
        spec = yaml.safe_load(config.read_text())["services"]
        now = self._clock.now().isoformat()
        with self._store.tx() as db:
            for name, svc in spec.items():
                for env, version in svc["versions"].items():
                    db.execute(
                        "INSERT INTO sandbox_services(service, environment, tier, version,"
                        " replicas, base_rps, base_latency_ms, status, updated_at)"
                        " VALUES (?,?,?,?,?,?,?,?,?)",
                        (
                            name,
                            env,
                            svc["tier"],
                            str(version),
                            svc["replicas"],
                            svc["base_rps"],
                            svc["base_latency_ms"],
                            "stable",
                            now,
                        ),
                    )

    def _recover(self) -> None:
        """A rollout interrupted by a restart leaves the old version serving: the simulated
        controller drains the unfinished new replicas."""
        with self._store.tx() as db:
            db.execute(
                "UPDATE sandbox_services SET target_version=NULL, new_replicas=0,"
                " status='stable' WHERE status!='stable'"
            )

    # ---- reader ---------------------------------------------------------------------------

    def _bad(self, service: str, version: str) -> bool:
        return (
            self._store.one(
                "SELECT 1 FROM sandbox_faults WHERE service=? AND version=?", (service, version)
            )
            is not None
        )

    def health_of(self, row: Any, version: str) -> Health:
        j = _jitter(row["service"], version)
        base = float(row["base_latency_ms"])
        if self._bad(row["service"], version):
            return Health(
                request_rate=row["base_rps"],
                error_rate=0.08 + 0.02 * j,
                latency_p95_ms=base * (4.0 + j),
            )
        return Health(
            request_rate=row["base_rps"],
            error_rate=0.002 + 0.002 * j,
            latency_p95_ms=base * (1.0 + 0.1 * j),
        )

    def _state(self, row: Any) -> ServiceState:
        return ServiceState(
            service=row["service"],
            environment=row["environment"],
            tier=row["tier"],
            version=row["version"],
            previous_version=row["previous_version"],
            replicas=row["replicas"],
            status=row["status"],
            updated_at=datetime.fromisoformat(row["updated_at"]),
            health=self.health_of(row, row["version"]),
            target="sandbox",
        )

    def _row(self, service: str, environment: str) -> Any:
        return self._store.one(
            "SELECT * FROM sandbox_services WHERE service=? AND environment=?",
            (service, environment),
        )

    @property
    def reader(self) -> FleetReader:
        """The read-only view handed to skills (writers stay with the executor)."""
        return FleetReader(self)

    async def change(self, name: str, from_version: str, to_version: str) -> ChangeInfo:
        """The simulated change between two versions: stable per pair, modest in size (the
        sandbox's demo deploys are everyday changes), with tests passing."""
        j = _jitter(name, from_version, to_version)
        lines = 20 + int(j * 380)
        return ChangeInfo(
            lines=lines,
            files=1 + lines // 30,
            migrations=0,
            tests_passed=True,
            coverage_delta=round((j - 0.5) * 2, 1),
            dependents=2 + int(j * 6),
        )

    async def services(self) -> list[ServiceState]:
        rows = self._store.query("SELECT * FROM sandbox_services ORDER BY service, environment")
        return [self._state(r) for r in rows]

    async def service(self, name: str, environment: str) -> ServiceState | None:
        row = self._row(name, environment)
        return self._state(row) if row else None

    # ---- writer ---------------------------------------------------------------------------

    def _set(self, service: str, env: str, **cols: Any) -> None:
        cols["updated_at"] = self._clock.now().isoformat()
        assignments = ", ".join(f"{k}=?" for k in cols)
        with self._store.tx() as db:
            db.execute(
                f"UPDATE sandbox_services SET {assignments} WHERE service=? AND environment=?",
                (*cols.values(), service, env),
            )

    def _healthy(self, row: Any, h: Health) -> bool:
        return h.error_rate <= MAX_ERROR_RATE and h.latency_p95_ms <= MAX_LATENCY_FACTOR * float(
            row["base_latency_ms"]
        )

    @staticmethod
    def _describe(h: Health) -> str:
        return f"error rate {h.error_rate:.1%}, p95 {h.latency_p95_ms:.0f} ms"

    @writer
    async def rollout(self, action: Action, progress: Progress) -> ExecutionResult:
        p = action.params
        service, env, version = p["service"], p["environment"], p["version"]
        strategy = p.get("strategy", "rolling")
        row = self._row(service, env)
        if row is None:
            return ExecutionResult(
                status="failed", summary=f"{service} has no {env} in the sandbox."
            )
        if row["status"] != "stable":
            return ExecutionResult(
                status="failed",
                summary=f"{service} in {env} is busy ({row['status']}); nothing was changed.",
            )
        old = row["version"]
        self._set(
            service, env, target_version=version, new_replicas=0, status=f"{strategy} to {version}"
        )
        if strategy in ("canary", "bluegreen"):
            if self.progressive is None:
                self._settled(service, env)
                return ExecutionResult(
                    status="failed", summary=f"{strategy} needs canary analysis; nothing changed."
                )
            action = action.model_copy(update={"params": {**p, "from_version": old}})
            if strategy == "canary":
                result = await self.progressive.canary(self, action, progress)
            else:
                result = await self.progressive.bluegreen(self, action, progress)
            if result.status != "succeeded":  # whatever happened, the old version serves
                self._settled(service, env)
            return result.model_copy(update={"details": {**result.details, "strategy": strategy}})
        healthy, detail = await self._rolling(row, version, old, progress)
        if not healthy:
            await progress(f"Rolling back {service} in {env} to {old}.")
            await self._clock.sleep(self.step_seconds)
            self._settled(service, env)
            return ExecutionResult(
                status="rolled_back",
                summary=f"{version} failed its health check ({detail}); {service} in {env} is "
                f"back on {old}, all {row['replicas']} replicas.",
                details={"from": old, "to": version, "serving": old, "strategy": strategy},
            )
        self._promoted(service, env, version, old)
        return ExecutionResult(
            status="succeeded",
            summary=f"{service} in {env} is on {version} ({row['replicas']} of {row['replicas']} "
            f"replicas, {detail}).",
            details={"from": old, "to": version, "serving": version, "strategy": strategy},
        )

    async def _rolling(
        self, row: Any, version: str, old: str, progress: Progress
    ) -> tuple[bool, str]:
        total = int(row["replicas"])
        batch = max(1, math.ceil(total * 0.25))  # maxSurge 25 %
        done = 0
        h = self.health_of(row, version)
        while done < total:
            await self._clock.sleep(self.step_seconds)
            done = min(total, done + batch)
            self._set(
                row["service"],
                row["environment"],
                new_replicas=done,
                status=f"rolling {done}/{total} to {version}",
            )
            await progress(f"Rolling: {done}/{total} replicas on {version}; {self._describe(h)}.")
            if not self._healthy(row, h):
                return False, self._describe(h)
        return True, self._describe(h)

    @writer
    async def rollback(self, action: Action, progress: Progress) -> ExecutionResult:
        p = action.params
        service, env, to_version = p["service"], p["environment"], p["to_version"]
        row = self._row(service, env)
        if row is None:
            return ExecutionResult(
                status="failed", summary=f"{service} has no {env} in the sandbox."
            )
        current = row["version"]
        self._set(service, env, status=f"rolling back to {to_version}")
        await progress(f"Rolling back {service} in {env} from {current} to {to_version}.")
        await self._clock.sleep(self.step_seconds)
        self._promoted(service, env, to_version, current)
        h = self.health_of(row, to_version)
        return ExecutionResult(
            status="succeeded",
            summary=f"{service} in {env} is back on {to_version} ({self._describe(h)}).",
            details={"from": current, "to": to_version, "serving": to_version},
        )

    @writer
    async def inject_fault(self, action: Action, progress: Progress) -> ExecutionResult:
        service, version = action.params["service"], action.params["version"]
        with self._store.tx() as db:
            db.execute("INSERT OR IGNORE INTO sandbox_faults VALUES (?,?)", (service, version))
        return ExecutionResult(
            status="succeeded",
            summary=f"Sandbox: {service} {version} will now fail its health checks.",
        )

    @writer
    async def clear_fault(self, action: Action, progress: Progress) -> ExecutionResult:
        service, version = action.params["service"], action.params["version"]
        with self._store.tx() as db:
            db.execute(
                "DELETE FROM sandbox_faults WHERE service=? AND version=?", (service, version)
            )
        return ExecutionResult(
            status="succeeded", summary=f"Sandbox: {service} {version} is healthy again."
        )

    # ---- operations (runbook steps) ---------------------------------------------------------
    @writer
    async def restart(self, action: Action, progress: Progress) -> ExecutionResult:
        service, env = action.params["service"], action.params["environment"]
        row = self._row(service, env)
        if row is None:
            return ExecutionResult(
                status="failed", summary=f"{service} has no {env} in the sandbox."
            )
        await progress(
            f"Restarting {service} in {env}: {row['replicas']} pods, one batch at a time."
        )
        await self._clock.sleep(self.step_seconds)
        self._set(service, env, status="stable")
        return ExecutionResult(
            status="succeeded",
            summary=f"{service} in {env} restarted: {row['replicas']} new pods on "
            f"{row['version']}.",
        )

    @writer
    async def scale(self, action: Action, progress: Progress) -> ExecutionResult:
        service, env = action.params["service"], action.params["environment"]
        replicas = int(action.params["replicas"])
        row = self._row(service, env)
        if row is None:
            return ExecutionResult(
                status="failed", summary=f"{service} has no {env} in the sandbox."
            )
        if not 1 <= replicas <= 200:
            return ExecutionResult(status="failed", summary=f"{replicas} replicas is out of range.")
        await self._clock.sleep(self.step_seconds)
        with self._store.tx() as db:
            db.execute(
                "UPDATE sandbox_services SET replicas=? WHERE service=? AND environment=?",
                (replicas, service, env),
            )
        return ExecutionResult(
            status="succeeded",
            summary=f"{service} in {env} scaled from {row['replicas']} to {replicas} replicas.",
        )

    @writer
    async def drain_node(self, action: Action, progress: Progress) -> ExecutionResult:
        node = action.params["node"]
        await progress(f"Cordoning {node}; evicting its pods (they reschedule on other nodes).")
        await self._clock.sleep(self.step_seconds)
        return ExecutionResult(
            status="succeeded", summary=f"Sandbox: {node} cordoned and drained; its pods moved."
        )

    @writer
    async def flush_cache(self, action: Action, progress: Progress) -> ExecutionResult:
        cache = action.params["cache"]
        await self._clock.sleep(self.step_seconds)
        return ExecutionResult(
            status="succeeded",
            summary=f"Sandbox: cache {cache} flushed; it refills from the source.",
        )

    # ---- progressive delivery targets (tools.progressive drives them) ----------------------
    def _p(self, action: Action) -> tuple[str, str, str, Any]:
        p = action.params
        return (
            p["service"],
            p["environment"],
            p["version"],
            self._row(p["service"], p["environment"]),
        )

    async def canary_start(self, action: Action, progress: Progress) -> str:
        service, env, version, row = self._p(action)
        self._set(service, env, status=f"canary 0% {version}")
        return f"Canary of {version} started beside {row['version']} ({row['replicas']} replicas)."

    async def canary_weight(self, action: Action, weight: int, progress: Progress) -> str:
        service, env, version, row = self._p(action)
        await self._clock.sleep(self.step_seconds)
        total = int(row["replicas"])
        new = max(1, math.ceil(total * weight / 100))
        self._set(service, env, new_replicas=new, status=f"canary {weight}% {version}")
        return f"{new} of {total} replicas on {version}"

    async def canary_promote(self, action: Action, progress: Progress) -> str:
        service, env, version, row = self._p(action)
        await self._clock.sleep(self.step_seconds)
        self._promoted(service, env, version, row["version"])
        return f"all {row['replicas']} replicas run {version}"

    async def canary_abort(self, action: Action, progress: Progress) -> str:
        service, env, _, row = self._p(action)
        self._settled(service, env)
        return f"{service} in {env} is back on {row['version']}, all {row['replicas']} replicas"

    async def green_up(self, action: Action, progress: Progress) -> str:
        service, env, version, row = self._p(action)
        await self._clock.sleep(self.step_seconds)
        self._set(service, env, new_replicas=row["replicas"], status=f"green {version} up")
        return f"{row['replicas']} replicas on {version}, no traffic yet"

    async def green_switch(self, action: Action, to_green: bool, progress: Progress) -> str:
        service, env, version, row = self._p(action)
        which = f"green ({version})" if to_green else f"blue ({row['version']})"
        self._set(service, env, status=f"traffic on {which}")
        return f"every request goes to {which}"

    async def green_finish(self, action: Action, progress: Progress) -> str:
        service, env, version, row = self._p(action)
        self._promoted(service, env, version, row["version"])
        return f"blue ({row['version']}) is retired"

    async def green_discard(self, action: Action, progress: Progress) -> str:
        service, env, _, row = self._p(action)
        self._settled(service, env)
        return f"green is removed and blue ({row['version']}) serves all traffic"

    def _settled(self, service: str, env: str) -> None:
        """Whatever was under way stopped; the version that serves stays."""
        self._set(service, env, target_version=None, new_replicas=0, status="stable")

    def _promoted(self, service: str, env: str, version: str, old: str) -> None:
        self._set(
            service,
            env,
            version=version,
            previous_version=old,
            target_version=None,
            new_replicas=0,
            status="stable",
        )


class SandboxTelemetry:
    """Telemetry series of the simulated fleet, as a Prometheus would return them: success
    rate and p95 latency (seconds) per version, around the health model's means with a
    repeatable noise, one point per sample step."""

    def __init__(self, fleet: SandboxFleet) -> None:
        self._fleet = fleet

    async def metric(
        self,
        metric: str,
        service: str,
        version: str,
        start: datetime,
        end: datetime,
        step_seconds: float = 15.0,
    ) -> list[float]:
        row = self._fleet._store.one(
            "SELECT * FROM sandbox_services WHERE service=? LIMIT 1", (service,)
        )
        if row is None:
            return []
        h = self._fleet.health_of(row, version)
        points = max(10, int((end - start).total_seconds() / max(step_seconds, 1e-3)))
        seed = _jitter(service, version, metric, f"{start.timestamp():.0f}")
        rng = np.random.default_rng(int(seed * 2**32))
        if metric == "success_rate":
            values = np.clip(rng.normal(1 - h.error_rate, 0.001, points), 0.0, 1.0)
        elif metric == "latency_p95":
            mean = h.latency_p95_ms / 1000
            values = np.abs(rng.normal(mean, mean * 0.03, points))
        else:
            return []  # a metric the sandbox does not simulate: no data
        return [float(v) for v in values]


class FleetReader:
    """Only the reading half of the sandbox fleet."""

    def __init__(self, fleet: SandboxFleet) -> None:
        self._fleet = fleet

    async def change(self, name: str, from_version: str, to_version: str) -> ChangeInfo | None:
        return await self._fleet.change(name, from_version, to_version)

    async def services(self) -> list[ServiceState]:
        return await self._fleet.services()

    async def service(self, name: str, environment: str) -> ServiceState | None:
        return await self._fleet.service(name, environment)
