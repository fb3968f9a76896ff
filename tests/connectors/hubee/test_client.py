"""HubeeClient against the fake HubEE in process: OAuth2, headers, retries, classification, streaming."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest

from aiguilleur.connectors.hubee.client import Download, HubeeClient
from aiguilleur.connectors.hubee.errors import (
    HubeeAuthRefused,
    HubeeNotFound,
    HubeeProtocolError,
    HubeeRejected,
    HubeeUnavailable,
    classify,
    retry_after_s,
)
from aiguilleur.errors import AuthError, PermanentError, TransientError
from aiguilleur.fakes.hubee import FakeHubee, SeedFile, Subscription
from tests.conftest import Clock
from tests.connectors.hubee.conftest import Wire, hubee_config

NOTIFICATIONS = "/teledossiers/v1/notifications"


class Monotonic:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def wire(world: FakeHubee) -> Wire:
    return Wire(world)


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


@pytest.fixture
def client(
    etatcivil: Subscription, wire: Wire, waits: list[float], monotonic: Monotonic
) -> Iterator[HubeeClient]:
    with HubeeClient(hubee_config(etatcivil), transport=wire, sleep=waits.append, clock=monotonic) as c:
        yield c


def token_requests(wire: Wire) -> list[httpx.Request]:
    return [r for r in wire.seen if r.url.path == "/oauth2/token"]


def test_token_is_client_credentials_with_basic_auth_and_form_body(
    client: HubeeClient, wire: Wire, etatcivil: Subscription
) -> None:
    client.list_notifications()
    [token] = token_requests(wire)
    assert token.url.host == "auth.hubee.test"
    expected = base64.b64encode(f"{etatcivil.client_id}:{etatcivil.client_secret}".encode()).decode()
    assert token.headers["Authorization"] == f"Basic {expected}"
    assert token.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token.content.decode()) == {"grant_type": ["client_credentials"], "scope": ["SI"]}
    assert etatcivil.client_secret not in token.content.decode()


def test_partner_headers_go_with_every_call_the_token_one_too(
    client: HubeeClient, world: FakeHubee, wire: Wire
) -> None:
    case = world.seed_one()
    client.list_notifications()
    client.get_case(case.id)
    client.get_case(case.id, lite=True)
    assert len(wire.seen) == 4
    for request in wire.seen:
        assert request.headers["editorName"] == "COMMUNE DE NICE"
        assert request.headers["applicationName"] == "aiguilleur"
        assert request.headers["softwareVersion"] == "9.9.9"
    assert {r.partner_info.software_version for r in world.requests} == {"9.9.9"}


def test_token_is_cached_then_renewed_shortly_before_expiry(
    client: HubeeClient, wire: Wire, monotonic: Monotonic
) -> None:
    for _ in range(3):
        client.list_notifications()
    assert len(token_requests(wire)) == 1
    monotonic.value += 3600 - 61  # one hour tokens, renewed 60 s before the end
    client.list_notifications()
    assert len(token_requests(wire)) == 1
    monotonic.value += 2
    client.list_notifications()
    assert len(token_requests(wire)) == 2


def test_token_refused_by_the_api_is_renewed_once(client: HubeeClient, world: FakeHubee, wire: Wire) -> None:
    client.list_notifications()
    world.faults.expire_tokens()  # the gateway's 900901 before the announced expiry
    assert client.list_notifications() == []
    assert len(token_requests(wire)) == 2
    assert client.tokens.fetched == 2


def test_a_second_401_is_an_auth_error(client: HubeeClient, world: FakeHubee, wire: Wire) -> None:
    world.fail_next(NOTIFICATIONS, 401, times=2)
    with pytest.raises(HubeeAuthRefused) as caught:
        client.list_notifications()
    assert isinstance(caught.value, AuthError)
    assert len(token_requests(wire)) == 2  # one renewal, no more


def test_wrong_secret_is_refused_without_retry(
    world: FakeHubee, etatcivil: Subscription, waits: list[float]
) -> None:
    config = hubee_config(etatcivil, client_secret="wrong")
    with (
        HubeeClient(config, transport=httpx.MockTransport(world), sleep=waits.append) as c,
        pytest.raises(HubeeAuthRefused, match="Client Authentication failed"),
    ):
        c.list_notifications()
    assert waits == []


def test_token_endpoint_down_is_retried(client: HubeeClient, world: FakeHubee, waits: list[float]) -> None:
    world.fail_next("/oauth2/token", 503, times=2)
    assert client.list_notifications() == []
    assert waits == [1.0, 2.0]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(500, HubeeUnavailable, id="500"),
        pytest.param(502, HubeeUnavailable, id="502"),
        pytest.param(503, HubeeUnavailable, id="maintenance"),
        pytest.param(429, HubeeUnavailable, id="throttled"),
        pytest.param(400, HubeeRejected, id="bad-request"),
        pytest.param(404, HubeeNotFound, id="not-found"),
        pytest.param(403, HubeeAuthRefused, id="other-demarche"),
    ],
)
def test_list_notifications_classifies_failures(
    client: HubeeClient,
    world: FakeHubee,
    wire: Wire,
    status: int,
    expected: type[Exception],
    waits: list[float],
) -> None:
    world.fail_next(NOTIFICATIONS, status, times=10)
    with pytest.raises(expected):
        client.list_notifications()
    calls = len([p for p in wire.paths() if p == NOTIFICATIONS])
    if issubclass(expected, TransientError):
        assert calls == 5  # the seed's NombreRetry
        assert waits[:4] == [1.0, 2.0, 4.0, 8.0] or status == 429
    else:
        assert issubclass(expected, PermanentError)
        assert calls == 1 and waits == []


def test_transient_failures_then_success(client: HubeeClient, world: FakeHubee, waits: list[float]) -> None:
    world.seed_one()
    world.fail_next(NOTIFICATIONS, 500, times=4)
    assert len(client.list_notifications()) == 1
    assert waits == [1.0, 2.0, 4.0, 8.0]


def test_retry_after_is_honoured(client: HubeeClient, world: FakeHubee, waits: list[float]) -> None:
    world.fail_next(NOTIFICATIONS, 429, retry_after_s=7)
    world.fail_next(NOTIFICATIONS, 503, retry_after_s=1)
    client.list_notifications()
    assert waits == [7.0, 2.0]  # the longer of Retry-After and the back-off


def test_back_off_is_capped(world: FakeHubee, etatcivil: Subscription, waits: list[float]) -> None:
    config = hubee_config(etatcivil, retries=8, backoff_s=10, backoff_max_s=30)
    world.fail_next(NOTIFICATIONS, 500, times=7)
    with HubeeClient(config, transport=httpx.MockTransport(world), sleep=waits.append) as c:
        c.list_notifications()
    assert waits == [10.0, 20.0, 30.0, 30.0, 30.0, 30.0, 30.0]


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(httpx.ConnectError("refused"), id="refused"),
        pytest.param(httpx.RemoteProtocolError("reset"), id="reset"),
        pytest.param(httpx.ReadError("connection reset by peer"), id="read-reset"),
        pytest.param(httpx.ReadTimeout("timed out"), id="timeout"),
    ],
)
def test_network_failures_are_retried(
    client: HubeeClient, wire: Wire, waits: list[float], exc: Exception
) -> None:
    wire.cut(NOTIFICATIONS, exc, times=2)
    assert client.list_notifications() == []
    assert waits == [1.0, 2.0]


def test_network_failures_that_last_become_unavailable(client: HubeeClient, wire: Wire) -> None:
    wire.cut(NOTIFICATIONS, httpx.ConnectTimeout("slow"), times=5)
    with pytest.raises(HubeeUnavailable, match="délai dépassé"):
        client.list_notifications()


def test_slow_answer_is_a_timeout_retried(
    world: FakeHubee, etatcivil: Subscription, waits: list[float]
) -> None:
    def too_slow(_delay: float) -> None:
        raise httpx.ReadTimeout("the platform took too long")

    world.sleep = too_slow
    world.faults.slow(NOTIFICATIONS, 120.0, times=1)
    with HubeeClient(hubee_config(etatcivil), transport=httpx.MockTransport(world), sleep=waits.append) as c:
        assert c.list_notifications() == []
    assert waits == [1.0]


def test_list_notifications_asks_the_queue_of_one_demarche(
    client: HubeeClient, world: FakeHubee, wire: Wire
) -> None:
    case = world.seed_one()
    [note] = client.list_notifications(process_codes=["EtatCivil"])
    params = next(r for r in wire.seen if r.url.path == NOTIFICATIONS).url.params
    assert params["maxResult"] == "25" and params["eventDetails"] == "true"
    assert params.get_list("processCode") == ["EtatCivil"]
    assert note.case_id == case.id and note.is_new_case and note.process_code == "EtatCivil"
    assert note.event_status is None
    assert client.list_notifications(process_codes=["CERTDC"]) == []


def test_delete_notification_twice(client: HubeeClient, world: FakeHubee) -> None:
    world.seed_one()
    [note] = client.list_notifications()
    assert client.delete_notification(note.id) is True
    assert client.delete_notification(note.id) is False
    assert client.list_notifications() == []


def test_case_events_and_acknowledgement(client: HubeeClient, world: FakeHubee) -> None:
    case = world.seed_one()
    read = client.get_case(case.id)
    assert read.status == "HUBEE_NOTIFIED" and len(read.attachments) == 2
    assert read.recipient.company_register == "21060088800015"
    assert client.get_case(case.id, lite=True).attachments == ()
    event = client.create_event(
        case.id, {"actionType": "STATUS_UPDATE", "notification": True, "caseNewStatus": "SI_RECEIVED"}
    )
    assert event.status == "SENT" and client.get_case(case.id).status == "SI_RECEIVED"
    message = world.osl_event(case.id, "SENDING_MESSAGE", message="Pièce manquante")
    assert client.get_event(case.id, message.id).message == "Pièce manquante"
    client.acknowledge_event(case.id, message.id)
    assert world.case(case.id).events[-1].status == "RECEIVED"
    client.update_case_status(case.id, "IN_PROGRESS")
    assert world.case(case.id).status == "IN_PROGRESS"
    with pytest.raises(HubeeNotFound, match="Case is not found"):
        client.get_case("00000000-0000-4000-8000-000000000000")


def test_download_streams_with_the_announced_digest(client: HubeeClient, world: FakeHubee) -> None:
    content = bytes(range(256)) * 4096  # 1 MiB
    case = world.create_teledossier("EtatCivil", [SeedFile("gros.pdf", "PDF", "application/pdf", content)])
    [att] = client.get_case(case.id).attachments
    chunks: list[int] = []

    def sink(download: Download) -> str:
        digest = hashlib.sha256()
        for chunk in download.chunks:
            chunks.append(len(chunk))
            digest.update(chunk)
        assert download.size == len(content)
        return digest.hexdigest()

    assert client.download_case_attachment(case.id, att.id, sink) == download_sha(content)
    assert sum(chunks) == len(content)


def download_sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_download_cut_midway_starts_again(
    client: HubeeClient, world: FakeHubee, wire: Wire, waits: list[float]
) -> None:
    case = world.seed_one()
    [att, _] = client.get_case(case.id).attachments
    path = f"/teledossiers/v1/cases/{case.id}/attachments/{att.id}"
    wire.cut(path, httpx.ReadError("reset"), times=1)
    seen: list[Download] = []

    def sink(download: Download) -> bytes:
        seen.append(download)
        return b"".join(download.chunks)

    data = client.download_case_attachment(case.id, att.id, sink)
    assert hashlib.sha256(data).hexdigest() == seen[0].sha256
    assert waits == [1.0]


def test_sink_errors_are_not_retried(client: HubeeClient, world: FakeHubee, waits: list[float]) -> None:
    case = world.seed_one()
    [att, _] = client.get_case(case.id).attachments

    def sink(_download: Download) -> None:
        raise ValueError("no room")

    with pytest.raises(ValueError, match="no room"):
        client.download_case_attachment(case.id, att.id, sink)
    assert waits == []


def test_purged_file_is_not_found(client: HubeeClient, world: FakeHubee) -> None:
    case = world.seed_one()
    [att, _] = client.get_case(case.id).attachments
    world.faults.purge(att.id)
    with pytest.raises(HubeeNotFound, match="File is not found"):
        client.download_case_attachment(case.id, att.id, lambda d: b"".join(d.chunks))
    assert client.get_case(case.id).attachments[0].status == "DELETED"


def test_gzip_answers_are_read(client: HubeeClient, world: FakeHubee) -> None:
    world.faults.gzip_responses = True
    world.seed_one()
    assert len(client.list_notifications()) == 1


def test_unreadable_answer_is_a_protocol_error(etatcivil: Subscription) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(200, json=[{"nothing": "useful"}])

    with (
        HubeeClient(hubee_config(etatcivil), transport=httpx.MockTransport(handler)) as c,
        pytest.raises(HubeeProtocolError, match="illisible"),
    ):
        c.list_notifications()


def test_classify_reads_the_platform_words() -> None:
    request = httpx.Request("GET", "https://api.hubee.test/teledossiers/v1/cases/x")
    gone = httpx.Response(
        404, json={"errors": [{"code": 404, "message": "Case is not found"}]}, request=request
    )
    assert "Case is not found" in str(classify(gone))
    fault = httpx.Response(
        401,
        json={"fault": {"code": 900901, "message": "Invalid Credentials", "description": "expired"}},
        request=request,
    )
    assert isinstance(classify(fault), HubeeAuthRefused)
    assert classify(httpx.Response(204, request=request)) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("12", 12.0, id="seconds"),
        pytest.param("Wed, 25 Nov 2026 08:00:30 GMT", 30.0, id="http-date"),
        pytest.param("soon", None, id="garbage"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_retry_after_values(value: str | None, expected: float | None, clock: Clock) -> None:
    from datetime import timedelta

    headers = {"Retry-After": value} if value is not None else {}
    response = httpx.Response(429, headers=headers)
    assert retry_after_s(response, now=clock() + timedelta(days=1)) == expected
