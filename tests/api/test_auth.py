"""Bearer tokens, roles and organisation scopes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from aiguilleur.domain.access import Role
from aiguilleur.engine.hub import Hub
from tests.api.conftest import Auth, assert_problem, bearer


def test_auth_without_token_is_401_with_challenge(client: TestClient) -> None:
    response = client.get("/api/v1/dossiers")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer agl_unknown-token", id="unknown"),
        pytest.param("Bearer not-a-token", id="no-prefix"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic-scheme"),
        pytest.param("Bearer ", id="empty"),
    ],
)
def test_auth_bad_token_is_401(client: TestClient, authorization: str) -> None:
    response = client.get("/api/v1/organisations", headers={"Authorization": authorization})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_auth_revoked_token_is_401(client: TestClient, hub: Hub) -> None:
    token = hub.store.tokens.create("old", Role.READER, ["nice"])
    assert client.get("/api/v1/organisations", headers=bearer(token)).status_code == 200
    hub.store.tokens.revoke("old")
    assert_problem(client.get("/api/v1/organisations", headers=bearer(token)), 401)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("post", "/api/v1/dossiers/{id}/status", id="status"),
        pytest.param("post", "/api/v1/dossiers/{id}/status/undo", id="undo"),
        pytest.param("post", "/api/v1/dossiers/{id}/documents", id="upload"),
        pytest.param("get", "/api/v1/outbox", id="outbox"),
        pytest.param("post", "/api/v1/outbox/1/retry", id="retry"),
    ],
)
def test_auth_reader_cannot_act_403(
    client: TestClient, auth: Auth, dossiers: dict[str, str], method: str, path: str
) -> None:
    url = path.format(id=dossiers["A-1-X"])
    response = client.request(method, url, headers=auth.reader, json={"code": 16})
    body = assert_problem(response, 403)
    assert "www-authenticate" not in response.headers
    assert "reader" in body["detail"]


def test_auth_reader_status_change_leaves_dossier_alone(
    client: TestClient, auth: Auth, hub: Hub, dossiers: dict[str, str]
) -> None:
    client.post(f"/api/v1/dossiers/{dossiers['A-1-X']}/status", headers=auth.reader, json={"code": 16})
    assert hub.store.dossiers.get(dossiers["A-1-X"], None).status == 14


def test_organisations_are_those_of_the_scope(client: TestClient, auth: Auth) -> None:
    everything = client.get("/api/v1/organisations", headers=auth.admin).json()
    assert [o["id"] for o in everything] == ["cannes", "nice"]
    mine = client.get("/api/v1/organisations", headers=auth.cannes).json()
    assert mine == [{"id": "cannes", "name": "Ville de Cannes", "siret": "21060029200012", "insee": "06029"}]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("get", "/api/v1/dossiers/{id}", id="detail"),
        pytest.param("get", "/api/v1/dossiers/{id}/documents/{doc}", id="download"),
        pytest.param("post", "/api/v1/dossiers/{id}/status", id="status"),
        pytest.param("post", "/api/v1/dossiers/{id}/status/undo", id="undo"),
        pytest.param("post", "/api/v1/dossiers/{id}/documents", id="upload"),
    ],
)
def test_scope_other_organisation_dossier_is_404(
    client: TestClient, auth: Auth, hub: Hub, dossiers: dict[str, str], method: str, path: str
) -> None:
    nice_id = dossiers["A-1-X"]
    doc_id = hub.store.dossiers.get(nice_id, None).documents[0].id
    kwargs: dict[str, object] = {"json": {"code": 16}}
    if path.endswith("/documents"):
        kwargs = {"files": {"file": ("x.pdf", b"%PDF-1.4", "application/pdf")}}
    response = client.request(method, path.format(id=nice_id, doc=doc_id), headers=auth.cannes, **kwargs)  # type: ignore[arg-type]
    body = assert_problem(response, 404)
    missing = client.get("/api/v1/dossiers/00000000-0000-0000-0000-000000000000", headers=auth.cannes).json()
    assert body["title"] == missing["title"] == "NotFound"
    after = hub.store.dossiers.get(nice_id, None)
    assert after.status == 14
    assert [d.direction for d in after.documents] == ["in"]
