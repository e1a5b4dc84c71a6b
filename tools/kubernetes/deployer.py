"""Kubernetes as a deploy target, with the official `kubernetes` client (synchronous, so every
call runs in a worker thread): set a container's image by strategic merge patch (other
containers, ports and env untouched), follow the rollout to completion or its progress
deadline, roll back to the previous revision's template, pause and resume; replaces that meet
a 409 are retried from a fresh read.

The writer methods run only inside the Gate (tools.guard)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from bot.models import Action, ExecutionResult
from bot.ports import Progress
from tools.guard import writer


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
        p = action.params
        name, ns = p["service"], self.ns(action)
        image = self.image_template.format(service=name, version=p["version"])
        try:
            before = await self.image_of(name, ns)
            generation = await self._set_image(name, ns, name, image)
            await progress(f"Set {name} to {image} (was {before}).")
            ok, detail = await self._follow(name, ns, generation, progress)
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
