"""The fake HubEE over a real loopback socket (HTTP and TLS): the same answers as in process."""

from __future__ import annotations

import base64
import hashlib
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from aiguilleur.fakes.hubee import (
    SAMPLE_DEMARCHES,
    FakeHubee,
    HubeeServer,
    SeedFile,
    Subscription,
    serve_forever,
)
from tests.conftest import Clock
from tests.fakes.hubee.conftest import JDD, Api
from tests.fakes.hubee.test_conformance import run_full_scenario

pytestmark = pytest.mark.integration

Record = tuple[str, str, int, Any, dict[str, str]]
COMPARED_HEADERS = ("content-type", "content-length", "digest", "retry-after", "www-authenticate")


def world_on(clock: Clock) -> tuple[FakeHubee, Subscription, Subscription]:
    world = FakeHubee(now=clock, sleep=lambda _s: None, seed=7)
    world.samples_dir = JDD
    return world, world.add_subscription("EtatCivil"), world.add_osl_client()


def recorder(records: list[Record]) -> dict[str, list[Any]]:
    def hook(response: httpx.Response) -> None:
        response.read()
        try:
            body: Any = response.json()
        except ValueError:
            body = response.content
        headers = {k: response.headers[k] for k in COMPARED_HEADERS if k in response.headers}
        records.append(
            (response.request.method, response.request.url.path, response.status_code, body, headers)
        )

    return {"response": [hook]}


def scenario(client: httpx.Client, world: FakeHubee, si: Subscription, osl: Subscription) -> None:
    si_api, osl_api = Api(client, si), Api(client, osl)
    run_full_scenario(world, si_api, osl_api)
    world.fail_next("/teledossiers/v1/notifications", 429)
    si_api.get("/notifications")
    world.faults.expire_tokens()
    si_api.get("/notifications")
    client.get("/teledossiers/v1/nowhere")


@pytest.fixture
def served(clock: Clock) -> Iterator[tuple[HubeeServer, Subscription, Subscription]]:
    world, si, osl = world_on(clock)
    with HubeeServer(world) as server:
        yield server, si, osl


def test_server_answers_like_the_in_process_world(clock: Clock) -> None:
    in_process: list[Record] = []
    world, si, osl = world_on(clock)
    with httpx.Client(
        transport=httpx.MockTransport(world), base_url="http://x", event_hooks=recorder(in_process)
    ) as c:
        scenario(c, world, si, osl)
    over_socket: list[Record] = []
    world, si, osl = world_on(clock)
    with (
        HubeeServer(world) as server,
        httpx.Client(base_url=server.base_url, event_hooks=recorder(over_socket)) as client,
    ):
        scenario(client, world, si, osl)
    assert len(over_socket) == len(in_process) > 50
    for socket_record, process_record in zip(over_socket, in_process, strict=True):
        assert socket_record == process_record


def test_server_urls(served: tuple[HubeeServer, Subscription, Subscription]) -> None:
    server, _, _ = served
    assert server.base_url == f"http://127.0.0.1:{server.port}"
    assert server.token_url == f"{server.base_url}/oauth2/token"


def test_server_over_tls_with_a_trusted_certificate(clock: Clock, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    world, si, _ = world_on(clock)
    case = world.seed_one()
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with HubeeServer(world, certfile=certfile, keyfile=keyfile) as server:
        assert server.base_url.startswith("https://")
        with httpx.Client(base_url=server.base_url, verify=context) as client:
            token = client.post(
                server.token_url,
                auth=(si.client_id, si.client_secret),
                data={"grant_type": "client_credentials", "scope": "SI"},
            )
            assert token.status_code == 200
            api = Api(client, si)
            assert [n["caseId"] for n in api.notifications()] == [case.id]
        with httpx.Client(base_url=server.base_url) as untrusting, pytest.raises(httpx.ConnectError):
            untrusting.post("/oauth2/token")


def test_big_attachment_streams_over_the_socket(
    served: tuple[HubeeServer, Subscription, Subscription], tmp_path: Path
) -> None:
    server, si, _ = served
    big = tmp_path / "big.pdf"
    with big.open("wb") as f:
        for i in range(64):
            f.write(bytes([i]) * 65536)
    case = server.world.create_teledossier("EtatCivil", [SeedFile("big.pdf", "PJ", "application/pdf", big)])
    att = case.attachments[0]
    with httpx.Client(base_url=server.base_url) as client:
        api = Api(client, si)
        sha = hashlib.sha256()
        with client.stream(
            "GET", f"/teledossiers/v1/cases/{case.id}/attachments/{att.id}", headers=api.headers()
        ) as r:
            assert r.headers["content-length"] == str(64 * 65536)
            for chunk in r.iter_bytes():
                sha.update(chunk)
    assert base64.b64encode(sha.digest()).decode() == r.headers["digest"]


def test_gzip_answers_over_the_socket(served: tuple[HubeeServer, Subscription, Subscription]) -> None:
    server, si, _ = served
    server.world.seed_one()
    server.world.faults.gzip_responses = True
    with httpx.Client(base_url=server.base_url) as client:
        api = Api(client, si)
        response = api.get("/notifications")
        assert response.headers["content-encoding"] == "gzip"
        assert len(response.json()) == 1


def test_a_slow_answer_delays_only_its_request(clock: Clock) -> None:
    world = FakeHubee(now=clock)  # real sleep: this is the point
    sub = world.add_subscription("EtatCivil")
    world.faults.slow("/teledossiers/v1/cases", 1.0, times=1)
    with HubeeServer(world) as server, httpx.Client(base_url=server.base_url, timeout=5) as client:
        api = Api(client, sub).login()
        slow = threading.Thread(target=api.get, args=("/cases/00000000-0000-4000-8000-000000000000",))
        slow.start()
        time.sleep(0.1)
        started = time.monotonic()
        assert api.get("/notifications").status_code == 200
        assert time.monotonic() - started < 0.9
        slow.join()
        world.faults.slow("/teledossiers/v1/notifications", 1.0, times=1)
        with pytest.raises(httpx.ReadTimeout):
            api.get("/notifications", timeout=0.2)


def test_serve_forever_serves_the_samples_until_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=serve_forever, args=(0,), kwargs={"jdd_dir": JDD, "stop": stop})
    thread.start()
    try:
        out = ""
        deadline = time.monotonic() + 10
        while "OSL" not in out and time.monotonic() < deadline:
            time.sleep(0.02)
            out += capsys.readouterr().out
        lines = dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)
        [etatcivil] = [line for line in out.splitlines() if line.startswith("SI EtatCivil:")]
        client_id = etatcivil.split("client_id=")[1].split()[0]
        secret = etatcivil.split("client_secret=")[1]
        with httpx.Client(base_url=lines["api_url"]) as client:
            token = client.post(
                lines["token_url"],
                auth=(client_id, secret),
                data={"grant_type": "client_credentials", "scope": "SI"},
            ).json()["access_token"]
            notes = client.get(
                "/teledossiers/v1/notifications", headers={"Authorization": f"Bearer {token}"}
            ).json()
        # Nice subscribed to every sample démarche: one queue for the organisation (research §7)
        assert sorted(n["processCode"] for n in notes) == sorted(
            d.process_code for d in SAMPLE_DEMARCHES.values()
        )
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
