"""zeep as an outside oracle: it reads the fake's answers to our MTOM requests with the WSDL the fake
serves, and must find what our client found (zeep cannot send MTOM, but it reads it: research §5.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
import zeep
from requests.structures import CaseInsensitiveDict
from zeep.transports import Transport

from aiguilleur.connectors.sne.client import SneClient
from aiguilleur.connectors.sne.results import Exchange
from aiguilleur.fakes.sne import Anomaly, FakeSne, SneServer, demande_xml
from tests.conftest import Clock
from tests.connectors.sne.conftest import Pki

pytestmark = pytest.mark.integration


@pytest.fixture
def oracle(server: SneServer, pki: Pki) -> Iterator[zeep.Client]:
    session = requests.Session()
    session.cert = (str(pki.files["client"]), str(pki.files["client.key"]))
    session.verify = str(pki.files["ca"])
    session.trust_env = False
    yield zeep.Client(server.wsdl_url, transport=Transport(session=session))
    session.close()


def zeep_reads(oracle: zeep.Client, operation: str, result: Exchange, content_type: str) -> Any:
    response = requests.models.Response()
    response.status_code = 200
    response.headers = CaseInsensitiveDict({"Content-Type": content_type})
    response._content = result.raw_response
    binding = oracle.service._binding
    return binding.process_reply(oracle, binding.get(operation), response)


def _value(field: Any) -> bytes | None:
    return None if field is None else field._value_1 if hasattr(field, "_value_1") else field


def same(zeep_value: Any, ours: bytes | None) -> bool:
    """zeep strips CR and LF at both ends of every attachment (zeep/wsdl/attachments.py, `content`):
    the file's own final newline is lost there, our reader (and requests-toolbelt) keep it."""
    value = _value(zeep_value)
    if ours is None or value is None:
        return value is ours
    return bool(value == ours.strip(b"\r\n"))


@pytest.fixture
def seen_types(world: FakeSne, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Content-Type of each answer, caught where the client reads it."""
    types: list[str] = []
    import httpx

    original = httpx.Client.post

    def post(self: httpx.Client, *args: Any, **kwargs: Any) -> httpx.Response:
        answer = original(self, *args, **kwargs)
        types.append(answer.headers["content-type"])
        return answer

    monkeypatch.setattr(httpx.Client, "post", post)
    return types


def test_zeep_agrees_on_all_six_operations(
    client: SneClient, world: FakeSne, oracle: zeep.Client, clock: Clock, seen_types: list[str]
) -> None:
    registered = world.seed(demande_xml(nom="ORACLE", prenom="Zoé"))
    world.declare_dalo(registered.num_unique, "ACTIF", at=clock())
    since = clock() - timedelta(days=1)

    num = client.get_num_unique(demande_xml(nom="NEUF"))
    z = zeep_reads(oracle, "getNumUnique", num, seen_types[-1])
    assert same(z.fichierDemande, num.demande_xml) and same(z.attestation, num.attestation)
    assert z.nomFichierDemande == num.nom_fichier

    demande = client.get_demande_logement(registered.num_unique)
    z = zeep_reads(oracle, "getDemandeLogement", demande, seen_types[-1])
    assert same(z.fichierDemande, demande.demande_xml)

    doublons = client.get_doublons(demande_xml(nom="ORACLE", prenom="Zoé"))
    z = zeep_reads(oracle, "getDoublons", doublons, seen_types[-1])
    assert same(z.listeDoublons, doublons.liste_doublons_xml) and doublons.doublons

    dalo = client.get_nouveaux_dalo_depuis_le(since)
    z = zeep_reads(oracle, "getNouveauxDaloDepuisLe", dalo, seen_types[-1])
    assert same(z.fichierNouveauxDalo, dalo.content) and dalo.content

    world.radiate(registered.num_unique, "RADATT", at=clock())
    radiees = client.get_demandes_radiees_depuis_le(since, motif_radiation="RADATT")
    z = zeep_reads(oracle, "getDemandesRadieesDepuisLe", radiees, seen_types[-1])
    assert same(z.fichierDemandesRadiees, radiees.content) and radiees.content

    other = world.seed(demande_xml(nom="DECLARE"))
    declared = client.get_declaration_nouveau_dalo(
        demande_xml(nom="DECLARE", num_unique=other.num_unique, type_fichier="MOD", statut_dalo="ACTIF")
    )
    z = zeep_reads(oracle, "getDeclarationNouveauDalo", declared, seen_types[-1])
    assert same(z.fichierDalo, declared.content) and z.nomFichierDalo == declared.nom_fichier


def test_zeep_agrees_on_anomalies(
    client: SneClient, world: FakeSne, oracle: zeep.Client, seen_types: list[str]
) -> None:
    world.faults.anomalies([Anomaly("ERR001", "Message", propriete="nom")])
    result = client.get_num_unique(demande_xml())
    z = zeep_reads(oracle, "getNumUnique", result, seen_types[-1])
    assert same(z.fichierDemande, result.demande_xml)
    assert b"ERR001" in result.demande_xml and result.anomalies[0].code == "ERR001"
