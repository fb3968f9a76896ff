"""The outbox: the error queue of dead returns, retry and discard, within the caller's scope."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from aiguilleur.engine.hub import Hub
from tests.api.conftest import Auth, assert_problem


@pytest.fixture
def dead(hub: Hub, dossiers: dict[str, str]) -> int:
    """The first return of A-1-X (nice), given up after failures."""
    item = next(r for r in hub.store.outbox.list(scope=None) if r.dossier_id == dossiers["A-1-X"])
    assert hub.store.outbox.claim(item.id)
    assert hub.store.outbox.mark_failed(item.id, "SFTP refusé", retry_at=None) == "dead"
    return item.id


def test_outbox_lists_dead_returns_of_the_scope(client: TestClient, auth: Auth, dead: int) -> None:
    mine = client.get("/api/v1/outbox", params={"state": "dead"}, headers=auth.operator).json()
    assert [(r["id"], r["state"], r["last_error"]) for r in mine] == [(dead, "dead", "SFTP refusé")]
    assert client.get("/api/v1/outbox", params={"state": "dead"}, headers=auth.cannes).json() == []
    pending = client.get("/api/v1/outbox", params={"state": "pending"}, headers=auth.operator).json()
    assert len(pending) == 2  # A-2-X and H-3; C-1-X belongs to cannes
    everything = client.get("/api/v1/outbox", headers=auth.admin).json()
    assert len(everything) == 4


def test_outbox_unknown_state_is_422_problem(client: TestClient, auth: Auth) -> None:
    assert_problem(client.get("/api/v1/outbox", params={"state": "zombie"}, headers=auth.operator), 422)


def test_outbox_retry_requeues_a_dead_return(client: TestClient, auth: Auth, hub: Hub, dead: int) -> None:
    response = client.post(f"/api/v1/outbox/{dead}/retry", headers=auth.operator)
    assert response.status_code == 204
    states = {r.id: r.state for r in hub.store.outbox.list(scope=None)}
    assert states[dead] == "pending"
    again = client.post(f"/api/v1/outbox/{dead}/retry", headers=auth.operator)
    assert assert_problem(again, 409)["title"] == "Conflict"


def test_outbox_discard_gives_up_a_dead_return(client: TestClient, auth: Auth, hub: Hub, dead: int) -> None:
    response = client.post(f"/api/v1/outbox/{dead}/discard", headers=auth.operator)
    assert response.status_code == 204
    assert {r.id: r.state for r in hub.store.outbox.list(scope=None)}[dead] == "cancelled"


@pytest.mark.parametrize("action", ["retry", "discard"])
def test_outbox_action_outside_the_scope_is_404(
    client: TestClient, auth: Auth, hub: Hub, dead: int, action: str
) -> None:
    assert_problem(client.post(f"/api/v1/outbox/{dead}/{action}", headers=auth.cannes), 404)
    assert {r.id: r.state for r in hub.store.outbox.list(scope=None)}[dead] == "dead"


def test_outbox_action_unknown_item_is_404(client: TestClient, auth: Auth) -> None:
    assert_problem(client.post("/api/v1/outbox/424242/retry", headers=auth.admin), 404)
