"""Fixtures of the SNE client tests: a test PKI (trustme), the fake SNE over real TLS, a client on it."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from aiguilleur.connectors.sne.client import SneClient
from aiguilleur.connectors.sne.config import SneConfig
from aiguilleur.fakes.sne import FakeSne, SneServer
from tests.conftest import Clock


@dataclass
class Pki:
    ca: trustme.CA
    dir: Path
    files: dict[str, Path] = field(default_factory=dict)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("sne-client-pki")
    ca = trustme.CA()
    other_ca = trustme.CA()
    certs = {
        "server": ca.issue_cert("127.0.0.1", "localhost"),
        "misnamed": ca.issue_cert("sne.example"),  # a server certificate for another name
        "client": ca.issue_cert("client.example", common_name="G0000"),
        "stranger": other_ca.issue_cert("client.example", common_name="G0000"),
        "expired": ca.issue_cert(
            "client.example", common_name="G0000", not_after=datetime(2020, 1, 1, tzinfo=UTC)
        ),
    }
    files: dict[str, Path] = {}
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    files["ca"] = root / "ca.pem"
    for name, cert in certs.items():
        chain = root / f"{name}.crt"
        key = root / f"{name}.key"
        for i, pem in enumerate(cert.cert_chain_pems):
            pem.write_to_path(str(chain), append=i > 0)
        cert.private_key_pem.write_to_path(str(key))
        files[name] = chain
        files[f"{name}.key"] = key
    client = certs["client"]
    private = serialization.load_pem_private_key(client.private_key_pem.bytes(), None)
    encrypted = private.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    )
    (root / "client-encrypted.key").write_bytes(encrypted)
    files["client.encrypted-key"] = root / "client-encrypted.key"
    from cryptography import x509

    leaf = x509.load_pem_x509_certificate(client.cert_chain_pems[0].bytes())
    p12 = pkcs12.serialize_key_and_certificates(
        b"client",
        private,  # type: ignore[arg-type]
        leaf,
        None,
        serialization.BestAvailableEncryption(b"p12pass"),
    )
    (root / "client.p12").write_bytes(p12)
    files["client.p12"] = root / "client.p12"
    return Pki(ca, root, files)


@pytest.fixture
def world(clock: Clock) -> FakeSne:
    sne = FakeSne(now=clock, sleep=lambda _s: None, seed=7)
    sne.add_guichet("G0000", departement="059", certificate_cn="G0000")
    return sne


def start_server(
    world: FakeSne, pki: Pki, version: ssl.TLSVersion | None = None, cert: str = "server"
) -> SneServer:
    return SneServer(
        world,
        certfile=pki.files[cert],
        keyfile=pki.files[f"{cert}.key"],
        ca_file=pki.files["ca"],
        minimum_version=version or ssl.TLSVersion.TLSv1_2,
        maximum_version=version,
    ).start()


@pytest.fixture
def server(world: FakeSne, pki: Pki) -> Iterator[SneServer]:
    srv = start_server(world, pki)
    yield srv
    srv.stop()


def make_config(url: str, pki: Pki, cert: str | None = "client", **changes: Any) -> SneConfig:
    values: dict[str, Any] = {
        "url": url,
        "num_guichet": "G0000",
        "ca_file": str(pki.files["ca"]),
        "timeout_s": 5.0,
        "connect_timeout_s": 5.0,
        "backoff_s": 0.0,
    }
    if cert is not None:
        values["cert_file"] = str(pki.files[cert])
        values["key_file"] = str(pki.files[f"{cert}.key"])
    values.update(changes)
    return SneConfig(**values)


@pytest.fixture
def make_client(pki: Pki, clock: Clock) -> Iterator[Callable[..., SneClient]]:
    clients: list[SneClient] = []

    def build(url: str, cert: str | None = "client", **changes: Any) -> SneClient:
        client = SneClient(make_config(url, pki, cert, **changes), now=clock, sleep=lambda _s: None)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(server: SneServer, make_client: Callable[..., SneClient]) -> SneClient:
    return make_client(server.url)
