"""Failures of the SNE side, each reaching its typed error; retries only for the idempotent reads."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from aiguilleur.connectors.sne.client import SneClient
from aiguilleur.connectors.sne.errors import (
    SneCertificateRefused,
    SneFault,
    SneProtocolError,
    SneRejected,
    SneUnavailable,
)
from aiguilleur.errors import AuthError, PermanentError, TransientError
from aiguilleur.fakes.sne import FakeSne, SneServer, demande_xml

pytestmark = pytest.mark.integration


def test_a_read_is_retried_after_503(client: SneClient, world: FakeSne) -> None:
    registered = world.seed(demande_xml())
    world.faults.http_error(503, times=1)
    result = client.get_demande_logement(registered.num_unique)
    assert result.num_unique == registered.num_unique
    assert world.faults.served["http_error"] == 1
    assert [r.operation for r in world.requests].count("getDemandeLogement") == 2


@pytest.mark.parametrize("operation", ["getNumUnique", "getDeclarationNouveauDalo"])
def test_writes_are_never_retried(client: SneClient, world: FakeSne, operation: str) -> None:
    registered = world.seed(demande_xml(nom="VERT"))
    world.faults.http_error(503, times=1)
    with pytest.raises(SneUnavailable) as caught:
        if operation == "getNumUnique":
            client.get_num_unique(demande_xml(nom="AUTRE"))
        else:
            client.get_declaration_nouveau_dalo(
                demande_xml(
                    nom="VERT", num_unique=registered.num_unique, type_fichier="MOD", statut_dalo="ACTIF"
                )
            )
    assert caught.value.status == 503 and isinstance(caught.value, TransientError)
    assert len(world.requests) == 1


def test_retries_give_up_after_the_configured_attempts(
    server: SneServer, world: FakeSne, make_client: Callable[..., SneClient]
) -> None:
    world.faults.http_error(500, times=10)
    delays: list[float] = []
    client = make_client(server.url, retries=3, backoff_s=0.5)
    client.sleep = delays.append
    with pytest.raises(SneUnavailable):
        client.get_doublons(demande_xml())
    assert delays == [0.5, 1.0]
    assert len(world.requests) == 3


def test_soap_faults_are_permanent_and_not_retried(client: SneClient, world: FakeSne) -> None:
    world.faults.authorisation(operation="getDoublons", times=5)
    with pytest.raises(SneFault) as caught:
        client.get_doublons(demande_xml())
    assert isinstance(caught.value, PermanentError)
    assert len(world.requests) == 1


def test_certificate_name_fault_is_an_auth_error(client: SneClient, world: FakeSne) -> None:
    world.faults.soap_fault(
        "Sender", "Le nom du certificat associé [] n'est pas conforme.", operation="getNouveauxDaloDepuisLe"
    )
    from datetime import UTC, datetime

    with pytest.raises(SneCertificateRefused) as caught:
        client.get_nouveaux_dalo_depuis_le(datetime(2026, 1, 1, tzinfo=UTC))
    assert isinstance(caught.value, AuthError)


def test_a_truncated_answer_is_a_protocol_error(client: SneClient, world: FakeSne) -> None:
    world.faults.truncate(operation="getNumUnique")
    with pytest.raises(SneProtocolError):
        client.get_num_unique(demande_xml())


def test_a_reset_is_transient(client: SneClient, world: FakeSne) -> None:
    world.faults.reset(operation="getNumUnique")
    with pytest.raises(SneUnavailable):
        client.get_num_unique(demande_xml())


def test_a_slow_answer_times_out(
    server: SneServer, world: FakeSne, make_client: Callable[..., SneClient]
) -> None:
    world.sleep = time.sleep
    world.faults.slow(1.5, operation="getDoublons")
    client = make_client(server.url, timeout_s=0.3, retries=1)
    with pytest.raises(SneUnavailable) as caught:
        client.get_doublons(demande_xml())
    assert "délai" in str(caught.value)


def test_a_4xx_html_page_is_rejected(client: SneClient, world: FakeSne) -> None:
    world.faults.http_error(404, operation="getDoublons")
    with pytest.raises(SneRejected) as caught:
        client.get_doublons(demande_xml())
    assert caught.value.status == 404
