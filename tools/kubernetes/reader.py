"""What runs where on Kubernetes, for skills: one Deployment per service (named after it, its
main container too), one namespace per environment; the version is the image tag."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from bot.ports import ChangeInfo, ServiceState


def tag(image: str) -> str:
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"


def owner(obj: Any) -> str | None:
    """The name of the object's controller (a ReplicaSet's Deployment)."""
    for ref in obj.metadata.owner_references or []:
        if ref.controller:
            return str(ref.name)
    return None


class KubernetesReader:
    def __init__(
        self, api_client: k8s.ApiClient, *, namespaces: dict[str, str], catalog: dict[str, int]
    ) -> None:
        self._apps = k8s.AppsV1Api(api_client)
        self.namespaces = namespaces  # environment -> namespace
        self.catalog = catalog  # service -> tier

    async def service(self, name: str, environment: str) -> ServiceState | None:
        namespace = self.namespaces.get(environment)
        if namespace is None or name not in self.catalog:
            return None
        try:
            dep = await asyncio.to_thread(self._apps.read_namespaced_deployment, name, namespace)
            sets = await asyncio.to_thread(self._apps.list_namespaced_replica_set, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return self._state(name, environment, dep, sets.items)

    async def services(self) -> list[ServiceState]:
        found = []
        for environment in self.namespaces:
            for name in sorted(self.catalog):
                state = await self.service(name, environment)
                if state is not None:
                    found.append(state)
        return found

    async def change(self, name: str, from_version: str, to_version: str) -> ChangeInfo | None:
        return None  # the CI knows the change; a cluster does not

    def _state(self, name: str, environment: str, dep: Any, sets: list[Any]) -> ServiceState:
        container = next(
            (c for c in dep.spec.template.spec.containers if c.name == name),
            dep.spec.template.spec.containers[0],
        )
        mine = [rs for rs in sets if owner(rs) == name]

        def revision(rs: Any) -> int:
            return int((rs.metadata.annotations or {}).get("deployment.kubernetes.io/revision", 0))

        older = sorted(
            (rs for rs in mine if rs.spec.template.spec.containers[0].image != container.image),
            key=revision,
        )
        previous = tag(older[-1].spec.template.spec.containers[0].image) if older else None
        st = dep.status
        want = dep.spec.replicas or 0
        settled = (
            (st.observed_generation or 0) >= (dep.metadata.generation or 0)
            and (st.updated_replicas or 0) >= want
            and (st.available_replicas or 0) >= want
        )
        status = (
            "paused"
            if dep.spec.paused
            else "stable"
            if settled
            else (f"rolling {st.updated_replicas or 0}/{want}")
        )
        return ServiceState(
            service=name,
            environment=environment,
            tier=self.catalog[name],
            version=tag(container.image),
            previous_version=previous,
            replicas=want,
            status=status,
            updated_at=datetime.now(UTC),
            health=None,
            target="kubernetes",
        )
