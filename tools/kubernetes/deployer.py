"""Kubernetes as a deploy target, with the official `kubernetes` client (synchronous, so every
call runs in a worker thread): set a container's image by strategic merge patch (other
containers, ports and env untouched), follow the rollout to completion or its progress
deadline, roll back to the previous revision's template, pause and resume; replaces that meet
a 409 are retried from a fresh read.

Canary: a `<service>-canary` Deployment beside the stable one, same labels plus
`shipmate.dev/track: canary`, so the Service sends it a share of traffic by replica ratio.
Blue/green: the Service is pinned to blue's `pod-template-hash`, a `<service>-green`
Deployment comes up, the selector switches to green's hash, and after the rollback window the
stable Deployment takes the new image, the selector is restored and green is removed. The
steps between are decided by tools.progressive.

The writer methods run only inside the Gate (tools.guard)."""

from __future__ import annotations

import asyncio
import copy
import json
import math
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from bot.models import Action, ExecutionResult
from bot.ports import Progress
from tools.guard import writer
from tools.kubernetes.reader import owner
from tools.progressive import Progressive, RolloutError

TRACK = "shipmate.dev/track"
ORIGINAL_SELECTOR = "shipmate.dev/original-selector"


class KubernetesError(Exception):
    pass


def _status(exc: ApiException) -> str:
    return f"{exc.status} {exc.reason}"


