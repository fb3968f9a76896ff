"""The table of peer failures: every fault switch of the fake HubEE against the channel.

In process and over a real socket (`any_env`): what each failure does to a synchronisation, to the
queue, to the dossiers, to the error queue and to the connector's health.
"""

from __future__ import annotations

import time

import httpx
import pytest

from aiguilleur.fakes.hubee import FakeHubee, SeedFile, Subscription
from tests.connectors.hubee.conftest import Env

NAME = "etatcivil"
NOTIFICATIONS = "/teledossiers/v1/notifications"
CASES = "/teledossiers/v1/cases"


def statuses(world: FakeHubee, case_id: str) -> list[str | None]:
    case = world.case(case_id)
    return [e.case_new_status for e in case.events if e.transmitter == case.recipient]


@pytest.mark.parametrize(
    ("prefix", "status", "times", "retry_after", "expected_waits"),
    [
        pytest.param(NOTIFICATIONS, 500, 2, None, [1.0, 2.0], id="500-on-the-queue"),
        pytest.param(NOTIFICATIONS, 503, 1, 4, [4.0], id="maintenance-with-retry-after"),
        pytest.param(NOTIFICATIONS, 429, 1, 3, [3.0], id="throttled"),
        pytest.param(CASES, 502, 3, None, [1.0, 2.0, 4.0], id="502-on-cases"),
        pytest.param("/oauth2/token", 500, 1, None, [1.0], id="token-endpoint"),
    ],
)
def test_transient_failures_are_retried_and_the_run_succeeds(
    any_env: Env,
    etatcivil: Subscription,
    prefix: str,
    status: int,
    times: int,
    retry_after: int | None,
    expected_waits: list[float],
) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil)
    world.seed_one()
    world.fail_next(prefix, status, times=times, retry_after_s=retry_after)
    outcome = env.sync()
    assert outcome.is_ok, outcome
    assert outcome.counts["imported"] == 1
    assert env.waits == expected_waits
    assert world.faults.failures_served == times
    assert world.queue() == []


def test_lasting_outage_fails_the_run_then_marks_the_connector_down(
    any_env: Env, etatcivil: Subscription
) -> None:
    env, world = any_env, any_env.world
    channel = env.add(NAME, etatcivil, down_after=3)
    world.seed_one()
    world.fail_next(NOTIFICATIONS, 503, times=1000)
    for run in range(1, 4):
        outcome = env.sync()
        assert outcome.outcome == "failed" and "503" in (outcome.error or "")
        health = channel.check()
        assert health.is_ok == (run < 3), health
    assert "en panne" in channel.check().detail and "503" in channel.check().detail
    assert len(env.journal("connector-down")) == 1
    assert len(env.waits) == 3 * 4  # 5 tries a run
    env.sync()
    assert len(env.journal("connector-down")) == 1  # said once
    world.faults.clear()
    outcome = env.sync()
    assert outcome.is_ok and outcome.counts["imported"] == 1
    assert channel.check().is_ok and channel.check().detail == ""
    assert env.journal("connector-up") == [f"Connecteur {NAME} rétabli"]


