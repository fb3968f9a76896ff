from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from aiguilleur.connectors.base import ConnectorSettings
from aiguilleur.engine.deliver import backoff_s, deliver_due
from aiguilleur.engine.hub import Hub
from aiguilleur.errors import AuthError, PermanentError, TransientError
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.outbox import OutboxItem
from aiguilleur.store.repository import Store
from aiguilleur.store.views import OutboxView

from .fakes import FakeChannel, channel, make_hub

NAME = "msp-nice"


@pytest.fixture
def hub(store: Store, blobs: BlobStore) -> Hub:
    return make_hub(store, blobs, {NAME: (FakeChannel, ConnectorSettings(every=60, max_attempts=3))})


def receive(hub: Hub, *numbers: int) -> FakeChannel:
    """Dossiers received (each with its 14 queued), as a poll would leave them."""
    fake: FakeChannel = channel(hub, NAME)
    for n in numbers:
        hub.store.dossiers.receive(fake.dossier(n))
    fake.incoming.clear()
    return fake


def outbox(store: Store) -> list[OutboxView]:
    return sorted(store.outbox.list(connector=NAME), key=lambda i: i.id)


def counts(sent: int = 0, retry: int = 0, dead: int = 0, skipped: int = 0) -> dict[str, int]:
    return {"sent": sent, "retry": retry, "dead": dead, "skipped": skipped}


@pytest.mark.parametrize("attempts", range(12))
def test_backoff_doubles_from_30_seconds_up_to_an_hour_with_10_percent_jitter(attempts: int) -> None:
    base = min(30 * 2**attempts, 3600)
    for seed in range(1, 50):
        assert base * 0.9 <= backoff_s(attempts, seed) <= base * 1.1


def test_backoff_is_the_same_for_the_same_item() -> None:
    assert backoff_s(3, seed=42) == backoff_s(3, seed=42)
    assert len({backoff_s(3, seed) for seed in range(1, 20)}) > 1  # and differs between items


def test_deliver_due_retries_a_transient_failure_with_backoff_then_gives_up(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1)
    fake.failures = [TransientError("msp-nice: SFTP indisponible") for _ in range(3)]
    [item] = outbox(store)

    for attempts in (0, 1):
        now = store.now()
        assert deliver_due(hub, NAME) == counts(retry=1)
        [after] = outbox(store)
        assert (after.state, after.attempts, after.last_error) == (
            "pending",
            attempts + 1,
            "msp-nice: SFTP indisponible",
        )
        base = 30 * 2**attempts
        assert now + timedelta(seconds=base * 0.9) <= after.next_try_at <= now + timedelta(seconds=base * 1.1)
        assert after.next_try_at == now + timedelta(seconds=backoff_s(attempts, item.id))

        assert deliver_due(hub, NAME) == counts()  # not due yet
        store.now.advance((after.next_try_at - now).total_seconds())  # type: ignore[attr-defined]

    assert deliver_due(hub, NAME) == counts(dead=1)  # max_attempts = 3
    [dead] = outbox(store)
    assert (dead.state, dead.attempts) == ("dead", 3)
    assert fake.sent == []
    [entry] = store.journal.recent(connector=NAME, kinds=("return-failed",))
    assert "SFTP indisponible" in entry.message


def test_deliver_due_gives_up_at_once_on_a_permanent_failure(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1)
    fake.failures = [PermanentError("msp-nice: dossier inconnu du portail (404)")]

    assert deliver_due(hub, NAME) == counts(dead=1)

    [item] = outbox(store)
    assert (item.state, item.attempts, item.last_error) == (
        "dead",
        1,
        "msp-nice: dossier inconnu du portail (404)",
    )
    assert not store.dossiers.get(item.dossier_id, None).history[0].is_transmitted


def test_deliver_due_retries_an_unexpected_error(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1)
    fake.failures = [ValueError("bad value")]

    assert deliver_due(hub, NAME) == counts(retry=1)

    [item] = outbox(store)
    assert (item.state, item.last_error) == ("pending", "ValueError: bad value")


def test_deliver_due_stops_the_batch_when_credentials_are_refused(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2)
    fake.failures = [AuthError("msp-nice: clé SFTP refusée")]

    with pytest.raises(AuthError):
        deliver_due(hub, NAME)

    first, second = outbox(store)
    assert (first.state, first.attempts, first.last_error) == ("pending", 1, "msp-nice: clé SFTP refusée")
    assert (second.state, second.attempts) == ("pending", 0)  # not tried, not counted
    assert fake.sent == []


def test_deliver_due_sends_each_dossier_s_returns_in_order(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2)
    dossier_id = outbox(store)[0].dossier_id
    store.statuses.set(dossier_id, 16, "", "agent", None)

    # the 16 waits behind its 14, then leaves in the next batch of the same delivery
    assert deliver_due(hub, NAME) == counts(sent=3)
    assert [(i.external_id, i.code) for i in fake.sent] == [("D-1", 14), ("D-2", 14), ("D-1", 16)]
    assert deliver_due(hub, NAME) == counts()


def test_deliver_due_skips_a_return_another_worker_claimed(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2)
    first, second = outbox(store)

    def other_worker_claims_the_second(item: OutboxItem) -> None:
        if item.id == first.id:
            assert store.outbox.claim(second.id)

    fake.on_send = other_worker_claims_the_second

    assert deliver_due(hub, NAME) == counts(sent=1, skipped=1)
    assert [i.id for i in fake.sent] == [first.id]
    assert outbox(store)[1].state == "sending"


def test_deliver_due_stops_between_returns_when_the_hub_stops(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2)
    stopping = threading.Event()
    fake.on_send = lambda item: stopping.set()

    assert deliver_due(hub, NAME, stopping=stopping) == counts(sent=1)
    assert [i.state for i in outbox(store)] == ["sent", "pending"]


def test_deliver_due_sends_every_batch_until_nothing_is_due(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2, 3)

    assert deliver_due(hub, NAME, limit=2) == counts(sent=3)  # batches of 2, then 1
    assert sorted(i.external_id for i in fake.sent) == ["D-1", "D-2", "D-3"]
    assert deliver_due(hub, NAME, limit=2) == counts()
