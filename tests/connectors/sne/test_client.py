"""The six operations against the fake SNE over real TLS sockets with client certificates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from aiguilleur.connectors.sne.client import SneClient, xs_datetime
from aiguilleur.connectors.sne.errors import SneFault, SneUnexpectedFault
from aiguilleur.fakes.sne import Anomaly, FakeSne, SneServer, demande_xml
from tests.conftest import Clock

pytestmark = pytest.mark.integration

NUU = "{http://nuu.application.i2/}"


def test_get_num_unique_registers_a_demande(client: SneClient, world: FakeSne) -> None:
    result = client.get_num_unique(demande_xml(nom="DURAND", prenom="Paul"))
    assert result.is_ok
    assert result.num_unique is not None and len(result.num_unique) == 18
    assert result.num_unique in world.register.demandes
    assert result.attestation is not None and result.attestation.startswith(b"%PDF")
    assert etree.fromstring(result.demande_xml).findtext(f".//{NUU}numUnique") == result.num_unique
    assert result.raw_request.startswith(b"--uuid:") and result.raw_response
    assert world.requests[-1].client_cn == "G0000"


def test_get_num_unique_returns_anomalies_as_values(client: SneClient, world: FakeSne) -> None:
    world.faults.anomalies([Anomaly("ERR012", "Le nom est obligatoire.", propriete="nom")])
    result = client.get_num_unique(demande_xml())
    assert not result.is_ok
    assert [(a.code, a.propriete, a.message) for a in result.anomalies] == [
        ("ERR012", "nom", "Le nom est obligatoire.")
    ]
    assert b"ERR012" in result.anomalies[0].raw
    assert result.demande_xml  # the returned file stays available


def test_get_num_unique_returns_probable_duplicates(client: SneClient, world: FakeSne) -> None:
    first = world.seed(demande_xml(nom="MARTIN", prenom="Claire"))
    result = client.get_num_unique(demande_xml(nom="MARTIN", prenom="Claire"))
    assert [d.num_unique for d in result.doublons] == [first.num_unique]
    assert result.doublons[0].nom == "MARTIN" and result.doublons[0].raw
    assert result.hint is not None and "forcerDoublon" in result.hint
    forced = client.get_num_unique(demande_xml(nom="MARTIN", prenom="Claire", forcer_doublon=True))
    assert forced.is_ok and forced.num_unique not in (None, first.num_unique)


def test_get_demande_logement(client: SneClient, world: FakeSne) -> None:
    registered = world.seed(demande_xml(nom="PETIT", prenom="Anne"))
    result = client.get_demande_logement(registered.num_unique)
    assert result.num_unique == registered.num_unique
    root = etree.fromstring(result.demande_xml)
    assert root.findtext(f".//{NUU}nom") == "PETIT"
    assert result.attestation is None


def test_get_demande_logement_unknown_is_an_anomaly(client: SneClient) -> None:
    result = client.get_demande_logement("059112600001XG0000")
    assert not result.is_ok and result.anomalies[0].propriete == "demande/demandeLogement/numUnique"


def test_soap_fault_carries_code_reason_and_detail(client: SneClient, world: FakeSne) -> None:
    world.faults.soap_fault("Sender", "Accès refusé", "Guichet non habilité.", operation="getDemandeLogement")
    with pytest.raises(SneFault) as caught:
        client.get_demande_logement("059112600001XG0000")
    fault = caught.value
    assert (fault.code, fault.reason, fault.detail, fault.status) == (
        "Sender",
        "Accès refusé",
        "Guichet non habilité.",
        500,
    )
    assert fault.operation == "getDemandeLogement" and fault.response


def test_get_doublons(client: SneClient, world: FakeSne) -> None:
    assert client.get_doublons(demande_xml(nom="ROUX", prenom="Léa")).doublons == ()
    registered = world.seed(demande_xml(nom="ROUX", prenom="Léa"))
    result = client.get_doublons(demande_xml(nom="ROUX", prenom="Léa"))
    assert [d.num_unique for d in result.doublons] == [registered.num_unique]
    assert result.doublons[0].prenom == "Léa"
    assert result.liste_doublons_xml is not None


def test_get_doublons_unexpected_error_is_typed(client: SneClient, world: FakeSne) -> None:
    world.faults.unexpected(operation="getDoublons")
    with pytest.raises(SneUnexpectedFault) as caught:
        client.get_doublons(demande_xml())
    assert caught.value.code == "Receiver"


def test_get_nouveaux_dalo_depuis_le(client: SneClient, world: FakeSne, clock: Clock) -> None:
    since = clock() - timedelta(days=1)
    assert client.get_nouveaux_dalo_depuis_le(since).is_empty
    registered = world.seed(demande_xml(nom="BLANC"))
    world.declare_dalo(registered.num_unique, "ACTIF", at=clock())
    result = client.get_nouveaux_dalo_depuis_le(since)
    assert not result.is_empty and result.content is not None
    assert registered.num_unique.encode() in result.content
    assert result.nom_fichier


def test_get_demandes_radiees_depuis_le_with_filters(client: SneClient, world: FakeSne, clock: Clock) -> None:
    since = clock() - timedelta(days=1)
    one = world.seed(demande_xml(nom="NOIR"))
    two = world.seed(demande_xml(nom="GRIS", prenom="Luc"))
    world.radiate(one.num_unique, "RADATT", at=clock())
    world.radiate(two.num_unique, "RADABA", at=clock())
    every = client.get_demandes_radiees_depuis_le(since)
    assert every.content is not None
    assert one.num_unique.encode() in every.content and two.num_unique.encode() in every.content
    filtered = client.get_demandes_radiees_depuis_le(since, motif_radiation="RADATT")
    assert filtered.content is not None
    assert one.num_unique.encode() in filtered.content and two.num_unique.encode() not in filtered.content
    seen = world.requests[-1]
    assert seen.operation == "getDemandesRadieesDepuisLe"


def test_get_declaration_nouveau_dalo(client: SneClient, world: FakeSne) -> None:
    registered = world.seed(demande_xml(nom="VERT"))
    dalo = demande_xml(nom="VERT", num_unique=registered.num_unique, type_fichier="MOD", statut_dalo="ACTIF")
    result = client.get_declaration_nouveau_dalo(dalo)
    assert result.nom_fichier and result.nom_fichier.startswith("DALG0000-")
    assert result.content is not None


def test_dates_are_sent_with_their_offset() -> None:
    assert xs_datetime(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T01:00:00.000+01:00"
    with pytest.raises(ValueError):
        xs_datetime(datetime(2024, 1, 1))


def test_connections_are_reused(
    server: SneServer, make_client: Callable[..., SneClient], world: FakeSne
) -> None:
    client = make_client(server.url)
    registered = world.seed(demande_xml())
    for _ in range(5):
        client.get_demande_logement(registered.num_unique)
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    assert len(pool.connections) == 1  # five calls, one TLS connection


@pytest.mark.parametrize(
    ("mtom", "cids"), [(False, "encoded"), (True, "plain")], ids=["plain-soap", "plain-cids"]
)
def test_answers_in_every_framing(client: SneClient, world: FakeSne, mtom: bool, cids: str) -> None:
    world.mtom_responses = mtom
    world.cid_style = cids  # type: ignore[assignment]
    created = client.get_num_unique(demande_xml(nom="CADRE"))
    assert created.num_unique and created.attestation is not None and created.attestation.startswith(b"%PDF")
    found = client.get_doublons(demande_xml(nom="CADRE"))
    assert [d.num_unique for d in found.doublons] == [created.num_unique]
