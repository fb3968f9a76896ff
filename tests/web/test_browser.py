"""The dashboard in a real browser: headless Debian Chromium driven by Playwright, a real uvicorn server.

Covers sign-in and lock-out, the organisation scope (list, URL, document link), a status change that
produces the MDEL return zip, undo, retries from the error queue, and use without JavaScript. Each page
is photographed into ``test-artifacts/screenshots/``. The HubEE side of the status change (the STATUS
event through the fake HubEE) is in ``test_browser_hubee.py``; the browser fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.conftest import MDEL, Seeded, Tab, open_tab
from tests.web.test_scope import kill_a_return

from aiguilleur.engine.hub import Hub
from aiguilleur.engine.runner import run_connector
from aiguilleur.fakes.mdel_portal import MdelPortal
from aiguilleur.store.users import MAX_FAILURES

pytestmark = pytest.mark.integration


@pytest.fixture
def tab(browser: Any, server: str, seeded: Seeded) -> Iterator[Tab]:
    yield from open_tab(browser, server)


def test_browser_sign_in_lock_out_and_sign_out(tab: Tab) -> None:
    tab.go("/dossiers")
    assert "/connexion?suivant=/dossiers" in tab.page.url
    tab.shot("connexion")
    for _ in range(MAX_FAILURES - 1):
        tab.sign_in("agent-nice", "not the password")
        assert "Identifiant ou mot de passe incorrect" in tab.alert()
    tab.sign_in("agent-nice", "not the password")
    assert "compte verrouillé" in tab.alert()
    tab.sign_in("agent-nice")  # the right password, while locked
    assert "compte verrouillé" in tab.alert()
    tab.shot("connexion-verrouillee")

    tab.sign_in("admin")  # another account; the page asked for first is kept
    tab.page.wait_for_url(re.compile(r"/dossiers$"))
    assert tab.page.get_by_role("heading", level=1).inner_text() == "Dossiers"
    tab.page.keyboard.press("Tab")  # the first stop of the keyboard is the skip link
    assert tab.page.evaluate("document.activeElement.textContent") == "Aller au contenu"

    tab.page.get_by_role("button", name="Se déconnecter").click()
    assert "Vous êtes déconnecté" in tab.alert()
    tab.go("/")
    assert "/connexion" in tab.page.url


def test_browser_agent_cannot_see_or_reach_another_organisations_dossiers(
    tab: Tab, hub: Hub, seeded: Seeded
) -> None:
    tab.sign_in("agent-nice")
    tab.page.get_by_role("link", name="Dossiers", exact=True).click()
    rows = tab.page.locator("tbody tr")
    assert rows.count() == len(seeded.nice)
    listing = tab.page.locator("main").inner_text()
    assert all(seeded.numeros[i] in listing for i in seeded.nice)
    assert all(seeded.numeros[i] not in listing for i in seeded.cannes)

    other = hub.store.dossiers.get(seeded.cannes[0], None)
    response = tab.go(f"/dossiers/{other.id}")
    assert response.status == 404
    assert tab.page.get_by_role("heading", level=1).inner_text() == "Page introuvable"
    assert other.external_id not in tab.page.content()
    tab.shot("introuvable")
    for doc in other.documents:
        for suffix in ("", "/apercu"):
            got = tab.page.request.get(f"{tab.base}/dossiers/{other.id}/documents/{doc.id}{suffix}")
            assert got.status == 404, (doc.name, suffix)


def test_browser_status_change_produces_the_mdel_return_zip(
    tab: Tab, hub: Hub, seeded: Seeded, portal: MdelPortal, mdel_dir: Path
) -> None:
    numero = seeded.numeros[seeded.nice[0]]
    tab.sign_in("agent-nice")
    tab.page.get_by_role("link", name="Dossiers", exact=True).click()
    tab.page.get_by_role("link", name=numero).click()
    assert tab.page.get_by_role("heading", level=1).is_visible()

    tab.page.get_by_label("Document à joindre au prochain retour").set_input_files(
        files=[{"name": "attestation.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}]
    )
    tab.page.get_by_label("Type de document").fill("attestation de recensement")
    tab.page.get_by_role("button", name="Ajouter le document").click()
    assert "attestation.pdf" in tab.alert()

    tab.page.get_by_label("Message au demandeur").fill("Votre dossier est en cours de traitement.")
    tab.page.get_by_role("button", name="16 · Dossier en cours de traitement").click()
    assert "Statut 16" in tab.alert()
    history = tab.page.locator(".timeline-item").first
    assert "non transmis" in history.inner_text()
    tab.shot("dossier-statut-16")

    tab.page.get_by_role("link", name="Connecteurs", exact=True).click()
    tab.page.get_by_role("button", name=f"Synchroniser maintenant {MDEL}").click()
    assert "terminée" in tab.alert()
    assert "retour(s) envoyé(s)" in tab.page.locator("main").inner_text()
    tab.shot("connecteur")

    returned = sorted((mdel_dir / "out").glob(f"{numero}-*-2.zip"))
    assert len(returned) == 1
    assert "attestation.pdf" in zipfile.ZipFile(returned[0]).namelist()
    seen = portal.collect_returns(mdel_dir / "out", consume=False)
    assert [r.etat for r in seen if r.numero == numero] == [14, 16]
    assert portal.problems == [] and portal.rejected == []

    tab.page.go_back()
    tab.go(f"/dossiers/{seeded.nice[0]}")
    assert "transmis le" in tab.page.locator(".timeline-item").first.inner_text()


def test_browser_undo_while_untransmitted(tab: Tab, hub: Hub, seeded: Seeded, mdel_dir: Path) -> None:
    dossier_id = seeded.nice[0]
    tab.sign_in("agent-nice")
    tab.go(f"/dossiers/{dossier_id}")
    tab.page.get_by_role("button", name="16 · Dossier en cours de traitement").click()
    tab.page.once("dialog", lambda dialog: dialog.accept())  # the confirmation asked by app.js
    tab.page.get_by_role("button", name="Annuler le statut 16").click()
    assert "Dernier statut annulé" in tab.alert()
    assert "annulé le" in tab.page.locator(".timeline-item").first.inner_text()
    assert tab.page.locator(".page-status").inner_text().startswith("14")
    tab.shot("dossier-annulation")
    run_connector(hub, MDEL)
    assert list((mdel_dir / "out").glob(f"{seeded.numeros[dossier_id]}-*-2.zip")) == []


def test_browser_retry_from_the_error_queue(tab: Tab, hub: Hub, seeded: Seeded, mdel_dir: Path) -> None:
    item = kill_a_return(hub, seeded.nice[1])
    tab.sign_in("admin")
    tab.page.get_by_role("link", name="File d'erreurs", exact=True).click()
    assert "portail injoignable (test)" in tab.page.locator("main").inner_text()
    tab.shot("file-erreurs")

    tab.page.get_by_role("button", name=f"Relancer le retour {item}").click()
    assert f"Retour {item} remis en file" in tab.alert()
    tab.page.get_by_role("button", name=f"Relancer {seeded.rejected}").click()
    assert "remis dans le dossier d'entrée" in tab.alert()
    assert (mdel_dir / "in" / seeded.rejected).is_file()

    outcome = run_connector(hub, MDEL)
    assert outcome.counts.get("returns_sent") == 1  # the return retried reached the portal
    assert next(i for i in hub.store.outbox.list() if i.id == item).state == "sent"
    assert outcome.counts.get("rejected") == 1  # the demand still names an unknown commune
    kinds = [e.kind for e in hub.store.journal.recent(kinds=("return-retry", "rejected-retry"))]
    assert sorted(kinds) == ["rejected-retry", "return-retry"]


def test_browser_every_page_photographed(tab: Tab, hub: Hub, seeded: Seeded) -> None:
    tab.sign_in("admin")
    tab.page.wait_for_url(re.compile(r"/$"))
    assert "Dossiers par statut et par canal" in tab.page.locator("main").inner_text()
    tab.shot("tableau-de-bord")
    tab.page.get_by_role("link", name="Dossiers", exact=True).click()
    tab.shot("dossiers")
    tab.page.get_by_label("Démarche").select_option("RCO-LA")
    tab.page.get_by_role("button", name="Filtrer").click()
    assert "correspondant" in tab.page.locator("#resultats").inner_text()
    tab.shot("dossiers-filtres")
    tab.page.locator("tbody a").first.click()
    tab.page.locator("details.preview summary").first.click()
    tab.page.locator("details.preview iframe").first.wait_for()
    tab.shot("dossier")
    with tab.page.expect_popup() as popup:
        tab.page.get_by_role("link", name=re.compile("Voir le XML d'origine")).first.click()
    assert popup.value.wait_for_load_state() is None
    tab.go("/connecteurs")
    tab.shot("connecteurs")
    tab.go(f"/connecteurs/{MDEL}")
    tab.shot("connecteur-detail")
    tab.go("/erreurs")
    tab.shot("erreurs")


def test_browser_works_without_javascript(browser: Any, server: str, seeded: Seeded, hub: Hub) -> None:
    for tab in open_tab(browser, server, javascript=False):
        tab.sign_in("agent-nice")
        tab.go(f"/dossiers/{seeded.nice[0]}")
        tab.page.get_by_role("button", name="16 · Dossier en cours de traitement").click()
        assert "Statut 16" in tab.alert()
        tab.page.get_by_role("button", name="Annuler le statut 16").click()  # no confirmation without JS
        assert "Dernier statut annulé" in tab.alert()
        tab.page.locator("details.preview summary").first.click()
        assert tab.page.locator("details.preview").first.get_attribute("open") is not None
    assert hub.store.dossiers.get(seeded.nice[0], None).status == 14
