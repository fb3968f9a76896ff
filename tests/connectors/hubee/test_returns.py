"""Returns carrying documents: one ATTACH_DEPOSIT event, its binaries streamed, then released (SENT).

Over the fake HubEE in process and over a real socket (`any_env`), on both store backends; failures
between client and platform are injected in process (`env`).
"""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from aiguilleur.fakes.hubee import FakeHubee, Subscription
from aiguilleur.fakes.hubee.model import Event
from tests.connectors.hubee.conftest import Env, traced_peak

NAME = "etatcivil"
AGENT = "agent"
PDF = b"%PDF-1.4\n% attestation\n" + bytes(range(256)) * 40
EVENTS = "/teledossiers/v1/cases/{}/events"


def attach(env: Env, dossier_id: str, name: str, content: bytes, media_type: str = "application/pdf") -> None:
    ref = env.blobs.put_bytes(content)
    env.store.dossiers.attach_outgoing(
        dossier_id, None, name=name, sha256=ref.sha256, size_bytes=ref.size_bytes, media_type=media_type
    )


def imported(env: Env, **settings: object) -> tuple[str, str]:
    """A télédossier received by the connector: (case id, dossier id)."""
    [sub] = [s for s in env.world.subscriptions.values() if "EtatCivil" in s.process_codes]
    env.add(NAME, sub, **settings)
    case = env.world.seed_one()
    env.sync()
    [dossier] = env.dossiers()
    return case.id, dossier.id


def ours(world: FakeHubee, case_id: str) -> list[Event]:
    case = world.case(case_id)
    return [e for e in case.events if e.transmitter == case.recipient]


def content_of(world: FakeHubee, event: Event) -> list[bytes]:
    return [a.blob.read() for a in event.attachments if a.blob is not None]


@pytest.fixture(autouse=True)
def _subscription(etatcivil: Subscription) -> None:
    """The EtatCivil credential pair every test uses."""


def test_document_goes_back_as_one_attach_deposit(any_env: Env) -> None:
    env, world = any_env, any_env.world
    case_id, dossier_id = imported(env)
    attach(env, dossier_id, "../Attestation: recensement?.pdf", PDF)
    env.store.statuses.set(dossier_id, 16, "Votre attestation est jointe.", AGENT, None)

    assert env.sync().counts.get("returns_sent") == 1

    [minimal, deposit] = ours(world, case_id)
    assert (minimal.action_type, minimal.case_new_status) == ("STATUS_UPDATE", "SI_RECEIVED")
    assert (deposit.action_type, deposit.status) == ("ATTACH_DEPOSIT", "SENT")
    assert (deposit.case_new_status, deposit.message) == ("IN_PROGRESS", "Votre attestation est jointe.")
    [att] = deposit.attachments
    assert (att.file_name, att.mime_type, att.size, att.status) == (
        "Attestation recensement.pdf",
        "application/pdf",
        len(PDF),
        "RECEIVED",
    )
    assert content_of(world, deposit) == [PDF]
    assert world.case(case_id).status == "IN_PROGRESS"
    assert env.store.dossiers.get(dossier_id, None).history[-1].is_transmitted
    # the sender is notified once, when the deposit is released
    assert [n.event_id for n in world.state.notifications.values() if n.event_id] == [minimal.id, deposit.id]


def test_return_without_document_stays_a_status_update(any_env: Env) -> None:
    env, world = any_env, any_env.world
    case_id, dossier_id = imported(env)
    env.store.statuses.set(dossier_id, 16, "", AGENT, None)
    assert env.sync().counts.get("returns_sent") == 1
    assert [(e.action_type, e.case_new_status, e.attachments) for e in ours(world, case_id)] == [
        ("STATUS_UPDATE", "SI_RECEIVED", []),
        ("STATUS_UPDATE", "IN_PROGRESS", []),
    ]


def test_two_documents_of_one_name_are_both_declared(env: Env) -> None:
    case_id, dossier_id = imported(env)
    attach(env, dossier_id, "attestation.pdf", PDF)
    attach(env, dossier_id, "ATTESTATION.pdf", PDF + b"2", "application/octet-stream")
    env.store.statuses.set(dossier_id, 16, "", AGENT, None)
    env.sync()
    [_, deposit] = ours(env.world, case_id)
    assert [(a.file_name, a.mime_type) for a in deposit.attachments] == [
        ("attestation.pdf", "application/pdf"),
        ("ATTESTATION.1.pdf", "application/octet-stream"),
    ]
    assert content_of(env.world, deposit) == [PDF, PDF + b"2"]
    assert deposit.message == "Votre demande est en cours de traitement."


def test_lost_answer_to_the_post_makes_one_event(env: Env) -> None:
    assert env.wire is not None
    case_id, dossier_id = imported(env)
    attach(env, dossier_id, "attestation.pdf", PDF)
    env.store.statuses.set(dossier_id, 16, "", AGENT, None)
    env.wire.cut(EVENTS.format(case_id), httpx.ReadTimeout("lost"), method="POST", after=True)
    assert env.sync().counts.get("returns_sent") == 1
    [_, deposit] = ours(env.world, case_id)
    assert deposit.status == "SENT" and content_of(env.world, deposit) == [PDF]


