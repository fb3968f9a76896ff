"""The dashboard's pages and actions through the application, as an agent's browser drives them."""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from tests.conftest import Clock
from tests.web.conftest import MDEL, Seeded, csrf_of, login, post_form
from tests.web.test_scope import kill_a_return

from aiguilleur.domain.dossier import DossierIn, ExternalRef
from aiguilleur.engine.hub import Hub
from aiguilleur.fakes.mdel_portal import MdelPortal
from aiguilleur.store.repository import Store


@pytest.fixture
def admin(client: TestClient, seeded: Seeded) -> TestClient:
    login(client, "admin")
    return client


@pytest.fixture
def agent(client: TestClient, seeded: Seeded) -> TestClient:
    login(client, "agent-nice")
    return client


@contextmanager
def counting_queries(store: Store) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def text(response: Any) -> str:
    """The page as a person reads it: entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(response.text).split())


def receive_many(store: Store, n: int, clock: Clock) -> None:
    for i in range(n):
        store.dossiers.receive(
            DossierIn(
                ref=ExternalRef("mdel", MDEL, f"B-{i:06d}"),
                organisation_id="nice" if i % 2 else "cannes",
                procedure="AEC-LA" if i % 3 else "RCO-LA",
                data={"fields": {"Titulaire": f"DUPONT n°{i}"}},
                title=f"DUPONT n°{i} — copie d'acte",
                received_at=clock() - timedelta(hours=i),
            )
        )


# -- overview ----------------------------------------------------------------------------------------------


def test_overview_counts_connectors_and_error_queue(admin: TestClient, seeded: Seeded) -> None:
    page = admin.get("/").text
    assert "Dossiers par statut et par canal" in page
    assert 'href="/dossiers?status=14&amp;channel=mdel">3</a>' in page
    assert "msp-nice" in page and "fonctionne, avec des fichiers refusés" in page
    assert re.search(r'tile-value">1</span>\s*<span class="tile-label">en attente dans la file', page)


# -- the list ----------------------------------------------------------------------------------------------


def test_list_filters_search_and_paginates(admin: TestClient, hub: Hub, clock: Clock) -> None:
    receive_many(hub.store, 120, clock)
    page = admin.get("/dossiers").text
    assert "123 dossiers" in page and "Page 1 sur 3" in page
    assert "B-000000" in page and "B-000070" not in page
    second = admin.get("/dossiers", params={"page": 2}).text
    assert "B-000070" in second and 'rel="prev"' in second
    nice = text(admin.get("/dossiers", params={"organisation": "nice", "procedure": "RCO-LA"}))
    assert "21 dossiers correspondants aux filtres" in nice  # 20 received here, 1 from the portal
    assert admin.get("/dossiers", params={"q": "dupont n°7 "}).text.count('class="mono">B-0000') >= 1
    exact = text(admin.get("/dossiers", params={"q": "B-000042"}))
    assert "1 dossier correspondant aux filtres" in exact
    day = (clock() - timedelta(hours=30)).date().isoformat()
    dated = text(admin.get("/dossiers", params={"du": day, "au": day}))
    assert "dossiers correspondants aux filtres" in dated and "B-000000" not in dated
    assert "0 dossier" in admin.get("/dossiers", params={"status": "19"}).text


def test_list_runs_the_same_queries_whatever_the_page_size(admin: TestClient, hub: Hub, clock: Clock) -> None:
    """No N+1: a page of 50 dossiers costs what a page of 3 costs."""
    with counting_queries(hub.store) as few:
        admin.get("/dossiers")
    receive_many(hub.store, 60, clock)
    with counting_queries(hub.store) as many:
        admin.get("/dossiers")
    assert len(many) == len(few) <= 12, many


# -- a dossier ---------------------------------------------------------------------------------------------


def test_dossier_page_shows_business_data_with_labels(admin: TestClient, hub: Hub, seeded: Seeded) -> None:
    dossier = hub.store.dossiers.get(seeded.nice[0], None)
    page = text(admin.get(f"/dossiers/{dossier.id}"))
    assert dossier.title in page and dossier.external_id in page
    for label in ("L'essentiel", "Données de la demande", "Date de naissance", "Historique des statuts"):
        assert label in page
    assert "NomFamille" not in page  # labels, not raw tags
    assert "Voir le XML d'origine" in page
    assert "transmis le" in page  # the first return (14) went with the import run


def test_dossier_raw_xml_is_the_original_document_sandboxed(
    admin: TestClient, hub: Hub, seeded: Seeded
) -> None:
    dossier = hub.store.dossiers.get(seeded.nice[0], None)
    page = admin.get(f"/dossiers/{dossier.id}").text
    link = re.search(r'href="(/dossiers/[^"]+/apercu)"[^>]*>Voir le XML', page)
    assert link is not None
    response = admin.get(link.group(1))
    doc_id = int(link.group(1).split("/")[-2])
    doc = next(d for d in dossier.documents if d.id == doc_id)
    assert response.status_code == 200 and "-doc-" in doc.name
    assert response.content == hub.blobs.path(doc.sha256).read_bytes()
    assert response.headers["content-type"].startswith("application/xml")
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert response.headers["content-disposition"].startswith("inline;")


def test_dossier_pdf_preview_is_inline_and_frameable_by_us_only(
    admin: TestClient, hub: Hub, seeded: Seeded
) -> None:
    dossier = hub.store.dossiers.get(seeded.nice[0], None)
    pdf = next(d for d in dossier.documents if d.media_type == "application/pdf")
    response = admin.get(f"/dossiers/{dossier.id}/documents/{pdf.id}/apercu")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert response.headers["content-type"] == "application/pdf"
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    download = admin.get(f"/dossiers/{dossier.id}/documents/{pdf.id}")
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.content == response.content


def test_dossier_preview_refuses_what_is_not_a_pdf_or_an_image(
    admin: TestClient, hub: Hub, seeded: Seeded
) -> None:
    """A file declared as a PDF but holding HTML is never shown inline (it would run as our page)."""
    blob = hub.blobs.put_bytes(b"<html><script>alert(1)</script></html>")
    doc = hub.store.dossiers.attach_outgoing(
        seeded.nice[0],
        None,
        name="faux.pdf",
        sha256=blob.sha256,
        size_bytes=blob.size_bytes,
        media_type="application/pdf",
    )
    assert admin.get(f"/dossiers/{seeded.nice[0]}/documents/{doc.id}/apercu").status_code == 404
    download = admin.get(f"/dossiers/{seeded.nice[0]}/documents/{doc.id}")
    assert download.headers["content-disposition"].startswith("attachment;")


def test_dossier_status_change_and_undo(agent: TestClient, hub: Hub, seeded: Seeded) -> None:
    dossier_id = seeded.nice[0]
    page = agent.get(f"/dossiers/{dossier_id}").text
    assert re.findall(r'name="code" value="(\d+)"', page) == ["15", "16", "100"]
    token = csrf_of(page)
    response = agent.post(
        f"/dossiers/{dossier_id}/statut",
        data={"csrf": token, "code": "16", "comment": "Pris en charge par le service"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = agent.get(response.headers["location"]).text
    assert "Statut 16 « Dossier en cours de traitement » enregistré" in page
    assert "non transmis" in page and "Pris en charge par le service" in page
    assert "Annuler le statut 16" in page
    undo = agent.post(f"/dossiers/{dossier_id}/annuler", data={"csrf": token}, follow_redirects=False)
    assert undo.status_code == 303
    page = agent.get(f"/dossiers/{dossier_id}").text
    assert "Dernier statut annulé" in page and "annulé le" in page
    assert hub.store.dossiers.get(dossier_id, None).status == 14
    assert [e.kind for e in hub.store.journal.recent(kinds=("status", "undo"))][:2] == ["undo", "status"]


def test_dossier_refused_transition_is_a_409_page(agent: TestClient, hub: Hub, seeded: Seeded) -> None:
    token = csrf_of(agent.get("/").text)
    response = agent.post(f"/dossiers/{seeded.nice[0]}/statut", data={"csrf": token, "code": "19"})
    assert response.status_code == 409
    assert "Action refusée" in response.text and "statuts possibles" in response.text


def test_dossier_upload_leaves_with_the_next_return(
    agent: TestClient, hub: Hub, seeded: Seeded, mdel_dir: Path
) -> None:
    dossier_id = seeded.nice[0]
    token = csrf_of(agent.get(f"/dossiers/{dossier_id}").text)
    response = agent.post(
        f"/dossiers/{dossier_id}/documents",
        data={"csrf": token, "type": "attestation de recensement"},
        files={"fichier": ("attestation recensement.pdf", b"%PDF-1.4 attestation\n%%EOF", "application/pdf")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = agent.get(f"/dossiers/{dossier_id}").text
    assert "attestation recensement.pdf" in page and "partira avec le prochain statut" in page
    agent.post(f"/dossiers/{dossier_id}/statut", data={"csrf": token, "code": "16"})
    assert "joint au statut 16" in agent.get(f"/dossiers/{dossier_id}").text
    post_form(agent, f"/connecteurs/{MDEL}", f"/connecteurs/{MDEL}/lancer")
    returned = next((mdel_dir / "out").glob(f"{seeded.numeros[dossier_id]}-*-2.zip"))
    assert "attestation recensement.pdf" in zipfile.ZipFile(returned).namelist()


def test_dossier_upload_without_csrf_token_stores_nothing(
    agent: TestClient, hub: Hub, seeded: Seeded
) -> None:
    response = agent.post(
        f"/dossiers/{seeded.nice[0]}/documents", files={"fichier": ("x.pdf", b"%PDF-1.4", "application/pdf")}
    )
    assert response.status_code == 403
    assert [d for d in hub.store.dossiers.get(seeded.nice[0], None).documents if d.direction == "out"] == []


# -- connectors --------------------------------------------------------------------------------------------


def test_connectors_show_settings_without_secrets_runs_and_log(admin: TestClient, hub: Hub) -> None:
    listing = admin.get("/connecteurs").text
    assert "Ma démarche en ligne (MDEL)" in listing and "Synchroniser maintenant" in listing
    page = admin.get(f"/connecteurs/{MDEL}").text
    assert "input_dir" in page and "Dernières synchronisations" in page
    assert "importé(s)" in page and "refusé(s)" in page
    log = re.search(r'href="(/connecteurs/[^"]+/journal)"', page)
    assert log is not None
    text = admin.get(log.group(1))
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert "Synchronisation 1 du connecteur msp-nice" in text.text


def test_connectors_run_now_without_scheduler_runs_during_the_request(
    admin: TestClient, hub: Hub, portal: MdelPortal, mdel_dir: Path
) -> None:
    portal.make_demand("RCO-LA", "06088", directory=mdel_dir / "in")
    response = post_form(admin, f"/connecteurs/{MDEL}", f"/connecteurs/{MDEL}/lancer")
    assert response.status_code == 303
    page = admin.get(f"/connecteurs/{MDEL}").text
    assert "Synchronisation 2 de msp-nice terminée (imported : 1" in page
    assert hub.store.runs.latest(MDEL, 1)[0].trigger == "manual"


def test_connectors_run_now_goes_through_the_scheduler_when_one_runs(admin: TestClient, hub: Hub) -> None:
    asked: list[str] = []

    class Scheduler:
        def run_now(self, name: str) -> bool:
            asked.append(name)
            return len(asked) == 1

        def is_running(self, name: str) -> bool:
            return False

        def next_run(self, name: str) -> None:
            return None

    hub.scheduler = Scheduler()  # type: ignore[assignment]
    post_form(admin, "/connecteurs", f"/connecteurs/{MDEL}/lancer")
    assert "lancée" in admin.get(f"/connecteurs/{MDEL}").text
    post_form(admin, "/connecteurs", f"/connecteurs/{MDEL}/lancer")
    assert "déjà en cours" in admin.get(f"/connecteurs/{MDEL}").text
    assert asked == [MDEL, MDEL]


def test_connectors_run_now_needs_an_operator(client: TestClient, seeded: Seeded) -> None:
    login(client, "lecteur-nice")
    assert "Synchroniser maintenant" not in client.get("/connecteurs").text
    assert post_form(client, "/connecteurs", f"/connecteurs/{MDEL}/lancer").status_code == 403


def test_connectors_log_files_and_run_errors_are_for_people_who_see_everything(
    agent: TestClient, seeded: Seeded
) -> None:
    page = agent.get(f"/connecteurs/{MDEL}").text
    assert "/journal" not in page and seeded.rejected not in page
    assert agent.get(f"/connecteurs/{MDEL}/synchronisations/1/journal").status_code == 404


# -- error queue -------------------------------------------------------------------------------------------


def test_errors_dead_return_retry_and_discard(admin: TestClient, hub: Hub, seeded: Seeded) -> None:
    first = kill_a_return(hub, seeded.nice[0])
    second = kill_a_return(hub, seeded.nice[1])
    page = admin.get("/erreurs").text
    assert "portail injoignable (test)" in page and f"retour {first}" in page
    token = csrf_of(page)
    assert admin.post(f"/erreurs/retours/{first}/relancer", data={"csrf": token}).status_code == 200
    assert admin.post(f"/erreurs/retours/{second}/abandonner", data={"csrf": token}).status_code == 200
    states = {i.id: i.state for i in hub.store.outbox.list()}
    assert states[first] == "pending" and states[second] == "cancelled"
    kinds = [e.kind for e in hub.store.journal.recent(kinds=("return-retry", "return-discard"))]
    assert kinds == ["return-discard", "return-retry"]
    assert "Aucun retour en échec" in admin.get("/erreurs").text


def test_errors_rejected_import_retry_moves_it_back_to_input(
    admin: TestClient, hub: Hub, seeded: Seeded, mdel_dir: Path
) -> None:
    page = admin.get("/erreurs").text
    assert seeded.rejected in page and "code INSEE 99999" in page
    response = admin.post(
        f"/erreurs/imports/{MDEL}/relancer", data={"csrf": csrf_of(page), "fichier": seeded.rejected}
    )
    assert response.status_code == 200 and "remis dans le dossier d'entrée" in text(response)
    assert (mdel_dir / "in" / seeded.rejected).is_file()
    assert not (mdel_dir / "error" / seeded.rejected).exists()
    assert not (mdel_dir / "error" / f"{seeded.rejected}.log").exists()
    assert [e.connector for e in hub.store.journal.recent(kinds=("rejected-retry",))] == [MDEL]


def test_errors_rejected_import_discard_moves_it_aside(
    admin: TestClient, hub: Hub, seeded: Seeded, mdel_dir: Path
) -> None:
    page = admin.get("/erreurs").text
    admin.post(f"/erreurs/imports/{MDEL}/ecarter", data={"csrf": csrf_of(page), "fichier": seeded.rejected})
    assert (mdel_dir / "error" / "discarded" / seeded.rejected).is_file()
    assert (mdel_dir / "error" / "discarded" / f"{seeded.rejected}.log").is_file()
    assert "Aucun fichier refusé" in admin.get("/erreurs").text
    assert len(hub.store.journal.recent(kinds=("rejected-discard",))) == 1


@pytest.mark.parametrize("name", ["../aiguilleur.db", "discarded", ".hidden", "nothing.zip", "x.zip.log"])
def test_errors_rejected_import_refuses_names_not_in_the_error_directory(
    admin: TestClient, seeded: Seeded, mdel_dir: Path, name: str
) -> None:
    (mdel_dir / "error" / "discarded").mkdir(exist_ok=True)
    (mdel_dir / "error" / ".hidden").write_bytes(b"")
    (mdel_dir / "error" / "x.zip.log").write_bytes(b"")
    token = csrf_of(admin.get("/erreurs").text)
    response = admin.post(f"/erreurs/imports/{MDEL}/relancer", data={"csrf": token, "fichier": name})
    assert response.status_code == 404


# -- errors as pages ---------------------------------------------------------------------------------------


def test_unknown_page_is_an_html_404_for_browsers_and_a_problem_for_others(admin: TestClient) -> None:
    page = admin.get("/nulle-part")
    assert page.status_code == 404 and "Page introuvable" in page.text
    problem = admin.get("/nulle-part", headers={"Accept": "application/json"})
    assert problem.headers["content-type"].startswith("application/problem+json")
