"""Configured connectors with masked settings and their newest run."""

from __future__ import annotations

from fastapi.testclient import TestClient

from aiguilleur.engine.hub import Hub
from tests.api.conftest import SECRET, Auth


def test_connectors_list_settings_masked_and_last_run(client: TestClient, auth: Auth, hub: Hub) -> None:
    first = hub.store.runs.start("msp-nice")
    hub.store.runs.finish(first, outcome="failed", counts={}, errors=["boom"])
    second = hub.store.runs.start("msp-nice", trigger="manual")
    hub.store.runs.finish(second, outcome="ok", counts={"created": 2}, errors=[])

    response = client.get("/api/v1/connectors", headers=auth.reader)
    assert response.status_code == 200
    assert SECRET not in response.text
    [connector] = response.json()
    assert (connector["name"], connector["kind"], connector["title"]) == (
        "msp-nice",
        "mdel",
        "Ma démarche en ligne",
    )
    assert connector["enabled"] is True
    assert connector["settings"]["password"] == "********"
    assert connector["settings"]["input_dir"] == "var/mdel/in"
    assert (connector["last_run"]["id"], connector["last_run"]["outcome"]) == (second, "ok")
    assert connector["last_run"]["counts"] == {"created": 2}


def test_connectors_without_run_have_no_last_run(client: TestClient, auth: Auth) -> None:
    [connector] = client.get("/api/v1/connectors", headers=auth.cannes).json()
    assert connector["last_run"] is None
