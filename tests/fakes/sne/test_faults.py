"""Fault switches: SOAP faults, HTTP errors, slow answers, resets, truncation, anomalies, duplicates."""

from __future__ import annotations

import pytest

from aiguilleur.fakes.sne import Anomaly, FakeSne, demande_xml
from tests.fakes.sne import golden
from tests.fakes.sne.conftest import NUU, Pki, Sleeps, mime_message, read_reply, xml_of

N = f"{{{NUU}}}"


@pytest.fixture
def number(sne: FakeSne) -> str:
    return sne.seed(demande_xml()).num_unique


def read(sne: FakeSne, pki: Pki, number: str):
    return sne.handle(*reversed(golden.demande_logement(number.encode(), pki.client_pem)))


@pytest.mark.parametrize(
    ("arm", "code", "reason"),
    [
        pytest.param(
            lambda f: f.authentication(), "soap:Sender", "Authentification refusée", id="authentication"
        ),
        pytest.param(lambda f: f.authorisation(), "soap:Sender", "Accès refusé", id="authorisation"),
        pytest.param(
            lambda f: f.validation("numUnique absent"), "soap:Sender", "Unmarshalling Error", id="validation"
        ),
        pytest.param(lambda f: f.unexpected(), "soap:Receiver", "Une erreur inattendue", id="unexpected"),
        pytest.param(
            lambda f: f.soap_fault("Receiver", "Panne", "détail"), "soap:Receiver", "Panne", id="custom"
        ),
    ],
)
def test_soap_fault_switch_fires_once(
    sne: FakeSne, pki: Pki, number: str, arm, code: str, reason: str
) -> None:
    arm(sne.faults)
    faulted = read_reply(read(sne, pki, number))
    assert faulted.status == 500 and faulted.fault_code == code
    assert (faulted.fault_reason or "").startswith(reason)
    assert faulted.fault_detail
    assert read(sne, pki, number).status == 200


def test_soap_fault_switch_waits_for_its_operation(sne: FakeSne, pki: Pki, number: str) -> None:
    sne.faults.soap_fault("Sender", "non", operation="getNouveauxDaloDepuisLe")
    assert read(sne, pki, number).status == 200
    reply = sne.handle(*reversed(golden.nouveaux_dalo(b"2026-11-24T00:00:00Z", pki.client_pem)))
    assert reply.status == 500


def test_soap_fault_switch_changes_nothing(sne: FakeSne, pki: Pki) -> None:
    sne.faults.soap_fault("Receiver", "Panne", operation="getNumUnique")
    assert sne.handle(*reversed(golden.num_unique(demande_xml(), pki.client_pem))).status == 500
    assert len(sne.register) == 0


@pytest.mark.parametrize("status", [500, 503])
def test_http_error_switch(sne: FakeSne, pki: Pki, number: str, status: int) -> None:
    sne.faults.http_error(status, retry_after_s=30 if status == 503 else None, times=2)
    for _ in range(2):
        reply = read(sne, pki, number)
        assert reply.status == status
        assert (reply.header("Content-Type") or "").startswith("text/html")
        assert reply.header("Retry-After") == ("30" if status == 503 else None)
    assert read(sne, pki, number).status == 200
    assert sne.faults.served["http_error"] == 2


def test_slow_switch_calls_the_sleep_hook(sne: FakeSne, pki: Pki, number: str, sleeps: Sleeps) -> None:
    sne.faults.slow(12.5)
    assert read(sne, pki, number).status == 200
    assert sleeps.delays == [12.5]


def test_reset_switch_raises_connection_reset(sne: FakeSne, pki: Pki, number: str) -> None:
    sne.faults.reset()
    with pytest.raises(ConnectionResetError):
        read(sne, pki, number)
    assert read(sne, pki, number).status == 200


def test_truncate_switch_cuts_the_multipart(sne: FakeSne, pki: Pki, number: str) -> None:
    sne.faults.truncate()
    reply = read(sne, pki, number)
    assert reply.status == 200
    assert not reply.body.endswith(b"--")
    message = mime_message(reply.header("Content-Type") or "", reply.body)
    assert message.defects or len(list(message.iter_parts())) < 2


def test_anomaly_switch_on_next_get_num_unique(sne: FakeSne, pki: Pki) -> None:
    sne.faults.anomalies(
        [Anomaly("CTRL42", "Ressources incohérentes.", "demande/demandeLogement", (("champ", "x"),))]
    )
    reply = read_reply(sne.handle(*reversed(golden.num_unique(demande_xml(), pki.client_pem))))
    anomaly = xml_of(reply.fields["fichierDemande"]).find(f".//{N}listeAnomalie/{N}anomalie")
    assert anomaly is not None
    assert (anomaly.get("code"), anomaly.get("propriete")) == ("CTRL42", "demande/demandeLogement")
    assert anomaly.find(f"{N}complement").get("nom") == "champ"
    assert len(sne.register) == 0
    assert sne.handle(*reversed(golden.num_unique(demande_xml(), pki.client_pem))).status == 200
    assert len(sne.register) == 1


def test_duplicate_switch_forces_probable_duplicates(sne: FakeSne, pki: Pki) -> None:
    sne.faults.duplicates()
    reply = read_reply(sne.handle(*reversed(golden.num_unique(demande_xml(), pki.client_pem))))
    assert xml_of(reply.fields["fichierDemande"]).find(f".//{N}listeDoublons/{N}doublon") is not None
    assert len(sne.register) == 0
    sne.faults.duplicates()
    forced = sne.handle(*reversed(golden.num_unique(demande_xml(forcer_doublon=True), pki.client_pem)))
    assert forced.status == 200 and len(sne.register) == 1


def test_clear_disarms_every_switch(sne: FakeSne, pki: Pki, number: str) -> None:
    sne.faults.http_error(503)
    sne.faults.reset()
    sne.faults.clear()
    assert read(sne, pki, number).status == 200
