"""A local PagerDuty on 127.0.0.1 over HTTPS (a `trustme` CA; the `pagerduty` client refuses
plain http), speaking REST API v2 as the real one does for what shipmate uses: token auth,
the v2 Accept header, the `From` header on writes (a known user's email, else 400 with
PagerDuty's error 2001), wrapped entities (`{"incident": {...}}`), classic offset pagination
(`limit`, `offset`, `more`, `total`), 429 with Retry-After on demand, and Events API v2
(`/v2/enqueue`)."""

from __future__ import annotations

import itertools
import ssl
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

from tests.local_http import serve

API_KEY = "u+pd-test-token"
USERS = {
    "PBOB001": {"id": "PBOB001", "type": "user", "summary": "Bob", "email": "bob@example.com"},
    "PDAVE01": {"id": "PDAVE01", "type": "user", "summary": "Dave", "email": "dave@example.com"},
    "PALICE1": {"id": "PALICE1", "type": "user", "summary": "Alice", "email": "alice@example.com"},
}


def _error(status: int, code: int, message: str, errors: list[str] | None = None) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "code": code, "errors": errors or []}}, status=status
    )


class LocalPagerDuty:
    def __init__(self, ca_dir: Path) -> None:
        self.ca = trustme.CA()
        self.ca_path = ca_dir / "pd-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        self.incidents: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, list[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers
        self.oncall_users = ["PBOB001", "PDAVE01"]
        self.throttle = 0  # answer this many requests with 429 first
        self.down = False  # answer everything with 503
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def start(self) -> LocalPagerDuty:
        app = web.Application(middlewares=[self._gate])
        app.router.add_post("/incidents", self._create)
        app.router.add_get("/incidents", self._list)
        app.router.add_put("/incidents/{id}", self._update)
        app.router.add_post("/incidents/{id}/notes", self._note)
        app.router.add_get("/oncalls", self._oncalls)
        app.router.add_post("/v2/enqueue", self._enqueue)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1").configure_cert(context)
        self._runner, self.port = await serve(app, ssl_context=context)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path, dict(request.headers)))
        if self.down:
            return _error(503, 5001, "Service Unavailable")
        if self.throttle > 0:
            self.throttle -= 1
            return web.json_response(
                {"error": {"message": "Rate Limit Exceeded", "code": 2020}},
                status=429,
                headers={"Retry-After": "0"},
            )
        if request.path == "/v2/enqueue":
            return await handler(request)
        if request.headers.get("Authorization") != f"Token token={API_KEY}":
            return _error(401, 2006, "You must authenticate", ["Invalid credentials"])
        if request.headers.get("Accept") != "application/vnd.pagerduty+json;version=2":
            return _error(406, 2001, "Not Acceptable")
        if request.method in {"POST", "PUT"}:
            sender = request.headers.get("From", "").lower()
            if not any(u["email"] == sender for u in USERS.values()):
                return _error(
                    400,
                    2001,
                    "Invalid Input Provided",
                    [
                        'You must specify a user\'s email address in the "From" header to '
                        "perform this action"
                    ],
                )
        return await handler(request)

    def _page(self, request: web.Request, items: list[Any], key: str) -> web.Response:
        limit = min(int(request.query.get("limit", 25)), 100)
        offset = int(request.query.get("offset", 0))
        chunk = items[offset : offset + limit]
        return web.json_response(
            {
                key: chunk,
                "limit": limit,
                "offset": offset,
                "more": offset + limit < len(items),
                "total": len(items),
            }
        )

    async def _create(self, request: web.Request) -> web.Response:
        body = (await request.json()).get("incident")
        if not isinstance(body, dict) or body.get("type") != "incident" or not body.get("title"):
            return _error(400, 2001, "Invalid Input Provided", ["incident.title is required"])
        if not (body.get("service") or {}).get("id"):
            return _error(400, 2001, "Invalid Input Provided", ["Service must be present"])
        n = next(self._ids)
        incident = {
            "id": f"Q{n:06d}",
            "type": "incident",
            "incident_number": n,
            "title": body["title"],
            "status": "triggered",
            "urgency": body.get("urgency", "high"),
            "incident_key": body.get("incident_key"),
            "service": {"id": body["service"]["id"], "type": "service_reference"},
            "html_url": f"https://acme.pagerduty.com/incidents/Q{n:06d}",
        }
        self.incidents[incident["id"]] = incident
        return web.json_response({"incident": incident}, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        statuses = request.query.getall("statuses[]", [])
        items = [i for i in self.incidents.values() if not statuses or i["status"] in statuses]
        return self._page(request, items, "incidents")

    async def _update(self, request: web.Request) -> web.Response:
        incident = self.incidents.get(request.match_info["id"])
        if incident is None:
            return _error(404, 2100, "Not Found")
        body = (await request.json()).get("incident") or {}
        if body.get("status") not in {"acknowledged", "resolved"}:
            return _error(400, 2001, "Invalid Input Provided", ["status is invalid"])
        incident["status"] = body["status"]
        return web.json_response({"incident": incident})

    async def _note(self, request: web.Request) -> web.Response:
        if request.match_info["id"] not in self.incidents:
            return _error(404, 2100, "Not Found")
        body = (await request.json()).get("note") or {}
        if not body.get("content"):
            return _error(400, 2001, "Invalid Input Provided", ["content is required"])
        note = {
            "id": f"N{next(self._ids)}",
            "content": body["content"],
            "user": {"summary": request.headers.get("From")},
        }
        self.notes.setdefault(request.match_info["id"], []).append(note)
        return web.json_response({"note": note}, status=201)

    async def _oncalls(self, request: web.Request) -> web.Response:
        full = "users" in request.query.getall("include[]", [])
        items = []
        for level, user_id in enumerate(self.oncall_users, start=1):
            user = (
                USERS[user_id]
                if full
                else {k: USERS[user_id][k] for k in ("id", "type", "summary")}
            )
            items.append(
                {
                    "user": user,
                    "escalation_level": level,
                    "escalation_policy": {"id": "PEP0001", "type": "escalation_policy_reference"},
                }
            )
        return self._page(request, items, "oncalls")

    async def _enqueue(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not body.get("routing_key") or body.get("event_action") not in {
            "trigger",
            "acknowledge",
            "resolve",
        }:
            return web.json_response(
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": ["'routing_key' and a valid 'event_action' are required"],
                },
                status=400,
            )
        self.events.append(body)
        return web.json_response(
            {
                "status": "success",
                "message": "Event processed",
                "dedup_key": body.get("dedup_key") or f"d{len(self.events)}",
            },
            status=202,
        )
