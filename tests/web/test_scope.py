"""An agent of one organisation cannot see or reach another's dossiers: by list, by URL, by document link."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import Seeded, csrf_of, login

from aiguilleur.engine.hub import Hub


@pytest.fixture
def nice_agent(client: TestClient, seeded: Seeded) -> TestClient:
    login(client, "agent-nice")
    return client


def test_scope_list_shows_only_the_agents_organisation(nice_agent: TestClient, seeded: Seeded) -> None:
    page = nice_agent.get("/dossiers").text
    assert all(seeded.numeros[i] in page for i in seeded.nice)
    assert all(seeded.numeros[i] not in page for i in seeded.cannes)
    assert "Ville de Cannes" not in page  # not even in the organisation filter
    searched = nice_agent.get("/dossiers", params={"q": seeded.numeros[seeded.cannes[0]]}).text
    assert "0 dossier" in searched
    filtered = nice_agent.get("/dossiers", params={"organisation": "cannes"}).text
    assert "0 dossier" in filtered


def test_scope_overview_counts_only_the_agents_organisation(nice_agent: TestClient, seeded: Seeded) -> None:
    page = nice_agent.get("/").text
    assert f'<span class="tile-value">{len(seeded.nice)}</span>' in page
    assert seeded.numeros[seeded.cannes[0]] not in page


def test_scope_another_organisations_dossier_is_not_found(nice_agent: TestClient, seeded: Seeded) -> None:
    response = nice_agent.get(f"/dossiers/{seeded.cannes[0]}")
    assert response.status_code == 404
    assert "Page introuvable" in response.text
    assert seeded.numeros[seeded.cannes[0]] not in response.text


def test_scope_another_organisations_documents_are_not_found(
    nice_agent: TestClient, hub: Hub, seeded: Seeded
) -> None:
    other = hub.store.dossiers.get(seeded.cannes[0], None)
    for doc in other.documents:
        base = f"/dossiers/{other.id}/documents/{doc.id}"
        assert nice_agent.get(base).status_code == 404
        assert nice_agent.get(base + "/apercu").status_code == 404
    # nor through one of its own dossiers' URLs
    mine = seeded.nice[0]
    assert nice_agent.get(f"/dossiers/{mine}/documents/{other.documents[0].id}").status_code == 404


def test_scope_another_organisations_dossier_cannot_be_changed(
    nice_agent: TestClient, hub: Hub, seeded: Seeded
) -> None:
    token = csrf_of(nice_agent.get("/").text)
    target = seeded.cannes[0]
    assert (
        nice_agent.post(f"/dossiers/{target}/statut", data={"csrf": token, "code": "16"}).status_code == 404
    )
    assert nice_agent.post(f"/dossiers/{target}/annuler", data={"csrf": token}).status_code == 404
    upload = nice_agent.post(
        f"/dossiers/{target}/documents",
        data={"csrf": token},
        files={"fichier": ("a.pdf", b"%PDF-1.4", "application/pdf")},
    )
    assert upload.status_code == 404
    detail = hub.store.dossiers.get(target, None)
    assert detail.status == 14 and [d for d in detail.documents if d.direction == "out"] == []


def test_scope_another_organisations_failed_return_is_hidden(
    nice_agent: TestClient, hub: Hub, seeded: Seeded
) -> None:
    item = kill_a_return(hub, seeded.cannes[0])
    page = nice_agent.get("/erreurs").text
    assert f"retour {item}" not in page
    token = csrf_of(page)
    assert nice_agent.post(f"/erreurs/retours/{item}/relancer", data={"csrf": token}).status_code == 404
    assert hub.store.outbox.list(states=("dead",))[0].id == item


def test_scope_rejected_imports_are_for_people_who_see_every_organisation(
    nice_agent: TestClient, seeded: Seeded
) -> None:
    page = nice_agent.get("/erreurs").text
    assert seeded.rejected not in page
    response = nice_agent.post(
        "/erreurs/imports/msp-nice/relancer", data={"csrf": csrf_of(page), "fichier": seeded.rejected}
    )
    assert response.status_code == 404


def kill_a_return(hub: Hub, dossier_id: str) -> int:
    """Set status 16 on the dossier and make its return fail for good: a dead outbox item; its id."""
    hub.store.statuses.set(dossier_id, 16, "", "test", None)
    item = next(i for i in hub.store.outbox.due("msp-nice") if i.dossier_id == dossier_id)
    assert hub.store.outbox.claim(item.id)
    hub.store.outbox.mark_failed(item.id, "portail injoignable (test)", retry_at=None)
    return item.id
