"""The fake HubEE's OAuth2 client-credentials endpoint and the gateway's bearer-token check."""

from __future__ import annotations

import httpx
import pytest

from aiguilleur.fakes.hubee import FakeHubee, Subscription
from tests.conftest import Clock
from tests.fakes.hubee.conftest import Api


def test_token_is_issued_for_basic_credentials_and_a_form_body(si: Api) -> None:
    response = si.fetch_token()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "SI"
    assert body["access_token"]
    assert response.headers["Cache-Control"] == "no-store"


def test_token_accepts_credentials_in_the_form_body(http: httpx.Client, etatcivil: Subscription) -> None:
    data = {
        "grant_type": "client_credentials",
        "scope": "SI",
        "client_id": etatcivil.client_id,
        "client_secret": etatcivil.client_secret,
    }
    assert http.post("/oauth2/token", data=data).status_code == 200


VALID = ("EtatCivil-21060088800015-06088", "use the real secret")
GRANT = {"grant_type": "client_credentials", "scope": "SI"}


@pytest.mark.parametrize(
    ("auth", "data", "status", "error"),
    [
        pytest.param(
            ("EtatCivil-21060088800015-06088", "wrong"), GRANT, 401, "invalid_client", id="bad-secret"
        ),
        pytest.param(("nobody", "x"), GRANT, 401, "invalid_client", id="unknown-client"),
        pytest.param(None, GRANT, 401, "invalid_client", id="no-credentials"),
        pytest.param(
            VALID, {"grant_type": "password", "scope": "SI"}, 400, "unsupported_grant_type", id="grant"
        ),
        pytest.param(VALID, {"scope": "SI"}, 400, "unsupported_grant_type", id="no-grant"),
    ],
)
def test_token_refusals(
    http: httpx.Client,
    etatcivil: Subscription,
    auth: tuple[str, str] | None,
    data: dict[str, str],
    status: int,
    error: str,
) -> None:
    if auth == VALID:
        auth = (etatcivil.client_id, etatcivil.client_secret)
    response = http.post("/oauth2/token", auth=auth, data=data)
    assert response.status_code == status
    assert response.json()["error"] == error


def test_token_refuses_a_json_body(http: httpx.Client, etatcivil: Subscription) -> None:
    response = http.post(
        "/oauth2/token",
        auth=(etatcivil.client_id, etatcivil.client_secret),
        json={"grant_type": "client_credentials", "scope": "SI"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_token_without_the_si_scope_opens_nothing(http: httpx.Client, etatcivil: Subscription) -> None:
    api = Api(http, etatcivil, scope="OSL").login()
    assert api.get("/notifications").status_code == 403


def test_api_without_token_is_401_missing_credentials(http: httpx.Client) -> None:
    response = http.get("/teledossiers/v1/notifications")
    assert response.status_code == 401
    assert response.json()["fault"]["code"] == 900902


def test_api_with_unknown_token_is_401_invalid_credentials(http: httpx.Client) -> None:
    response = http.get("/teledossiers/v1/notifications", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401
    assert response.json()["fault"]["code"] == 900901
    assert "invalid_token" in response.headers["WWW-Authenticate"]


def test_token_expires_on_the_clock(si: Api, clock: Clock) -> None:
    si.login()
    clock.advance(3599)
    assert si.get("/notifications").status_code == 200
    clock.advance(1)
    expired = si.get("/notifications")
    assert expired.status_code == 401
    assert expired.json()["fault"]["code"] == 900901
    assert si.login().get("/notifications").status_code == 200


def test_token_lifetime_is_configurable(clock: Clock, http: httpx.Client) -> None:
    world = FakeHubee(now=clock, token_lifetime_s=60)
    sub = world.add_subscription("EtatCivil")
    with httpx.Client(transport=httpx.MockTransport(world), base_url="https://x") as client:
        api = Api(client, sub)
        assert api.fetch_token().json()["expires_in"] == 60
        api.login()
        clock.advance(60)
        assert api.get("/notifications").status_code == 401


def test_token_endpoint_also_answers_on_the_legacy_path(http: httpx.Client, etatcivil: Subscription) -> None:
    response = http.post(
        "/token",
        auth=(etatcivil.client_id, etatcivil.client_secret),
        data={"grant_type": "client_credentials", "scope": "SI"},
    )
    assert response.status_code == 200


def test_subscriptions_are_unique_by_client_id(hubee: FakeHubee, etatcivil: Subscription) -> None:
    with pytest.raises(ValueError, match="already registered"):
        hubee.add_subscription("EtatCivil")
