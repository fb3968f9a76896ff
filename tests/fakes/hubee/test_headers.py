"""The partner headers (editorName, applicationName, softwareVersion), the request log, routing errors."""

from __future__ import annotations

import httpx

from aiguilleur.fakes.hubee import FakeHubee
from aiguilleur.fakes.hubee.model import PartnerInfo
from tests.conftest import Clock
from tests.fakes.hubee.conftest import PARTNER, Api


def test_requests_are_logged_with_client_and_partner_headers(hubee: FakeHubee, si: Api) -> None:
    si.notifications()
    seen = hubee.requests[-1]
    assert (seen.method, seen.path, seen.client_id) == (
        "GET",
        "/teledossiers/v1/notifications",
        si.sub.client_id,
    )
    assert seen.partner_info == PartnerInfo("COMMUNE DE NICE", "aiguilleur", "0.1.0")


def test_partner_headers_are_optional_by_default(hubee: FakeHubee, si: Api) -> None:
    si.login()
    response = si.client.get(
        "/teledossiers/v1/notifications", headers={"Authorization": f"Bearer {si.token}"}
    )
    assert response.status_code == 200
    assert hubee.requests[-1].partner_info == PartnerInfo()


def test_partner_headers_longer_than_50_are_refused(si: Api) -> None:
    response = si.get("/notifications", headers={"editorName": "X" * 51})
    assert response.status_code == 400
    assert "@header.editorName" in response.json()["errors"][0]["message"]


def test_partner_headers_can_be_required(clock: Clock) -> None:
    world = FakeHubee(now=clock, require_partner_headers=True)
    sub = world.add_subscription("EtatCivil")
    with httpx.Client(transport=httpx.MockTransport(world), base_url="https://x") as client:
        api = Api(client, sub).login()
        bare = client.get("/teledossiers/v1/notifications", headers={"Authorization": f"Bearer {api.token}"})
        assert bare.status_code == 400
        assert "Header parameter 'editorName' is required" in bare.json()["errors"][0]["message"]
        assert api.get("/notifications").status_code == 200
        assert set(PARTNER) == {"editorName", "applicationName", "softwareVersion"}


def test_unknown_resource_is_the_gateway_404(si: Api) -> None:
    response = si.get("/dossiers")
    assert response.status_code == 404
    assert response.json()["fault"]["description"] == "No matching resource found for given API Request"
    assert si.client.get("/autre/chose").status_code == 404


def test_wrong_method_is_405(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    assert si.put(f"/cases/{case.id}", json={}).status_code == 405
    wrong_override = si.post(
        f"/cases/{case.id}", json={"status": "SI_RECEIVED"}, headers={"X-HTTP-Method-Override": "PUT"}
    )
    assert wrong_override.status_code == 405
    assert wrong_override.json() == {"errors": [{"code": 405, "message": "Method not allowed"}]}