def test_slow_answers_time_out_and_are_retried(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    if env.wire is None:  # over the socket: a real wait, longer than the client's timeout
        world.sleep = time.sleep
        delay = 1.0
    else:

        def too_slow(_delay: float) -> None:
            raise httpx.ReadTimeout("no answer in time")

        world.sleep = too_slow
        delay = 120.0
    env.add(NAME, etatcivil, timeout_s=0.3)
    world.seed_one()
    world.faults.slow(CASES, delay, times=1)
    outcome = env.sync()
    assert outcome.is_ok and outcome.counts["imported"] == 1
    assert env.waits == [1.0]
    assert world.faults.slow_served == 1


def test_token_expiring_mid_run_is_renewed(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    channel = env.add(NAME, etatcivil, workers=1)
    for _ in range(3):
        world.seed_one()
    stored: list[str] = []

    def expire(dossier_id: str) -> None:
        stored.append(dossier_id)
        if len(stored) == 1:
            world.faults.expire_tokens()  # the gateway forgets our token in the middle of the run

    channel.on_stored = expire
    outcome = env.sync()
    assert outcome.is_ok, outcome
    assert outcome.counts["imported"] == 3
    assert channel.client.tokens.fetched == 2
    assert world.queue() == []


def test_duplicate_and_shuffled_notifications(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil, notifications_batch=3)
    cases = [world.seed_one() for _ in range(5)]
    world.osl_event(cases[0].id, "SENDING_MESSAGE", message="Complément")
    world.faults.duplicate_notifications = True
    world.faults.shuffle_notifications = True
    outcome = env.sync()
    assert outcome.is_ok and outcome.counts["imported"] + outcome.counts.get("duplicate", 0) >= 5
    assert len(env.dossiers()) == 5
    assert all(statuses(world, c.id) == ["SI_RECEIVED"] for c in cases)
    assert world.queue() == []


@pytest.mark.parametrize("kind", ["flip", "truncate", "digest"])
def test_corrupted_download_is_downloaded_again(any_env: Env, etatcivil: Subscription, kind: str) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil)
    case = world.seed_one()
    world.faults.corrupt_next_download(case.attachments[1].id, kind, times=2)  # download_attempts = 3
    outcome = env.sync()
    assert outcome.is_ok and outcome.counts["imported"] == 1
    [dossier] = env.dossiers()
    assert len(dossier.documents) == 2
    assert world.faults.corruptions_served == 2


@pytest.mark.parametrize("kind", ["flip", "truncate", "digest"])
def test_corrupted_download_that_stays_corrupted_is_reported(
    any_env: Env, etatcivil: Subscription, kind: str
) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil)
    case = world.seed_one()
    world.faults.corrupt_next_download(case.attachments[1].id, kind, times=3)
    outcome = env.sync()
    assert outcome.is_ok  # one unusable télédossier does not fail the run
    assert outcome.counts == {"rejected": 1, "errors": 1}
    assert "ActeEtatCivil-PDF.pdf" in outcome.errors[0] and "corrompue 3 fois" in outcome.errors[0]
    assert env.dossiers() == []
    [event] = [e for e in world.case(case.id).events if e.transmitter == case.recipient]
    assert event.case_new_status == "SI_INTG_ERROR" and "ActeEtatCivil-PDF.pdf" in (event.message or "")
    assert world.case(case.id).status == "SI_INTG_ERROR"
    [entry] = env.journal("rejected")
    assert case.external_id in entry and "corrompue" in entry
    assert world.queue() == []
    assert env.sync().counts == {}


def test_purged_attachment_is_reported(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil)
    case = world.seed_one()
    world.faults.purge(case.attachments[0].id)
    outcome = env.sync()
    assert outcome.counts["rejected"] == 1 and "indisponible" in outcome.errors[0]
    assert statuses(world, case.id) == ["SI_INTG_ERROR"]
    assert len(env.journal("rejected")) == 1 and world.queue() == []


def test_files_purged_after_the_first_status_are_safe_already(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil)
    case = world.seed_one()
    world.faults.purge_on_status = "SI_RECEIVED"  # statusBeforeFileDeletion with no delay
    assert env.sync().counts["imported"] == 1
    assert all(a.id in world.faults.purged for a in world.case(case.id).attachments)
    [dossier] = env.dossiers()
    assert all(env.blobs.exists(d.sha256) for d in dossier.documents)


def test_gzip_answers(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil)
    world.seed_one()
    world.faults.gzip_responses = True
    assert env.sync().counts["imported"] == 1


