"""Fixtures for the fake HubEE: a world on the fixed clock, credentials, a small API client.

The client here is deliberately naive (one method per call, no retry): it exercises the fake, it is not
the hub's HubEE connector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiguilleur.fakes.hubee import FakeHubee, OrgId, Subscription
from tests.conftest import Clock
from tests.fakes.hubee.openapi import OpenApi

JDD = Path(__file__).resolve().parents[4] / "shared" / "data" / "hubee" / "jdd"
API = "/teledossiers/v1"
PARTNER = {"editorName": "COMMUNE DE NICE", "applicationName": "aiguilleur", "softwareVersion": "0.1.0"}
CANNES = OrgId("SI", "21060029200012", "06029")


class Api:
    """Token + calls for one credential pair, through any httpx transport."""

    def __init__(self, client: httpx.Client, sub: Subscription, scope: str | None = None) -> None:
        self.client = client
        self.sub = sub
        self.scope = scope or sub.role
        self.token: str | None = None

    def fetch_token(self) -> httpx.Response:
        return self.client.post(
            "/oauth2/token",
            auth=(self.sub.client_id, self.sub.client_secret),
            data={"grant_type": "client_credentials", "scope": self.scope},
        )

    def login(self) -> Api:
        response = self.fetch_token()
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        if self.token is None:
            self.login()
        return {"Authorization": f"Bearer {self.token}", **PARTNER, **(extra or {})}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = self.headers(kwargs.pop("headers", None))
        return self.client.request(method, API + path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def notifications(self, **params: Any) -> list[dict[str, Any]]:
        response = self.get("/notifications", params=params)
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        return body

    def status_event(self, case_id: str, status: str, **fields: Any) -> httpx.Response:
        body = {
            "actionType": "STATUS_UPDATE",
            "notification": True,
            "author": "Mairie",
            "caseNewStatus": status,
        }
        return self.post(f"/cases/{case_id}/events", json={**body, **fields})


class Sleeps:
    """The world's sleep hook in unit tests: records the delays, never sleeps."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def hubee(clock: Clock, sleeps: Sleeps) -> FakeHubee:
    world = FakeHubee(now=clock, sleep=sleeps)
    world.samples_dir = JDD
    return world


@pytest.fixture
def responses_seen() -> list[tuple[httpx.Request, httpx.Response]]:
    return []


@pytest.fixture
def transport(
    hubee: FakeHubee, responses_seen: list[tuple[httpx.Request, httpx.Response]]
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        response = hubee(request)
        response.read()
        responses_seen.append((request, response))
        return response

    return httpx.MockTransport(handler)


@pytest.fixture
def http(transport: httpx.MockTransport) -> Iterator[httpx.Client]:
    with httpx.Client(transport=transport, base_url="https://api.hubee.test") as client:
        yield client


@pytest.fixture
def etatcivil(hubee: FakeHubee) -> Subscription:
    return hubee.add_subscription("EtatCivil")


@pytest.fixture
def si(http: httpx.Client, etatcivil: Subscription) -> Api:
    return Api(http, etatcivil)


@pytest.fixture
def osl_sub(hubee: FakeHubee) -> Subscription:
    return hubee.add_osl_client()


@pytest.fixture
def osl(http: httpx.Client, osl_sub: Subscription) -> Api:
    return Api(http, osl_sub)


@pytest.fixture
def api_for(http: httpx.Client) -> Callable[[Subscription], Api]:
    return lambda sub: Api(http, sub)


@pytest.fixture(scope="session")
def openapi() -> OpenApi:
    return OpenApi()
