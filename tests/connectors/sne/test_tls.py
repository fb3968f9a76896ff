"""The mutual-TLS matrix from the client side, TLS 1.2 and 1.3, and the ways to give the certificate."""

from __future__ import annotations

import ssl
from collections.abc import Callable

import pytest

from aiguilleur.connectors.sne.client import SneClient
from aiguilleur.connectors.sne.errors import SneTlsRefused, SneUnavailable
from aiguilleur.connectors.sne.tls import TlsMaterial, build_context, load_material
from aiguilleur.errors import AuthError, ConfigError
from aiguilleur.fakes.sne import FakeSne, SneServer, demande_xml
from tests.conftest import Clock
from tests.connectors.sne.conftest import Pki, make_config, start_server

pytestmark = pytest.mark.integration

VERSIONS = [
    pytest.param(ssl.TLSVersion.TLSv1_2, id="tls1.2"),
    pytest.param(ssl.TLSVersion.TLSv1_3, id="tls1.3"),
]


def _client(url: str, pki: Pki, clock: Clock, cert: str | None) -> SneClient:
    if cert is None:  # no client certificate at all: a context without one
        config = make_config(url, pki)
        material = TlsMaterial(build_context(str(pki.files["ca"])), b"", None)
        return SneClient(config, material=material, now=clock)
    return SneClient(make_config(url, pki, cert), now=clock)


@pytest.mark.parametrize("version", VERSIONS)
def test_good_certificate(world: FakeSne, pki: Pki, clock: Clock, version: ssl.TLSVersion) -> None:
    server = start_server(world, pki, version)
    try:
        with _client(server.url, pki, clock, "client") as client:
            assert client.get_doublons(demande_xml()).doublons == ()
    finally:
        server.stop()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("cert", [None, "stranger", "expired"], ids=["no-cert", "other-ca", "expired"])
def test_refused_client_certificates_are_auth_errors(
    world: FakeSne, pki: Pki, clock: Clock, version: ssl.TLSVersion, cert: str | None
) -> None:
    server = start_server(world, pki, version)
    try:
        with _client(server.url, pki, clock, cert) as client, pytest.raises(AuthError) as caught:
            client.get_doublons(demande_xml())
        assert isinstance(caught.value, SneTlsRefused)
        assert world.requests == []
    finally:
        server.stop()


@pytest.mark.parametrize("version", VERSIONS)
def test_wrong_server_name_is_refused(
    world: FakeSne, pki: Pki, clock: Clock, version: ssl.TLSVersion
) -> None:
    server = start_server(world, pki, version, cert="misnamed")
    try:
        with _client(server.url, pki, clock, "client") as client, pytest.raises(SneTlsRefused) as caught:
            client.get_doublons(demande_xml())
        assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) or "certificate" in str(caught.value).lower()
    finally:
        server.stop()


def test_refusals_are_not_retried(world: FakeSne, pki: Pki, clock: Clock) -> None:
    server = start_server(world, pki, ssl.TLSVersion.TLSv1_2)
    try:
        with _client(server.url, pki, clock, "stranger") as client, pytest.raises(SneTlsRefused):
            client.get_doublons(demande_xml())
        assert len(server.tls_failures) == 1
    finally:
        server.stop()


def test_encrypted_key_and_pkcs12(
    server: SneServer, pki: Pki, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNE_KEY_PASSWORD", "s3cret")
    encrypted = make_config(
        server.url, pki, key_file=str(pki.files["client.encrypted-key"]), password_env="SNE_KEY_PASSWORD"
    )
    monkeypatch.setenv("SNE_P12_PASSWORD", "p12pass")
    p12 = make_config(
        server.url,
        pki,
        cert=None,
        pkcs12_file=str(pki.files["client.p12"]),
        password_env="SNE_P12_PASSWORD",
    )
    for config in (encrypted, p12):
        material = load_material(config)
        assert material.common_name == "G0000"
        assert material.certificate_pem.startswith(b"-----BEGIN CERTIFICATE-----")
        with SneClient(config, material=material, now=clock) as client:
            assert client.get_doublons(demande_xml()).doublons == ()


def test_bad_password_is_a_config_error(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNE_KEY_PASSWORD", "wrong")
    config = make_config(
        "https://127.0.0.1:1/",
        pki,
        key_file=str(pki.files["client.encrypted-key"]),
        password_env="SNE_KEY_PASSWORD",
    )
    with pytest.raises(ConfigError) as caught:
        load_material(config)
    assert caught.value.problems[0][0] == "cert_file"
    assert "wrong" not in str(caught.value)


def test_tls_below_1_2_is_never_offered(pki: Pki) -> None:
    material = load_material(make_config("https://127.0.0.1:1/", pki))
    assert material.context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_nobody_listening_is_transient(make_client: Callable[..., SneClient]) -> None:
    client = make_client("https://127.0.0.1:9/services/DemandeLogementImplService/", retries=1)
    with pytest.raises(SneUnavailable):
        client.get_doublons(demande_xml())
