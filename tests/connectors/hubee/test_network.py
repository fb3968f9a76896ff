"""The client's transport over real TLS: reads that gather TLS records, proxies left to httpx."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import httpx
import pytest
import trustme

from aiguilleur.connectors.hubee.client import Download, HubeeClient
from aiguilleur.connectors.hubee.network import https_transport
from aiguilleur.fakes.hubee import FakeHubee, HubeeServer, SeedFile, Subscription
from tests.connectors.hubee.conftest import hubee_config


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(CA, certificate, key) PEM files for 127.0.0.1."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(paths[0]))
    cert.cert_chain_pems[0].write_to_path(str(paths[1]))
    cert.private_key_pem.write_to_path(str(paths[2]))
    return paths


def test_download_over_tls_is_the_whole_file(
    world: FakeHubee, etatcivil: Subscription, tls_files: tuple[Path, Path, Path]
) -> None:
    content = random.Random(1).randbytes(3 * 1024 * 1024 + 7)  # many TLS records, an odd tail
    case = world.create_teledossier("EtatCivil", [SeedFile("scan.pdf", "PJ", "application/pdf", content)])
    ca_file, certfile, keyfile = tls_files
    sizes: list[int] = []

    def sink(download: Download) -> str:
        digest = hashlib.sha256()
        for chunk in download.chunks:
            sizes.append(len(chunk))
            digest.update(chunk)
        return digest.hexdigest()

    with HubeeServer(world, certfile=certfile, keyfile=keyfile) as server:
        config = hubee_config(
            etatcivil, api_url=server.base_url, token_url=server.token_url, ca_file=str(ca_file)
        )
        with HubeeClient(config) as client:
            [att] = client.get_case(case.id).attachments
            for _ in range(2):  # the second one on the kept-alive connection
                assert (
                    client.download_case_attachment(case.id, att.id, sink)
                    == hashlib.sha256(content).hexdigest()
                )
    assert sum(sizes) == 2 * len(content)
    assert max(sizes) <= 64 * 1024


def test_https_transport_leaves_an_environment_proxy_to_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = httpx.Limits(max_connections=2)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    assert https_transport(True, limits) is None
    monkeypatch.delenv("HTTPS_PROXY")
    for name in ("HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "localhost")
    assert isinstance(https_transport(True, limits), httpx.HTTPTransport)