class KubernetesDeployer:
    def __init__(
        self,
        api_client: k8s.ApiClient,
        *,
        namespace: str = "default",
        namespaces: dict[str, str] | None = None,
        image_template: str = "{service}:{version}",
        poll_seconds: float = 0.5,
        progress_deadline_seconds: float = 600.0,
        conflict_retries: int = 5,
    ) -> None:
        self._apps = k8s.AppsV1Api(api_client)
        self._core = k8s.CoreV1Api(api_client)
        self._serializer = api_client
        self.progressive: Progressive | None = None  # canary and blue/green need it
        self.namespace = namespace
        self.namespaces = namespaces or {}  # environment -> namespace (else `namespace`)
        self.image_template = image_template
        self.poll = poll_seconds
        self.deadline = progress_deadline_seconds
        self.retries = conflict_retries

    @classmethod
    def for_host(
        cls, host: str, token: str | None = None, verify_ssl: bool = True, **options: Any
    ) -> KubernetesDeployer:
        configuration = k8s.Configuration(host=host)
        configuration.verify_ssl = verify_ssl
        if token:
            configuration.api_key = {"authorization": f"Bearer {token}"}
        return cls(k8s.ApiClient(configuration), **options)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # ---- reading --------------------------------------------------------------------------
    def ns(self, action: Action) -> str:
        return self.namespaces.get(action.params.get("environment", ""), self.namespace)

    async def deployment(self, name: str, ns: str) -> Any:
        return await self._call(self._apps.read_namespaced_deployment, name, ns)

    async def image_of(self, name: str, ns: str, container: str | None = None) -> str:
        dep = await self.deployment(name, ns)
        for c in dep.spec.template.spec.containers:
            if c.name == (container or name):
                return str(c.image)
        raise KubernetesError(f"deployment {name} has no container {container or name}")

    # ---- writing --------------------------------------------------------------------------
    async def _set_image(self, name: str, ns: str, container: str, image: str) -> int:
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}
        }
        dep = await self._call(self._apps.patch_namespaced_deployment, name, ns, patch)
        return int(dep.metadata.generation)

    async def _replace(self, name: str, ns: str, mutate: Callable[[Any], None]) -> Any:
        """Read, change, replace; a 409 (someone else changed it) starts again from a fresh
        read, a few times."""
        for attempt in range(self.retries + 1):
            dep = await self.deployment(name, ns)
            mutate(dep)
            try:
                return await self._call(self._apps.replace_namespaced_deployment, name, ns, dep)
            except ApiException as exc:
                if exc.status != 409 or attempt == self.retries:
                    raise
        raise KubernetesError("unreachable")

    async def _follow(
        self, name: str, ns: str, generation: int, progress: Progress
    ) -> tuple[bool, str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline
        last = -1
        while loop.time() < deadline:
            dep = await self.deployment(name, ns)
            st = dep.status
            want = dep.spec.replicas or 0
            updated = st.updated_replicas or 0
            # Like `kubectl rollout status`: the status speaks for our change only once the
            # controller has observed its generation.
            if (st.observed_generation or 0) >= generation:
                for cond in st.conditions or []:
                    if cond.type == "Progressing" and cond.reason == "ProgressDeadlineExceeded":
                        return False, f"the rollout stalled: {cond.message or cond.reason}"
                if updated != last:
                    await progress(f"Rolling: {updated}/{want} replicas updated on {name}.")
                    last = updated
                if updated >= want and (st.available_replicas or 0) >= want:
                    return True, f"{updated}/{want} replicas updated and available"
            await asyncio.sleep(self.poll)
        return False, f"the rollout did not finish within {self.deadline:g} s"

    @writer
    async def rollout(self, action: Action, progress: Progress) -> ExecutionResult:
        strategy = action.params.get("strategy", "rolling")
        if strategy in ("canary", "bluegreen"):
            if self.progressive is None:
                return ExecutionResult(
                    status="failed",
                    summary=f"{strategy} needs canary analysis configured; nothing was changed.",
                )
            try:
                if strategy == "canary":
                    return await self.progressive.canary(self, action, progress)
                return await self.progressive.bluegreen(self, action, progress)
            except ApiException as exc:
                return ExecutionResult(
                    status="failed",
                    summary=f"Kubernetes refused a step of the {strategy} ({_status(exc)}); "
                    "check the thread for what was done before it.",
                )
        return await self._rolling(action, progress)

    async def _rolling(self, action: Action, progress: Progress) -> ExecutionResult:
        p = action.params
        name, ns = p["service"], self.ns(action)
        image = self.image_template.format(service=name, version=p["version"])
        try:
            before = await self.image_of(name, ns)
            generation = await self._set_image(name, ns, name, image)
            await progress(f"Set {name} to {image} (was {before}).")
            ok, detail = await self._follow(name, ns, generation, progress)
            if ok and self.progressive is not None:
                healthy, verdict = await self.progressive.slo_check(action, progress)
                if not healthy:
                    why = f"SLO breached: {verdict}"
                    if not await self.progressive.allowed(action, "deploy.rollback", why, progress):
                        return ExecutionResult(
                            status="failed",
                            summary=f"{image}: {why}; policy refused the automatic rollback.",
                            details={"from": before, "to": image, "serving": image},
                        )
                    ok, detail = False, why
            if ok:
                return ExecutionResult(
                    status="succeeded",
                    summary=f"{name} is on {image} ({detail}).",
                    details={"from": before, "to": image},
                )
            await progress(f"{detail}; rolling back to {before}.")
            generation = await self._set_image(name, ns, name, before)
            back, back_detail = await self._follow(name, ns, generation, progress)
            state = f"back on {before}" if back else f"rollback not confirmed: {back_detail}"
            return ExecutionResult(
                status="rolled_back" if back else "failed",
                summary=f"{image} failed ({detail}); {name} is {state}.",
                details={"from": before, "to": image, "serving": before},
            )
        except ApiException as exc:
            return ExecutionResult(
                status="failed",
                summary=f"Kubernetes refused the change ({_status(exc)}); "
                f"{name} was left as it was.",
            )

    @writer
    async def rollback(self, action: Action, progress: Progress) -> ExecutionResult:
        name, ns = action.params["service"], self.ns(action)
        try:
            current = await self.image_of(name, ns)
            previous = action.params.get("to_version")
            image = self.image_template.format(service=name, version=previous) if previous else None
            if image is None:
                raise KubernetesError("no earlier version to roll back to")
            generation = await self._set_image(name, ns, name, image)
            await progress(f"Rolling back {name} from {current} to {image}.")
            ok, detail = await self._follow(name, ns, generation, progress)
        except (ApiException, KubernetesError) as exc:
            reason = _status(exc) if isinstance(exc, ApiException) else str(exc)
            return ExecutionResult(status="failed", summary=f"Rollback of {name} failed: {reason}.")
        return ExecutionResult(
            status="succeeded" if ok else "failed",
            summary=f"{name} is back on {image} ({detail})."
            if ok
            else f"Rollback of {name} to {image}: {detail}.",
        )

    # ---- operations (runbook steps) -------------------------------------------------------
    @writer
    async def restart(self, action: Action, progress: Progress) -> ExecutionResult:
        """`kubectl rollout restart`: a new template annotation, so every pod is replaced by
        the Deployment's own rolling update."""
        from datetime import UTC, datetime

        name, ns = action.params["service"], self.ns(action)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {
            "spec": {
                "template": {
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}
                }
            }
        }
        try:
            dep = await self._call(self._apps.patch_namespaced_deployment, name, ns, patch)
            await progress(f"Restarting {name} in {ns}: every pod is replaced, a batch at a time.")
            ok, detail = await self._follow(name, ns, int(dep.metadata.generation), progress)
        except ApiException as exc:
            return ExecutionResult(
                status="failed", summary=f"Restart of {name} refused ({_status(exc)})."
            )
        return ExecutionResult(
            status="succeeded" if ok else "failed",
            summary=f"{name} restarted ({detail})." if ok else f"Restart of {name}: {detail}.",
        )

    @writer
    async def scale(self, action: Action, progress: Progress) -> ExecutionResult:
        name, ns = action.params["service"], self.ns(action)
        replicas = int(action.params["replicas"])
        try:
            before = int((await self.deployment(name, ns)).spec.replicas or 0)
            generation = await self._scale(name, ns, replicas)
            ok, detail = await self._follow(name, ns, generation, progress)
        except ApiException as exc:
            return ExecutionResult(
                status="failed", summary=f"Scaling {name} refused ({_status(exc)})."
            )
        return ExecutionResult(
            status="succeeded" if ok else "failed",
            summary=f"{name} scaled from {before} to {replicas} replicas ({detail})."
            if ok
            else f"Scaling {name} to {replicas}: {detail}.",
        )

    async def _set_paused(self, action: Action, paused: bool) -> None:
        def mutate(dep: Any) -> None:
            dep.spec.paused = paused

        await self._replace(action.params["service"], self.ns(action), mutate)

    @writer
    async def pause(self, action: Action, progress: Progress) -> ExecutionResult:
        await self._set_paused(action, True)
        return ExecutionResult(
            status="succeeded", summary=f"{action.params['service']}'s rollout is paused."
        )

    @writer
    async def resume(self, action: Action, progress: Progress) -> ExecutionResult:
        await self._set_paused(action, False)
        return ExecutionResult(
            status="succeeded", summary=f"{action.params['service']}'s rollout resumed."
        )

    # ---- canary (a CanaryTarget for tools.progressive) ---------------------------------------
    def _image(self, action: Action) -> str:
        p = action.params
        return self.image_template.format(service=p["service"], version=p["version"])

    def _sidecar(self, stable: Any, suffix: str, image: str, replicas: int) -> dict[str, Any]:
        """A Deployment beside the stable one: its pod template with the new image and one more
        label (so its own selector never claims the stable pods)."""
        name = stable.metadata.name
        body: dict[str, Any] = self._serializer.sanitize_for_serialization(stable)
        spec = copy.deepcopy(body["spec"])
        spec.pop("paused", None)
        spec["replicas"] = replicas
        spec.setdefault("selector", {}).setdefault("matchLabels", {})[TRACK] = suffix
        template = spec["template"]
        template.setdefault("metadata", {}).setdefault("labels", {})[TRACK] = suffix
        for container in template["spec"]["containers"]:
            if container["name"] == name:
                container["image"] = image
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": f"{name}-{suffix}",
                "namespace": stable.metadata.namespace,
                "labels": {**(stable.metadata.labels or {}), TRACK: suffix},
                "annotations": {"shipmate.dev/beside": name},
            },
            "spec": spec,
        }

    async def _create_beside(self, stable: Any, suffix: str, image: str, replicas: int) -> None:
        body = self._sidecar(stable, suffix, image, replicas)
        ns = stable.metadata.namespace
        try:
            await self._call(self._apps.create_namespaced_deployment, ns, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            # A leftover from an interrupted run: start it again from our template.
            await self._delete(body["metadata"]["name"], ns)
            await self._call(self._apps.create_namespaced_deployment, ns, body)

    async def _delete(self, name: str, ns: str) -> None:
        try:
            await self._call(self._apps.delete_namespaced_deployment, name, ns)
        except ApiException as exc:
            if exc.status != 404:
                raise

    async def _scale(self, name: str, ns: str, replicas: int) -> int:
        dep = await self._call(
            self._apps.patch_namespaced_deployment, name, ns, {"spec": {"replicas": replicas}}
        )
        return int(dep.metadata.generation)

    async def _ready(self, name: str, ns: str, generation: int, progress: Progress) -> str:
        ok, detail = await self._follow(name, ns, generation, progress)
        if not ok:
            raise RolloutError(f"{name}: {detail}")
        return detail

    async def canary_start(self, action: Action, progress: Progress) -> str:
        name, ns = action.params["service"], self.ns(action)
        stable = await self.deployment(name, ns)
        await self._create_beside(stable, "canary", self._image(action), 0)
        return (
            f"Created {name}-canary ({self._image(action)}) beside {name} "
            f"({stable.spec.replicas} replicas); it takes traffic as it scales."
        )

    async def canary_weight(self, action: Action, weight: int, progress: Progress) -> str:
        name, ns = action.params["service"], self.ns(action)
        stable = int((await self.deployment(name, ns)).spec.replicas or 0)
        # Replica ratio: c / (stable + c) ~ weight, stable capacity untouched.
        canary = max(1, math.ceil(stable * weight / max(1, 100 - weight)))
        generation = await self._scale(f"{name}-canary", ns, canary)
        await self._ready(f"{name}-canary", ns, generation, _quiet)
        share = 100 * canary / (stable + canary)
        pods = f"{canary} canary pod{'s' * (canary != 1)}"
        return f"{pods} beside {stable} stable, {share:.0f}% of traffic"

    async def canary_promote(self, action: Action, progress: Progress) -> str:
        name, ns = action.params["service"], self.ns(action)
        image = self._image(action)
        before = await self.image_of(name, ns)
        generation = await self._set_image(name, ns, name, image)
        ok, detail = await self._follow(name, ns, generation, progress)
        if not ok:
            generation = await self._set_image(name, ns, name, before)
            await self._follow(name, ns, generation, _quiet)
            raise RolloutError(
                f"promoting {name} to {image} stalled ({detail}); it is back on {before}"
            )
        await self._delete(f"{name}-canary", ns)
        return f"{name} runs {image} ({detail}) and {name}-canary is removed"

    async def canary_abort(self, action: Action, progress: Progress) -> str:
        name, ns = action.params["service"], self.ns(action)
        await self._delete(f"{name}-canary", ns)
        image = await self.image_of(name, ns)
        return f"{name}-canary is removed and {name} ({image}) serves all traffic"

    # ---- blue/green (a BlueGreenTarget for tools.progressive) --------------------------------
    async def _pod_hash(self, name: str, ns: str) -> str:
        """The pod-template-hash of a Deployment's newest ReplicaSet."""
        sets = await self._call(self._apps.list_namespaced_replica_set, ns)
        mine = [rs for rs in sets.items if owner(rs) == name]
        if not mine:
            raise RolloutError(f"{name} has no ReplicaSet yet")

        def revision(rs: Any) -> int:
            return int((rs.metadata.annotations or {}).get("deployment.kubernetes.io/revision", 0))

        labels = max(mine, key=revision).metadata.labels or {}
        if "pod-template-hash" not in labels:
            raise RolloutError(f"{name}'s ReplicaSet carries no pod-template-hash label")
        return str(labels["pod-template-hash"])

    async def _select(self, name: str, ns: str, pod_hash: str | None) -> None:
        """Point the Service at one ReplicaSet's pods (None: back to its own selector). The
        original selector is kept in an annotation, so a restart can still restore it."""
        for attempt in range(self.retries + 1):
            svc = await self._call(self._core.read_namespaced_service, name, ns)
            notes = svc.metadata.annotations or {}
            original = json.loads(notes[ORIGINAL_SELECTOR]) if ORIGINAL_SELECTOR in notes else None
            if original is None:
                original = dict(svc.spec.selector or {})
                notes[ORIGINAL_SELECTOR] = json.dumps(original, sort_keys=True)
            if pod_hash is None:
                svc.spec.selector = original
                notes.pop(ORIGINAL_SELECTOR, None)
            else:
                svc.spec.selector = {**original, "pod-template-hash": pod_hash}
            svc.metadata.annotations = notes
            try:
                await self._call(self._core.replace_namespaced_service, name, ns, svc)
                return
            except ApiException as exc:
                if exc.status != 409 or attempt == self.retries:
                    raise

    async def green_up(self, action: Action, progress: Progress) -> str:
        name, ns = action.params["service"], self.ns(action)
        stable = await self.deployment(name, ns)
        replicas = int(stable.spec.replicas or 1)
        await self._select(name, ns, await self._pod_hash(name, ns))  # pin traffic to blue
        await self._create_beside(stable, "green", self._image(action), replicas)
        green = await self.deployment(f"{name}-green", ns)
        detail = await self._ready(f"{name}-green", ns, int(green.metadata.generation), _quiet)
        return f"{name}-green has {detail}; the Service still sends every request to blue"

    async def green_switch(self, action: Action, to_green: bool, progress: Progress) -> str:
        name, ns = action.params["service"], self.ns(action)
        which = f"{name}-green" if to_green else name
        pod_hash = await self._pod_hash(which, ns)
        await self._select(name, ns, pod_hash)
        return f"Service {name} selects {which}'s pods (pod-template-hash {pod_hash})"

    async def green_finish(self, action: Action, progress: Progress) -> str:
        name, ns = action.params["service"], self.ns(action)
        image = self._image(action)
        generation = await self._set_image(name, ns, name, image)
        ok, detail = await self._follow(name, ns, generation, _quiet)
        if not ok:  # green keeps serving; say so rather than guess
            raise RolloutError(f"{name} could not take {image} ({detail}); green keeps serving")
        await self._select(name, ns, None)
        await self._delete(f"{name}-green", ns)
        return (
            f"blue ({name}) now runs {image} too, the Service selector is restored and "
            f"{name}-green is removed"
        )

    async def green_discard(self, action: Action, progress: Progress) -> str:
        name, ns = action.params["service"], self.ns(action)
        await self._select(name, ns, None)
        await self._delete(f"{name}-green", ns)
        return f"{name}-green is removed and blue ({name}) serves all traffic"


async def _quiet(step: object) -> None:
    """A progress sink for sub-steps the thread need not hear one by one."""