def test_network_cut_before_the_platform_is_retried(env: Env, etatcivil: Subscription) -> None:
    assert env.wire is not None
    env.add(NAME, etatcivil)
    env.world.seed_one()
    env.wire.cut(CASES, httpx.ConnectError("connection refused"), times=2)
    env.wire.cut(CASES, httpx.RemoteProtocolError("peer closed connection"), times=1)
    outcome = env.sync()
    assert outcome.is_ok and outcome.counts["imported"] == 1
    assert env.waits == [1.0, 2.0, 4.0]


def test_refused_request_is_held_not_retried(env: Env, etatcivil: Subscription) -> None:
    env.add(NAME, etatcivil)
    env.world.seed_one()
    env.world.fail_next(CASES, 400)
    outcome = env.sync()
    assert outcome.is_ok and outcome.counts == {"held": 1, "errors": 1}
    assert env.waits == [] and len(env.world.queue()) == 1
    assert env.sync().counts["imported"] == 1  # the next run takes it


def test_token_of_another_demarche_fails_the_run(env: Env, etatcivil: Subscription) -> None:
    env.add(NAME, etatcivil)
    env.world.seed_one()
    env.world.fail_next(CASES, 403)
    outcome = env.sync()
    assert outcome.outcome == "failed" and "-> 403" in (outcome.error or "")
    assert len(env.world.queue()) == 1


def test_unreadable_business_file_is_reported(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil)
    bomb = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><a>&x;</a>'
    case = world.create_teledossier(
        "EtatCivil", [SeedFile("ActeEtatCivil-XML.xml", "ActeEtatCivil-XML", "application/xml", bomb)]
    )
    outcome = env.sync()
    assert outcome.counts["rejected"] == 1 and "DTD" in outcome.errors[0]
    assert statuses(world, case.id) == ["SI_INTG_ERROR"]


def test_too_big_attachment_is_reported_without_download(env: Env, etatcivil: Subscription) -> None:
    env.add(NAME, etatcivil, max_attachment_bytes=1024)
    case = env.world.create_teledossier(
        "EtatCivil", [SeedFile("scan.pdf", "PJ", "application/pdf", b"x" * 2048)]
    )
    outcome = env.sync()
    assert outcome.counts["rejected"] == 1 and "trop volumineuse" in outcome.errors[0]
    assert statuses(env.world, case.id) == ["SI_INTG_ERROR"]
    assert not [r for r in env.world.requests if "/attachments/" in r.path]


def test_corrupted_deposit_is_reported_on_the_dossier(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil)
    case = world.seed_one()
    env.sync()
    event = world.osl_event(
        case.id, "ATTACH_DEPOSIT", files=[SeedFile("complement.pdf", "PJ", "application/pdf", b"%PDF-1.4 x")]
    )
    world.faults.corrupt_next_download(event.attachments[0].id, "flip", times=3)
    outcome = env.sync()
    assert outcome.counts == {"rejected": 1, "errors": 1}
    [dossier] = env.dossiers()
    assert dossier.version == 1
    assert [j.kind for j in dossier.journal if j.kind == "rejected"] == ["rejected"]
    assert statuses(world, case.id) == ["SI_RECEIVED", "SI_INTG_ERROR"]
    assert world.case(case.id).events[1].status == "RECEIVED"  # the deposit was acknowledged
    assert world.queue() == []


class GarbledOnce(httpx.BaseTransport):
    """The platform answers one case read with something that is not a case."""

    def __init__(self, world: FakeHubee) -> None:
        self.world = world
        self.garbled = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(CASES) and request.method == "GET" and not self.garbled:
            self.garbled = True
            return httpx.Response(200, json={"id": "x", "unexpected": True})
        return self.world(request)


def test_unreadable_case_is_held_for_the_next_run(env: Env, etatcivil: Subscription) -> None:
    garbled = GarbledOnce(env.world)
    env.transport = lambda: garbled
    env.add(NAME, etatcivil)
    env.world.seed_one()
    outcome = env.sync()
    assert outcome.is_ok and outcome.counts == {"held": 1, "errors": 1}
    assert "illisible" in outcome.errors[0]
    assert env.sync().counts["imported"] == 1
