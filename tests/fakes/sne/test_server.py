"""The fake SNE over real TLS sockets with client certificates (trustme), TLS 1.2 and 1.3."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
import requests
import zeep
from zeep.transports import Transport

from aiguilleur.fakes.sne import FakeSne, Reply, SneServer, demande_xml, serve_forever
from tests.conftest import Clock
from tests.fakes.sne import golden
from tests.fakes.sne.conftest import NUU, Pki, read_reply, xml_of

pytestmark = pytest.mark.integration

VERSIONS = [
    pytest.param(ssl.TLSVersion.TLSv1_2, id="tls1.2"),
    pytest.param(ssl.TLSVersion.TLSv1_3, id="tls1.3"),
]


def start(world: FakeSne, pki: Pki, version: ssl.TLSVersion | None = None) -> SneServer:
    return SneServer(
        world,
        certfile=pki.files["server"],
        keyfile=pki.files["server"],
        ca_file=pki.files["ca"],
        minimum_version=version or ssl.TLSVersion.TLSv1_2,
        maximum_version=version,
    ).start()


@pytest.fixture
def world(clock: Clock) -> FakeSne:
    sne = FakeSne(now=clock, sleep=lambda _s: None, seed=5)
    sne.add_guichet("G0000", departement="059", certificate_cn="G0000")
    return sne


@pytest.fixture
def server(world: FakeSne, pki: Pki) -> Iterator[SneServer]:
    srv = start(world, pki)
    yield srv
    srv.stop()


def client_context(
    pki: Pki, cert: str | None = "client", version: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.files["ca"]))
    if version is not None:
        context.minimum_version = context.maximum_version = version
    if cert is not None:
        context.load_cert_chain(str(pki.files[cert]))
    return context


def post(
    server: SneServer,
    context: ssl.SSLContext,
    request: tuple[dict[str, str], bytes],
    connection: http.client.HTTPSConnection | None = None,
) -> Reply:
    headers, body = request
    conn = connection or http.client.HTTPSConnection(server.host, server.port, context=context, timeout=10)
    conn.request("POST", "/services/DemandeLogementImplService/", body=body, headers=headers)
    response = conn.getresponse()
    reply = Reply(response.status, list(response.getheaders()), response.read())
    if connection is None:
        conn.close()
    return reply


def wait_for(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("version", VERSIONS)
def test_good_client_certificate_is_accepted(world: FakeSne, pki: Pki, version: ssl.TLSVersion) -> None:
    server = start(world, pki, version)
    try:
        context = client_context(pki, version=version)
        reply = read_reply(post(server, context, golden.num_unique(demande_xml(), pki.client_pem)))
        assert reply.status == 200
        assert world.requests[-1].client_cn == "G0000"
        number = xml_of(reply.fields["fichierDemande"]).findtext(f".//{{{NUU}}}numUnique")
        assert number and len(number) == 18
        assert isinstance(reply.fields["attestation"], bytes)
    finally:
        server.stop()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("cert", [None, "stranger", "expired"], ids=["no-cert", "other-ca", "expired"])
def test_bad_client_certificates_are_refused_at_the_tls_layer(
    world: FakeSne, pki: Pki, version: ssl.TLSVersion, cert: str | None
) -> None:
    server = start(world, pki, version)
    try:
        context = client_context(pki, cert, version)
        # TLS 1.2 fails in the handshake; TLS 1.3 completes it client-side and fails on the first read
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
            post(server, context, golden.doublons(demande_xml()))
        assert wait_for(lambda: len(server.tls_failures) == 1), server.tls_failures
        assert world.requests == []
    finally:
        server.stop()


def test_tls_below_1_2_is_refused(server: SneServer, pki: Pki) -> None:
    context = client_context(pki)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: that is the point
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionError)):
        post(server, context, golden.doublons(demande_xml()))
    with pytest.raises(ValueError, match=r"TLS 1\.2"):
        SneServer(
            FakeSne(),
            certfile=pki.files["server"],
            keyfile=pki.files["server"],
            ca_file=pki.files["ca"],
            minimum_version=ssl.TLSVersion.TLSv1_1,
        )


def test_wrong_server_name_is_refused_by_a_verifying_client(server: SneServer, pki: Pki) -> None:
    raw = socket.create_connection((server.host, server.port), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        client_context(pki).wrap_socket(raw, server_hostname="wrong.example")
    raw.close()


def test_client_certificate_of_an_unknown_guichet_is_a_soap_fault(
    world: FakeSne, server: SneServer, pki: Pki
) -> None:
    reply = read_reply(post(server, client_context(pki, "other_guichet"), golden.doublons(demande_xml())))
    assert reply.status == 500 and world.requests[-1].check == "sne.auth"


def test_six_operations_over_one_keep_alive_connection(world: FakeSne, server: SneServer, pki: Pki) -> None:
    conn = http.client.HTTPSConnection(server.host, server.port, context=client_context(pki), timeout=10)
    pem = pki.client_pem
    first = read_reply(post(server, None, golden.num_unique(demande_xml(), pem), conn))
    number = xml_of(first.fields["fichierDemande"]).findtext(f".//{{{NUU}}}numUnique") or ""
    fichier = demande_xml(type_fichier="MOD", num_unique=number, statut_dalo="ACTIF")
    requests_ = [
        golden.demande_logement(number.encode(), pem),
        golden.doublons(demande_xml()),
        golden.declaration_dalo(fichier, pem),
        golden.nouveaux_dalo(b"2026-11-24T00:00:00.0+01:00", pem),
        golden.radiees(b"2026-11-24T00:00:00.0+01:00", pem, b'<motifRadiation code="RADATT"/>'),
    ]
    answers = [read_reply(post(server, None, r, conn)) for r in requests_]
    conn.close()
    assert [a.status for a in answers] == [200] * 5
    assert [a.wrapper for a in answers] == [
        "demandeLogementReponse",
        "rechercheDoublonsReponse",
        "declarationNouveauDaloReponse",
        "nouveauxDaloDepuisLeReponse",
        "demandesRadieesDepuisLeReponse",
    ]
    assert xml_of(answers[3].fields["fichierNouveauxDalo"]).findtext(f".//{{{NUU}}}numUnique") == number
    assert answers[4].fields == {}


def test_chunked_request_body(server: SneServer, pki: Pki) -> None:
    headers, body = golden.doublons(demande_xml())
    conn = http.client.HTTPSConnection(server.host, server.port, context=client_context(pki), timeout=10)
    conn.request(
        "POST",
        "/services/DemandeLogementImplService/",
        body=iter([body[:100], body[100:]]),
        headers=headers,
        encode_chunked=True,
    )
    assert conn.getresponse().status == 200
    conn.close()


def test_reset_switch_resets_the_connection(world: FakeSne, server: SneServer, pki: Pki) -> None:
    world.faults.reset()
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, ssl.SSLError)):
        post(server, client_context(pki), golden.doublons(demande_xml()))
    assert post(server, client_context(pki), golden.doublons(demande_xml())).status == 200


def test_zeep_reads_the_served_wsdl_and_the_mtom_answers(world: FakeSne, server: SneServer, pki: Pki) -> None:
    number = world.seed(demande_xml(nom="ZEEP")).num_unique
    session = requests.Session()
    session.cert = (str(pki.files["client.crt"]), str(pki.files["client.key"]))
    session.verify = str(pki.files["ca"])
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
    client = zeep.Client(server.wsdl_url, transport=Transport(session=session))
    certificat = {"_value_1": pki.client_pem, "contentType": "application/x-x509-ca-cert"}
    result = client.service.getDemandeLogement(
        numUnique=number, nomCertificat="CERG0000.pem", certificat=certificat
    )
    assert world.requests[-1].framing == "plain"  # zeep sends inline base64 (research §5.1)
    assert result.nomFichierDemande == f"DEM-{number}.xml"
    assert b"<ns1:nom>ZEEP</ns1:nom>" in result.fichierDemande._value_1
    world.faults.unexpected()
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.getDemandeLogement(
            numUnique=number, nomCertificat="CERG0000.pem", certificat=certificat
        )
    assert caught.value.message == "Une erreur inattendue est survenue lors du traitement de la demande."
    session.close()


def test_serve_forever_prints_the_endpoint_and_stops(pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    thread = threading.Thread(
        target=serve_forever,
        args=(0, pki.files["server"], pki.files["server"], pki.files["ca"]),
        kwargs={"stop": stop},
        daemon=True,
    )
    thread.start()
    printed: list[str] = []

    def has_wsdl_line() -> bool:
        printed.append(capsys.readouterr().out)
        return "wsdl = https://127.0.0.1:" in "".join(printed)

    assert wait_for(has_wsdl_line)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert "(DALO ACTIF)" in "".join(printed) and "(radiée)" in "".join(printed)
