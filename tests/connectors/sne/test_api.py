"""``/api/v1/sne/{connector}/…``: the hub speaks mTLS SOAP for back-office software, operator tokens."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aiguilleur.api.app import create_app
from aiguilleur.config import Config, ConnectorEntry
from aiguilleur.connectors.base import HubContext
from aiguilleur.connectors.registry import Registry
from aiguilleur.connectors.sne import SneService
from aiguilleur.domain.access import Role
from aiguilleur.engine.hub import Hub
from aiguilleur.fakes.sne import Anomaly, FakeSne, SneServer, demande_xml
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.repository import Store
from tests.conftest import ORGANISATIONS, Clock
from tests.connectors.sne.conftest import Pki, make_config

pytestmark = pytest.mark.integration


@pytest.fixture
def api(
    server: SneServer, pki: Pki, tmp_path: Path, clock: Clock
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}", now=clock)
    store.migrate()
    store.organisations.sync(ORGANISATIONS)
    registry = Registry()
    registry.register(SneService)
    settings = make_config(server.url, pki)
    config = Config(
        organisations=list(ORGANISATIONS), connectors={"sne-59": ConnectorEntry("sne", "sne-59", settings)}
    )
    blobs = BlobStore(tmp_path / "blobs")
    hub = Hub(config=config, store=store, blobs=blobs, registry=registry)
    context = HubContext(store=store, blobs=blobs, base_dir=tmp_path, data_dir=tmp_path, now=clock)
    service = SneService("sne-59", settings, context)
    hub.connectors["sne-59"] = service
    tokens = {
        "operator": {"Authorization": "Bearer " + store.tokens.create("agent", Role.OPERATOR, ["*"])},
        "reader": {"Authorization": "Bearer " + store.tokens.create("lecture", Role.READER, ["*"])},
    }
    with TestClient(create_app(hub)) as client:
        yield client, tokens
    service.close()
    store.close()


def test_operations_through_the_api(
    api: tuple[TestClient, dict[str, dict[str, str]]], world: FakeSne, clock: Clock
) -> None:
    client, tokens = api
    h = tokens["operator"] | {"Content-Type": "application/xml"}
    created = client.post("/api/v1/sne/sne-59/num-unique", content=demande_xml(nom="API"), headers=h)
    assert created.status_code == 200, created.text
    number = created.json()["num_unique"]
    assert len(number) == 18 and base64.b64decode(created.json()["attestation"]).startswith(b"%PDF")
    got = client.get(f"/api/v1/sne/sne-59/demandes/{number}", headers=h).json()
    assert b"API" in base64.b64decode(got["demande_xml"])
    doublons = client.post("/api/v1/sne/sne-59/doublons", content=demande_xml(nom="API"), headers=h).json()
    assert [d["num_unique"] for d in doublons["doublons"]] == [number]
    world.declare_dalo(number, "ACTIF", at=clock())
    since = (clock() - timedelta(days=1)).isoformat()
    dalo = client.get("/api/v1/sne/sne-59/nouveaux-dalo", params={"depuis": since}, headers=h).json()
    assert number in base64.b64decode(dalo["content"]).decode()
    radiees = client.get(
        "/api/v1/sne/sne-59/radiees", params={"depuis": since, "motif_radiation": "RADATT"}, headers=h
    ).json()
    assert radiees["content"] is None
    declared = client.post(
        "/api/v1/sne/sne-59/declarations-dalo",
        content=demande_xml(nom="API", num_unique=number, type_fichier="MOD", statut_dalo="ACTIF"),
        headers=h,
    )
    assert declared.status_code == 200 and declared.json()["nom_fichier"].startswith("DALG0000-")


def test_outcomes_and_errors(api: tuple[TestClient, dict[str, dict[str, str]]], world: FakeSne) -> None:
    client, tokens = api
    h = tokens["operator"]
    world.faults.anomalies([Anomaly("ERR001", "Nom absent", propriete="nom")])
    body = client.post("/api/v1/sne/sne-59/num-unique", content=demande_xml(), headers=h).json()
    assert body["anomalies"][0] == {
        "code": "ERR001",
        "message": "Nom absent",
        "propriete": "nom",
        "complements": {},
    }
    refused = client.post("/api/v1/sne/sne-59/num-unique", content=demande_xml(type_fichier="XYZ"), headers=h)
    assert (
        refused.status_code == 422
        and refused.json()["errors"][0]["path"] == "/interfaceNuu/entete/typeFichier"
    )
    world.faults.authorisation()
    fault = client.get("/api/v1/sne/sne-59/demandes/059112600001XG0000", headers=h)
    assert fault.status_code == 502 and fault.json()["fault_code"] == "Sender"
    world.faults.http_error(503, times=5)
    assert client.get("/api/v1/sne/sne-59/demandes/059112600001XG0000", headers=h).status_code == 503
    assert client.get("/api/v1/sne/inconnu/demandes/X", headers=h).status_code == 404


def test_operator_role_is_required(api: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, tokens = api
    assert client.get("/api/v1/sne/sne-59/demandes/X").status_code == 401
    assert client.get("/api/v1/sne/sne-59/demandes/X", headers=tokens["reader"]).status_code == 403


def test_service_check(server: SneServer, pki: Pki, clock: Clock) -> None:
    service = SneService("sne-59", make_config(server.url, pki))
    health = service.check()
    assert health.is_ok and "G0000" in health.detail
    broken = SneService("x", make_config(server.url, pki, key_file=str(pki.files["stranger.key"])))
    assert not broken.check().is_ok
