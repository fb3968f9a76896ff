"""Dossier search, detail, status changes and undo."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from aiguilleur.engine.hub import Hub
from tests.api.conftest import Auth, assert_problem


def ids(page: dict[str, object]) -> list[str]:
    return [item["external_id"] for item in page["items"]]  # type: ignore[attr-defined, index]


def test_search_lists_only_the_scope_newest_first(
    client: TestClient, auth: Auth, dossiers: dict[str, str]
) -> None:
    mine = client.get("/api/v1/dossiers", headers=auth.cannes).json()
    assert ids(mine) == ["C-1-X"]
    assert mine["total"] == 1
    everything = client.get("/api/v1/dossiers", headers=auth.admin).json()
    assert ids(everything) == ["C-1-X", "H-3", "A-2-X", "A-1-X"]
    nice = client.get("/api/v1/dossiers", headers=auth.reader).json()
    assert ids(nice) == ["H-3", "A-2-X", "A-1-X"]


def test_search_organisation_filter_cannot_widen_the_scope(
    client: TestClient, auth: Auth, dossiers: dict[str, str]
) -> None:
    page = client.get("/api/v1/dossiers", params={"organisation": "nice"}, headers=auth.cannes).json()
    assert page["total"] == 0
    assert page["items"] == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"organisation": "cannes"}, ["C-1-X"], id="organisation"),
        pytest.param({"channel": "hubee"}, ["H-3"], id="channel"),
        pytest.param({"connector": "msp-nice"}, ["C-1-X", "A-2-X", "A-1-X"], id="connector"),
        pytest.param({"procedure": "AEC-LA"}, ["A-2-X"], id="procedure"),
        pytest.param({"status": 14}, ["C-1-X", "H-3", "A-2-X", "A-1-X"], id="status"),
        pytest.param({"status": 16}, [], id="status-none"),
        pytest.param({"q": "A-2-X"}, ["A-2-X"], id="q-number"),
        pytest.param({"q": "naissance"}, ["C-1-X", "A-1-X"], id="q-title"),
        pytest.param(
            {"received_from": "2026-11-21T00:00:00Z", "received_to": "2026-11-23T00:00:00+00:00"},
            ["H-3", "A-2-X"],
            id="received-window",
        ),
        pytest.param({"received_from": "2026-11-22T10:30:00+02:00"}, ["C-1-X", "H-3"], id="received-offset"),
        pytest.param({"received_to": "2026-11-20T09:00:01"}, ["A-1-X"], id="received-naive-utc"),
    ],
)
def test_search_filters(
    client: TestClient, auth: Auth, dossiers: dict[str, str], params: dict[str, object], expected: list[str]
) -> None:
    response = client.get("/api/v1/dossiers", params=params, headers=auth.admin)
    assert response.status_code == 200, response.text
    assert ids(response.json()) == expected
    assert response.json()["total"] == len(expected)


def test_search_paginates_with_total(client: TestClient, auth: Auth, dossiers: dict[str, str]) -> None:
    first = client.get("/api/v1/dossiers", params={"limit": 2}, headers=auth.admin).json()
    second = client.get("/api/v1/dossiers", params={"limit": 2, "offset": 2}, headers=auth.admin).json()
    past = client.get("/api/v1/dossiers", params={"limit": 2, "offset": 10}, headers=auth.admin).json()
    assert (first["total"], first["limit"], first["offset"]) == (4, 2, 0)
    assert ids(first) == ["C-1-X", "H-3"]
    assert (second["total"], second["offset"]) == (4, 2)
    assert ids(second) == ["A-2-X", "A-1-X"]
    assert (past["total"], past["items"]) == (4, [])


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"limit": 0}, id="limit-zero"),
        pytest.param({"limit": 201}, id="limit-too-big"),
        pytest.param({"offset": -1}, id="offset-negative"),
        pytest.param({"received_from": "yesterday"}, id="bad-date"),
        pytest.param({"status": "open"}, id="bad-status"),
    ],
)
def test_search_bad_parameters_are_422_problems(
    client: TestClient, auth: Auth, params: dict[str, object]
) -> None:
    body = assert_problem(client.get("/api/v1/dossiers", params=params, headers=auth.admin), 422)
    assert body["errors"]
    assert body["errors"][0]["loc"][0] == "query"


def test_detail_gives_data_documents_history_and_allowed(
    client: TestClient, auth: Auth, dossiers: dict[str, str]
) -> None:
    response = client.get(f"/api/v1/dossiers/{dossiers['A-1-X']}", headers=auth.reader)
    assert response.status_code == 200
    body = response.json()
    assert body["external_id"] == "A-1-X"
    assert body["data"] == {"NumeroTeledemarche": "A-1-X"}
    assert [d["name"] for d in body["documents"]] == ["Acte de naissance été.pdf"]
    assert [h["code"] for h in body["history"]] == [14]
    assert body["allowed"] == [15, 16, 100]
    assert body["can_undo"] is False


def test_detail_unknown_dossier_is_404_problem(client: TestClient, auth: Auth) -> None:
    body = assert_problem(client.get("/api/v1/dossiers/does-not-exist", headers=auth.admin), 404)
    assert body["title"] == "NotFound"


def test_status_change_then_undo(client: TestClient, auth: Auth, hub: Hub, dossiers: dict[str, str]) -> None:
    url = f"/api/v1/dossiers/{dossiers['A-1-X']}/status"
    created = client.post(url, json={"code": 16, "comment": "Pris en charge"}, headers=auth.operator)
    assert created.status_code == 201, created.text
    change = created.json()
    assert (change["code"], change["previous_code"], change["comment"]) == (16, 14, "Pris en charge")
    assert change["actor"] == "token:agent-nice"
    assert change["is_transmitted"] is False
    detail = client.get(f"/api/v1/dossiers/{dossiers['A-1-X']}", headers=auth.operator).json()
    assert (detail["status"], detail["can_undo"]) == (16, True)

    undone = client.post(f"{url}/undo", headers=auth.operator)
    assert undone.status_code == 200, undone.text
    assert undone.json()["code"] == 14
    detail = client.get(f"/api/v1/dossiers/{dossiers['A-1-X']}", headers=auth.operator).json()
    assert (detail["status"], detail["can_undo"]) == (14, False)
    assert detail["history"][-1]["undone_at"] is not None
    returns = hub.store.outbox.list(scope=None)
    assert {r.payload["code"]: r.state for r in returns if r.dossier_id == dossiers["A-1-X"]}[
        16
    ] == "cancelled"


def test_status_refused_transition_is_409_with_allowed(
    client: TestClient, auth: Auth, dossiers: dict[str, str]
) -> None:
    response = client.post(
        f"/api/v1/dossiers/{dossiers['A-1-X']}/status", json={"code": 19}, headers=auth.operator
    )
    body = assert_problem(response, 409)
    assert body["title"] == "InvalidTransition"
    assert body["allowed"] == [15, 16, 100]


def test_status_unknown_code_is_409_with_allowed(
    client: TestClient, auth: Auth, dossiers: dict[str, str]
) -> None:
    response = client.post(
        f"/api/v1/dossiers/{dossiers['A-1-X']}/status", json={"code": 42}, headers=auth.operator
    )
    assert assert_problem(response, 409)["allowed"] == [15, 16, 100]


def test_status_undo_of_the_initial_status_is_409_with_allowed(
    client: TestClient, auth: Auth, dossiers: dict[str, str]
) -> None:
    response = client.post(f"/api/v1/dossiers/{dossiers['A-1-X']}/status/undo", headers=auth.operator)
    assert assert_problem(response, 409)["allowed"] == [15, 16, 100]


def test_status_unknown_dossier_is_404_problem(client: TestClient, auth: Auth) -> None:
    response = client.post("/api/v1/dossiers/nope/status", json={"code": 16}, headers=auth.admin)
    assert_problem(response, 404)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"code": "seize"}, id="code-not-int"),
        pytest.param({}, id="code-missing"),
        pytest.param({"code": 16, "comment": "x" * 2001}, id="comment-too-long"),
        pytest.param({"code": 16, "extra": 1}, id="unknown-field"),
    ],
)
def test_status_invalid_body_is_422_problem(
    client: TestClient, auth: Auth, hub: Hub, dossiers: dict[str, str], payload: dict[str, object]
) -> None:
    response = client.post(
        f"/api/v1/dossiers/{dossiers['A-1-X']}/status", json=payload, headers=auth.operator
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"][0] == "body"
    assert "x" * 100 not in response.text  # inputs are not echoed
    assert hub.store.dossiers.get(dossiers["A-1-X"], None).status == 14


def test_status_malformed_json_is_422_problem(
    client: TestClient, auth: Auth, dossiers: dict[str, str]
) -> None:
    response = client.post(
        f"/api/v1/dossiers/{dossiers['A-1-X']}/status",
        content=b'{"code": ',
        headers={**auth.operator, "Content-Type": "application/json"},
    )
    assert_problem(response, 422)