def test_failure_after_the_post_resumes_the_same_event(env: Env) -> None:
    """The deposit was created, then the platform could not be reached: the next try finishes it."""
    assert env.wire is not None
    case_id, dossier_id = imported(env, retries=1)
    attach(env, dossier_id, "attestation.pdf", PDF)
    env.store.statuses.set(dossier_id, 16, "", AGENT, None)
    env.wire.cut(EVENTS.format(case_id), httpx.ConnectError("down"), method="PUT")
    assert env.sync().counts.get("returns_retry") == 1
    [_, waiting] = ours(env.world, case_id)
    assert (waiting.status, [a.status for a in waiting.attachments]) == ("IN_PROGRESS", ["PENDING"])

    env.clock.advance(3600)
    assert env.sync().counts.get("returns_sent") == 1
    [_, deposit] = ours(env.world, case_id)
    assert deposit.id == waiting.id and deposit.status == "SENT"
    assert content_of(env.world, deposit) == [PDF]


def test_failure_after_one_upload_sends_only_the_rest(env: Env) -> None:
    assert env.wire is not None
    case_id, dossier_id = imported(env, retries=1)
    attach(env, dossier_id, "attestation.pdf", PDF)
    attach(env, dossier_id, "courrier.pdf", PDF + b"courrier")
    env.store.statuses.set(dossier_id, 16, "", AGENT, None)
    # the first binary is stored, its answer lost: the return is tried again later
    env.wire.cut(EVENTS.format(case_id), httpx.ReadTimeout("lost"), method="PUT", after=True)
    assert env.sync().counts.get("returns_retry") == 1
    env.clock.advance(3600)
    assert env.sync().counts.get("returns_sent") == 1

    [_, deposit] = ours(env.world, case_id)
    assert deposit.status == "SENT"
    assert content_of(env.world, deposit) == [PDF, PDF + b"courrier"]
    puts = [r.url.path.rsplit("/", 1)[1] for r in env.wire.seen if r.method == "PUT"]
    first, second = (a.id for a in deposit.attachments)
    assert (puts.count(first), puts.count(second)) == (1, 1)  # never sent again once RECEIVED


def test_unfinished_deposit_that_cannot_be_resumed_is_made_again(env: Env) -> None:
    """Our IN_PROGRESS event declares other files (the agent replaced the document meanwhile)."""
    case_id, dossier_id = imported(env)
    attach(env, dossier_id, "attestation.pdf", PDF)
    env.store.statuses.set(dossier_id, 16, "", AGENT, None)
    [item] = env.store.outbox.due(NAME)
    channel = env.channels[NAME]
    stale = {"fileName": "autre.pdf", "type": "PJ", "size": 3, "mimeType": "application/pdf"}
    marker = f"aiguilleur:retour={item.id};changement={item.status_change_id}"
    body = {"actionType": "ATTACH_DEPOSIT", "notification": True, "partnerAttributes": marker}
    channel.client.create_event(case_id, {**body, "attachments": [stale]})

    channel.send_return(item)

    [_, deposit] = ours(env.world, case_id)
    assert deposit.status == "SENT" and content_of(env.world, deposit) == [PDF]


def test_deposit_refused_by_the_demarche_is_dead_with_a_readable_error(any_env: Env) -> None:
    env, world = any_env, any_env.world
    case_id, dossier_id = imported(env)
    world.faults.no_si_attachments.add("EtatCivil")
    attach(env, dossier_id, "attestation.pdf", PDF)
    env.store.statuses.set(dossier_id, 16, "", AGENT, None)

    outcome = env.sync()

    assert outcome.counts.get("returns_dead") == 1
    [dead] = env.store.outbox.list(states=("dead",))
    error = dead.last_error or ""
    assert "dépôt de attestation.pdf" in error and "télédossier" in error
    assert "SI attachment formats are not enabled for process EtatCivil" in error
    assert [e.action_type for e in ours(world, case_id)] == ["STATUS_UPDATE"]


def test_deposit_with_a_size_the_platform_refuses_is_dead_and_withdrawn(env: Env) -> None:
    assert env.wire is not None
    case_id, dossier_id = imported(env)
    attach(env, dossier_id, "attestation.pdf", PDF)
    env.store.statuses.set(dossier_id, 16, "", AGENT, None)
    env.world.fail_next(EVENTS.format(case_id) + "/", status=400)  # the PUT: "Bad request"

    assert env.sync().counts.get("returns_dead") == 1
    [dead] = env.store.outbox.list(states=("dead",))
    assert "400" in (dead.last_error or "") and "attestation.pdf" in (dead.last_error or "")
    assert [e.action_type for e in ours(env.world, case_id)] == ["STATUS_UPDATE"]  # deleted
    assert "DELETE" in {r.method for r in env.wire.seen}


def test_large_document_is_streamed(any_env: Env) -> None:
    """50 MB go up without the process's memory growing with them (client, and the fake alike)."""
    env, world = any_env, any_env.world
    case_id, dossier_id = imported(env)
    block = hashlib.sha256(b"bloc").digest() * 32 * 1024  # 1 MiB
    sha = hashlib.sha256()
    ref = env.blobs.put_stream(block for _ in range(50))
    for _ in range(50):
        sha.update(block)
    env.store.dossiers.attach_outgoing(
        dossier_id,
        None,
        name="gros.pdf",
        sha256=ref.sha256,
        size_bytes=ref.size_bytes,
        media_type="application/pdf",
    )
    env.store.statuses.set(dossier_id, 16, "", AGENT, None)

    outcome, peak = traced_peak(env.sync)

    assert outcome.counts.get("returns_sent") == 1
    assert peak < 8 * 1024 * 1024, peak
    [_, deposit] = ours(world, case_id)
    [att] = deposit.attachments
    assert att.size == 50 * len(block) and att.blob is not None
    assert att.blob.digest == base64.b64encode(sha.digest()).decode()
