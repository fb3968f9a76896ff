"""The HubEE side of a status change from the dossier page, in headless Debian Chromium.

The hub of the dashboard tests gains a HubEE channel talking to the fake HubEE over a real loopback
socket (``HubeeServer``). A télédossier seeded in the fake is imported by ``run_connector``; an agent of
Nice signs in, sets status 16 with a message on the dossier page, runs the channel from the connectors
page, and the fake holds the STATUS_UPDATE event (IN_PROGRESS, the agent's message) on that case while the
dossier page shows the change as transmitted. Pages are photographed into ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.conftest import Clock
from tests.web.conftest import Tab, open_tab

from aiguilleur.config import ConnectorEntry
from aiguilleur.connectors.hubee import HubeeChannel, HubeeConfig
from aiguilleur.engine.hub import Hub
from aiguilleur.engine.runner import run_connector
from aiguilleur.fakes.hubee import Case, FakeHubee, HubeeServer
from aiguilleur.store.dossiers import DossierFilter

pytestmark = pytest.mark.integration

HUBEE = "hubee-nice"
PROCESS = "EtatCivil"
COMMENT = "Votre demande d'acte est à l'étude par le service de l'état civil."


@pytest.fixture
def world(clock: Clock) -> FakeHubee:
    return FakeHubee(now=clock, sleep=lambda _s: None)


@pytest.fixture
def hubee_server(world: FakeHubee) -> Iterator[HubeeServer]:
    with HubeeServer(world) as served:
        yield served


@pytest.fixture
def hub(hub: Hub, world: FakeHubee, hubee_server: HubeeServer) -> Iterator[Hub]:
    """The dashboard tests' hub (MDEL channel, people of two communes) plus a HubEE channel for Nice."""
    sub = world.add_subscription(PROCESS)  # Nice (SIRET 21060088800015, INSEE 06088)
    settings = HubeeConfig.model_validate(
        {
            "api_url": hubee_server.base_url,
            "token_url": hubee_server.token_url,
            "process_code": PROCESS,
            "client_id": sub.client_id,
            "client_secret": sub.client_secret,
            "editor_name": "COMMUNE DE NICE",
            "software_version": "9.9.9",
        }
    )
    hub.config.connectors[HUBEE] = ConnectorEntry("hubee", HUBEE, settings)
    channel = HubeeChannel(HUBEE, settings, hub.context(), sleep=lambda _s: None)
    hub.connectors[HUBEE] = channel
    yield hub
    channel.close()


@pytest.fixture
def case(hub: Hub, world: FakeHubee) -> Case:
    """One télédossier for Nice in the fake, imported by a run of the channel."""
    seeded = world.seed_one()
    outcome = run_connector(hub, HUBEE)
    assert outcome.is_ok and outcome.counts.get("imported") == 1, outcome
    return seeded


@pytest.fixture
def tab(browser: Any, server: str, case: Case) -> Iterator[Tab]:
    yield from open_tab(browser, server)


def our_events(world: FakeHubee, case_id: str) -> list[tuple[str, str | None, str | None]]:
    """(actionType, caseNewStatus, message) of the events the hub posted on a case, in order."""
    posted = world.case(case_id)
    return [
        (e.action_type, e.case_new_status, e.message)
        for e in posted.events
        if e.transmitter == posted.recipient
    ]


def test_browser_status_change_produces_the_hubee_event(
    tab: Tab, hub: Hub, world: FakeHubee, case: Case
) -> None:
    [dossier] = hub.store.dossiers.search(DossierFilter(connector=HUBEE), None, limit=10).items
    assert (dossier.external_id, dossier.organisation_id, dossier.status) == (case.external_id, "nice", 14)
    assert [e[:2] for e in our_events(world, case.id)] == [("STATUS_UPDATE", "SI_RECEIVED")]

    tab.sign_in("agent-nice")
    tab.page.get_by_role("link", name="Dossiers", exact=True).click()
    tab.page.get_by_role("link", name=case.external_id).click()
    assert tab.page.get_by_role("heading", level=1).is_visible()
    assert f"/dossiers/{dossier.id}" in tab.page.url

    tab.page.get_by_label("Message au demandeur").fill(COMMENT)
    tab.page.get_by_role("button", name="16 · Dossier en cours de traitement").click()
    assert "Statut 16" in tab.alert()
    assert "non transmis" in tab.page.locator(".timeline-item").first.inner_text()
    tab.shot("dossier-hubee-statut-16")
    assert [e[1] for e in our_events(world, case.id)] == ["SI_RECEIVED"]  # nothing sent before the run

    tab.page.get_by_role("link", name="Connecteurs", exact=True).click()
    tab.page.get_by_role("button", name=f"Synchroniser maintenant {HUBEE}").click()
    assert "terminée" in tab.alert()
    tab.shot("connecteur-hubee")

    assert our_events(world, case.id)[1:] == [("STATUS_UPDATE", "IN_PROGRESS", COMMENT)]
    assert world.case(case.id).status == "IN_PROGRESS"
    assert {i.state for i in hub.store.outbox.list(connector=HUBEE)} == {"sent"}  # the returns of 14, 16

    tab.go(f"/dossiers/{dossier.id}")
    latest = tab.page.locator(".timeline-item").first.inner_text()
    assert "16" in latest
    assert "transmis le" in latest and "non transmis" not in latest
    tab.shot("dossier-hubee-transmis")
