"""PagerDuty through its maintained client, `pagerduty` (RestApiV2Client; the successor of
pdpyras): create, acknowledge, resolve and annotate incidents, list them, and who is on call
(the escalation policies' on-call entries, paginated). The client retries 429s and 5xx with
growing pauses; we bound the retries so a PagerDuty outage ends in an error the desk reports
(it never holds the war room). The client is synchronous: every call runs in a thread."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

import pagerduty

from bot.incidents import Incident

URGENCY = {"sev1": "high", "sev2": "high", "sev3": "low", "sev4": "low"}


class PagerDutyError(Exception):
    pass


class PagerDutyPager:
    name = "pagerduty"

    def __init__(
        self,
        api_key: str,
        *,
        from_email: str,
        service_id: str,
        escalation_policy_ids: list[str],
        people: dict[str, str],
        base_url: str | None = None,
        verify: str | bool = True,
        retries: int = 4,
        pause_seconds: float = 1.5,
        routing_key: str | None = None,
        events_url: str | None = None,
    ) -> None:
        # The client is an HTTPX client: TLS trust is given when it is made (a private CA as
        # an SSL context), never by the environment.
        tls = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        try:
            self.client = pagerduty.RestApiV2Client(
                api_key, default_from=from_email, base_url=base_url, verify=tls, trust_env=False
            )
        except pagerduty.UrlError as exc:  # e.g. a plain-http URL: the client refuses it
            raise PagerDutyError(f"PagerDuty API URL refused: {exc}") from None
        # Bounded: 429s are otherwise retried without limit, and a 5xx storm would hang us.
        self.client.retry[429] = retries
        for status in (500, 502, 503, 504):
            self.client.retry[status] = retries
        self.client.max_http_attempts = retries + 1
        self.client.sleep_timer = pause_seconds
        # With a routing key, paging is an Events API v2 trigger (dedup key = the incident),
        # the integration most teams already route alerts through.
        self.events = None
        if routing_key:
            self.events = pagerduty.EventsApiV2Client(
                routing_key, base_url=events_url, verify=tls, trust_env=False
            )
            self.events.retry[429] = retries
            self.events.max_http_attempts = retries + 1
            self.events.sleep_timer = pause_seconds
        self.from_email = from_email
        self.service_id = service_id
        self.escalation_policy_ids = escalation_policy_ids
        self.people = people  # email -> directory name

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except pagerduty.Error as exc:
            response = getattr(exc, "response", None)
            headers = kwargs.get("headers") or {}
            if (
                response is not None
                and response.status_code == 400
                and "From" in response.text
                and headers.get("From") not in (None, self.from_email)
            ):
                # The acting person is not a PagerDuty user: act as shipmate's own user.
                return await self._call(fn, *args, **{**kwargs, "headers": {}})
            status = getattr(response, "status_code", "?")
            detail = ""
            if response is not None:
                try:
                    detail = str(response.json().get("error", {}).get("message", ""))
                except ValueError:
                    detail = response.text[:200]
            raise PagerDutyError(f"PagerDuty answered {status}: {detail or exc}") from None

    def _from(self, by: str) -> dict[str, str]:
        """The `From` header names the acting PagerDuty user (by email)."""
        email = next((e for e, n in self.people.items() if n == by), self.from_email)
        return {"From": email}

    async def trigger(self, incident: Incident) -> str | None:
        if self.events is not None:
            key = await self._call(
                self.events.trigger,
                f"{incident.id}: {incident.title}",
                incident.service or "shipmate",
                dedup_key=f"shipmate-{incident.id}",
                severity={"sev1": "critical", "sev2": "error", "sev3": "warning"}.get(
                    incident.severity, "info"
                ),
                custom_details={"declared_by": incident.declared_by},
            )
            return f"event:{key}"
        body = {
            "type": "incident",
            "title": f"{incident.id}: {incident.title}",
            "service": {"id": self.service_id, "type": "service_reference"},
            "urgency": URGENCY[incident.severity],
            "incident_key": f"shipmate-{incident.id}",
            "body": {
                "type": "incident_body",
                "details": f"{incident.severity.upper()} declared by {incident.declared_by} in "
                f"shipmate; war room {incident.channel_name or 'opening'}.",
            },
        }
        created = await self._call(
            self.client.rpost, "incidents", json=body, headers=self._from(incident.declared_by)
        )
        return str(created["id"])

    async def _status(self, pagerduty_id: str, status: str, by: str) -> None:
        if pagerduty_id.startswith("event:") and self.events is not None:
            action = self.events.acknowledge if status == "acknowledged" else self.events.resolve
            await self._call(action, pagerduty_id.removeprefix("event:"))
            return
        await self._call(
            self.client.rput,
            f"incidents/{pagerduty_id}",
            json={"type": "incident_reference", "status": status},
            headers=self._from(by),
        )

    async def acknowledge(self, pagerduty_id: str, by: str) -> None:
        await self._status(pagerduty_id, "acknowledged", by)

    async def resolve(self, pagerduty_id: str, by: str) -> None:
        await self._status(pagerduty_id, "resolved", by)

    async def note(self, pagerduty_id: str, text: str, by: str) -> None:
        if pagerduty_id.startswith("event:"):
            return  # an Events API alert has no notes; the timeline keeps it
        await self._call(
            self.client.rpost,
            f"incidents/{pagerduty_id}/notes",
            json={"content": text},
            headers=self._from(by),
        )

    async def incidents(self, statuses: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call(
            self.client.list_all, "incidents", params={"statuses[]": statuses}
        )
        return found

    async def oncall(self, service: str | None) -> list[str]:
        """Who is on call now for the configured escalation policies, as directory names
        (people PagerDuty knows but the directory does not are left out of invites)."""
        entries: list[dict[str, Any]] = await self._call(
            self.client.list_all,
            "oncalls",
            params={
                "escalation_policy_ids[]": self.escalation_policy_ids,
                "include[]": ["users"],
                "earliest": "true",
            },
        )
        names = []
        for entry in entries:
            user = entry.get("user") or {}
            email = str(user.get("email", "")).lower()
            name = self.people.get(email)
            if name and name not in names:
                names.append(name)
        return names

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)
        if self.events is not None:
            await asyncio.to_thread(self.events.close)
