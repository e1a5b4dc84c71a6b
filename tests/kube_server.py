"""A local Kubernetes API server on 127.0.0.1 for the tests, faithful to the parts of the wire
protocol shipmate uses: discovery, apps/v1 Deployments and ReplicaSets, core/v1 Services and
Pods; get/list/create/replace/patch/delete; JSON merge, strategic merge (containers merged by
name, as Kubernetes does) and JSON patch; resourceVersion with 409 on stale replaces; watch
with timeoutSeconds and 410 Gone for a too-old resourceVersion; and a rollout controller that
fills Deployment status step by step and can fail chosen images (ProgressDeadlineExceeded).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.local_http import serve

KINDS = {  # plural -> (api path prefix, kind, apiVersion)
    "deployments": ("/apis/apps/v1", "Deployment", "apps/v1"),
    "replicasets": ("/apis/apps/v1", "ReplicaSet", "apps/v1"),
    "services": ("/api/v1", "Service", "v1"),
    "pods": ("/api/v1", "Pod", "v1"),
}
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ports": "containerPort",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumes": "name",
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
        status=code,
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target: Any, patch: Any, field: str | None = None) -> Any:
    """Kubernetes' strategic merge: lists with a merge key merge element by element."""
    if isinstance(patch, dict):
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if key == "$patch":
                continue
            if value is None:
                result.pop(key, None)
            else:
                result[key] = strategic_merge(result.get(key), value, key)
        return result
    if isinstance(patch, list) and field in MERGE_KEYS and isinstance(target, list):
        key = MERGE_KEYS[field]
        merged = copy.deepcopy(target)
        for item in patch:
            if isinstance(item, dict) and item.get("$patch") == "delete":
                merged = [m for m in merged if m.get(key) != item.get(key)]
                continue
            for i, existing in enumerate(merged):
                if isinstance(item, dict) and existing.get(key) == item.get(key):
                    merged[i] = strategic_merge(existing, item)
                    break
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(patch)


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902 add / replace / remove / test."""
    doc = copy.deepcopy(target)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        if op["op"] in {"add", "replace"}:
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if op["op"] == "add":
                    parent.insert(index, op["value"])
                else:
                    parent[index] = op["value"]
            else:
                if op["op"] == "replace" and last not in parent:
                    raise KeyError(op["path"])
                parent[last] = op["value"]
        elif op["op"] == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        elif op["op"] == "test":
            value = parent[int(last)] if isinstance(parent, list) else parent[last]
            if value != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
    return doc


def template_hash(template: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


class LocalKube:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.failing_images: set[str] = set()
        self.progress_deadline_ticks = 5
        self.step = 1  # replicas updated per controller tick
        self.history: list[tuple[int, str, dict[str, Any]]] = []  # (rv, type, object)
        self.compacted_before = 0  # resourceVersions older than this are "too old" (410)
        self.conflicts_to_inject = 0
        self._rv = itertools.count(1)
        self._stuck: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> LocalKube:
        app = web.Application()
        app.router.add_get("/api", self._core_versions)
        app.router.add_get("/apis", self._groups)
        for prefix in ("/apis/apps/v1", "/api/v1"):
            app.router.add_route("*", prefix + "/namespaces/{ns}/{plural}", self._collection)
            app.router.add_route("*", prefix + "/namespaces/{ns}/{plural}/{name}", self._item)
            app.router.add_route(
                "*", prefix + "/namespaces/{ns}/{plural}/{name}/status", self._item
            )
        self._runner, self.port = await serve(app)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _core_versions(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        )

    async def _groups(self, request: web.Request) -> web.Response:
        version = {"groupVersion": "apps/v1", "version": "v1"}
        return web.json_response(
            {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [{"name": "apps", "versions": [version], "preferredVersion": version}],
            }
        )

    # ---- storage --------------------------------------------------------------------------
    async def _record(self, kind_type: str, obj: dict[str, Any]) -> None:
        self.history.append(
            (int(obj["metadata"]["resourceVersion"]), kind_type, copy.deepcopy(obj))
        )
        async with self._changed:
            self._changed.notify_all()

    def _stamp(self, plural: str, obj: dict[str, Any], previous: dict[str, Any] | None) -> None:
        _, kind, api_version = KINDS[plural]
        obj["kind"], obj["apiVersion"] = kind, api_version
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self._rv))
        if previous is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", _now())
            meta["generation"] = 1
        else:
            meta["uid"] = previous["metadata"]["uid"]
            meta["creationTimestamp"] = previous["metadata"]["creationTimestamp"]
            spec_changed = obj.get("spec") != previous.get("spec")
            meta["generation"] = previous["metadata"].get("generation", 1) + int(spec_changed)

    async def put(self, plural: str, ns: str, obj: dict[str, Any]) -> dict[str, Any]:
        key = (plural, ns, obj["metadata"]["name"])
        previous = self.objects.get(key)
        self._stamp(plural, obj, previous)
        if plural == "deployments" and previous is None and not obj.get("status"):
            # A deployment the test creates has been running a while: settled.
            want = int(obj.get("spec", {}).get("replicas", 1))
            obj["status"] = {
                "observedGeneration": 1,
                "replicas": want,
                "updatedReplicas": want,
                "readyReplicas": want,
                "availableReplicas": want,
            }
        elif plural == "deployments":
            obj.setdefault("status", previous.get("status", {}) if previous else {})
        self.objects[key] = obj
        await self._record("MODIFIED" if previous else "ADDED", obj)
        if plural == "deployments":
            await self._reconcile(ns, obj)
        return obj

    # ---- handlers -------------------------------------------------------------------------
    async def _collection(self, request: web.Request) -> web.StreamResponse:
        plural, ns = request.match_info["plural"], request.match_info["ns"]
        if plural not in KINDS:
            return status(404, "NotFound", f"the server could not find the resource {plural}")
        if request.method == "POST":
            body = await request.json()
            name = body.get("metadata", {}).get("name")
            if not name:
                return status(422, "Invalid", "metadata.name: Required value")
            if (plural, ns, name) in self.objects:
                return status(409, "AlreadyExists", f'{plural} "{name}" already exists')
            return web.json_response(await self.put(plural, ns, body), status=201)
        if request.method != "GET":
            return status(405, "MethodNotAllowed", request.method)
        # Go's strconv.ParseBool, as the API server reads it (clients send "true" or "True").
        if request.query.get("watch", "") in {"1", "t", "T", "true", "True", "TRUE"}:
            return await self._watch(request, plural, ns)
        selector = request.query.get("labelSelector")
        items = [
            o
            for (p, n, _), o in sorted(self.objects.items())
            if p == plural and n == ns and _selected(o, selector)
        ]
        _, kind, api_version = KINDS[plural]
        rv = str(
            max((int(o["metadata"]["resourceVersion"]) for o in self.objects.values()), default=0)
        )
        return web.json_response(
            {
                "kind": kind + "List",
                "apiVersion": api_version,
                "metadata": {"resourceVersion": rv},
                "items": items,
            }
        )

    async def _item(self, request: web.Request) -> web.Response:
        plural, ns, name = (request.match_info[k] for k in ("plural", "ns", "name"))
        key = (plural, ns, name)
        current = self.objects.get(key)
        if plural not in KINDS:
            return status(404, "NotFound", f"the server could not find the resource {plural}")
        if current is None and request.method != "PUT":
            return status(404, "NotFound", f'{plural} "{name}" not found')
        if request.method == "GET":
            return web.json_response(current)
        if request.method == "DELETE":
            del self.objects[key]
            await self._record("DELETED", current)  # type: ignore[arg-type]
            if plural == "deployments":  # the garbage collector takes what it owned
                for owned in [
                    k
                    for k, o in self.objects.items()
                    if k[0] == "replicasets" and k[1] == ns and _owner(o) == name
                ]:
                    await self._record("DELETED", self.objects.pop(owned))
            return web.json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Success",
                    "details": {"name": name, "kind": plural},
                }
            )
        body = await request.json()
        if request.method == "PUT":
            sent_rv = body.get("metadata", {}).get("resourceVersion")
            if self.conflicts_to_inject > 0 or (
                current is not None
                and sent_rv
                and sent_rv != current["metadata"]["resourceVersion"]
            ):
                self.conflicts_to_inject = max(0, self.conflicts_to_inject - 1)
                return status(
                    409,
                    "Conflict",
                    f"Operation cannot be fulfilled on {plural} "
                    f'"{name}": the object has been modified; please apply your '
                    "changes to the latest version and try again",
                )
            if request.path.endswith("/status") and current is not None:
                body = {**current, "status": body.get("status", {})}
            return web.json_response(await self.put(plural, ns, body))
        if request.method == "PATCH":
            ctype = request.content_type
            try:
                if ctype == "application/strategic-merge-patch+json":
                    patched = strategic_merge(current, body)
                elif ctype == "application/merge-patch+json":
                    patched = merge_patch(current, body)
                elif ctype == "application/json-patch+json":
                    patched = json_patch(current, body)
                else:
                    return status(415, "UnsupportedMediaType", f"unsupported patch {ctype}")
            except (KeyError, IndexError, ValueError) as exc:
                return status(422, "Invalid", f"the patch could not be applied: {exc}")
            patched["metadata"]["name"] = name
            return web.json_response(await self.put(plural, ns, patched))
        return status(405, "MethodNotAllowed", request.method)

    async def _watch(self, request: web.Request, plural: str, ns: str) -> web.StreamResponse:
        since = int(request.query.get("resourceVersion") or 0)
        timeout = float(request.query.get("timeoutSeconds") or 30)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        if since and since < self.compacted_before:
            gone = {
                "type": "ERROR",
                "object": {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "Expired",
                    "message": f"too old resource version: {since}",
                    "code": 410,
                },
            }
            await response.write((json.dumps(gone) + "\n").encode())
            return response
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        sent = since
        while loop.time() < deadline:
            for rv, event_type, obj in self.history:
                if (
                    rv > sent
                    and obj["kind"] == KINDS[plural][1]
                    and obj["metadata"].get("namespace", ns) == ns
                ):
                    await response.write(
                        (json.dumps({"type": event_type, "object": obj}) + "\n").encode()
                    )
                    sent = rv
            sent = max([sent, *(rv for rv, _, _ in self.history)])
            try:
                async with self._changed:
                    await asyncio.wait_for(self._changed.wait(), max(0.01, deadline - loop.time()))
            except TimeoutError:
                break
        return response

    # ---- the rollout controller -------------------------------------------------------------
    async def _reconcile(self, ns: str, deployment: dict[str, Any]) -> None:
        """Keep one ReplicaSet per pod template, newest revision on top. Like Kubernetes, the
        ReplicaSet is owned by its Deployment (ownerReferences) and it and its pods carry the
        template's labels plus `pod-template-hash`."""
        template = deployment["spec"]["template"]
        name = deployment["metadata"]["name"]
        pod_hash = template_hash(template)
        rs_name = f"{name}-{pod_hash}"
        if ("replicasets", ns, rs_name) not in self.objects:
            revisions = [
                int(
                    o["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", 0)
                )
                for (p, n, _), o in self.objects.items()
                if p == "replicasets" and n == ns and _owner(o) == name
            ]
            labels = {
                **template.get("metadata", {}).get("labels", {}),
                "pod-template-hash": pod_hash,
            }
            selector = copy.deepcopy(deployment["spec"].get("selector", {}))
            selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {})["labels"] = labels
            rs = {
                "metadata": {
                    "name": rs_name,
                    "namespace": ns,
                    "labels": labels,
                    "annotations": {
                        "deployment.kubernetes.io/revision": str(max(revisions, default=0) + 1)
                    },
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": name,
                            "uid": deployment["metadata"]["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {"replicas": 0, "selector": selector, "template": rs_template},
                "status": {"replicas": 0},
            }
            await self.put("replicasets", ns, rs)

    async def tick(self) -> None:
        """One controller step for every deployment: move one batch to the new template."""
        for (plural, ns, name), dep in list(self.objects.items()):
            if plural != "deployments" or dep["spec"].get("paused"):
                continue
            spec, st = dep["spec"], dict(dep.get("status") or {})
            want = int(spec.get("replicas", 1))
            images = [c.get("image", "") for c in spec["template"]["spec"]["containers"]]
            generation = dep["metadata"]["generation"]
            if st.get("observedGeneration") != generation:
                st.update(observedGeneration=generation, updatedReplicas=0)
                self._stuck.pop(name, None)
            updated = int(st.get("updatedReplicas", 0))
            failing = any(i in self.failing_images for i in images)
            conditions = {c["type"]: c for c in st.get("conditions", [])}
            if failing:
                self._stuck[name] = self._stuck.get(name, 0) + 1
                if self._stuck[name] >= self.progress_deadline_ticks:
                    conditions["Progressing"] = {
                        "type": "Progressing",
                        "status": "False",
                        "reason": "ProgressDeadlineExceeded",
                        "message": f'ReplicaSet "{name}" has timed out progressing.',
                    }
                else:
                    conditions["Progressing"] = {
                        "type": "Progressing",
                        "status": "True",
                        "reason": "ReplicaSetUpdated",
                    }
            elif updated < want:
                updated = min(want, updated + self.step)
                conditions["Progressing"] = {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "ReplicaSetUpdated" if updated < want else "NewReplicaSetAvailable",
                }
            else:
                conditions["Progressing"] = {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                }
            conditions["Available"] = {
                "type": "Available",
                "status": "True" if updated == want else "False",
            }
            new = {
                **st,
                "replicas": want,
                "updatedReplicas": updated,
                "readyReplicas": want if not failing else want - 1,
                "availableReplicas": want if not failing else want - 1,
                "conditions": list(conditions.values()),
            }
            if new != dep.get("status"):
                dep = {**dep, "status": new}
                self.objects[(plural, ns, name)] = dep
                dep["metadata"]["resourceVersion"] = str(next(self._rv))
                await self._record("MODIFIED", dep)

    async def run_controller(self, every: float = 0.02) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(every)


def _owner(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences", []):
        if ref.get("controller"):
            return str(ref.get("name"))
    return None


def _selected(obj: dict[str, Any], selector: str | None) -> bool:
    if not selector:
        return True
    labels = obj.get("metadata", {}).get("labels", {})
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True
