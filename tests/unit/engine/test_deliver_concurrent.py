"""deliver_due with a channel that sends several returns at once (``return_senders``)."""

from __future__ import annotations

import threading
from typing import ClassVar

import pytest

from aiguilleur.connectors.base import Capability, ConnectorInfo, ConnectorSettings
from aiguilleur.engine.deliver import deliver_due
from aiguilleur.engine.hub import Hub
from aiguilleur.errors import AuthError, PermanentError, TransientError
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.outbox import OutboxItem
from aiguilleur.store.repository import Store
from aiguilleur.store.views import OutboxView

from .fakes import SAFETY_S, FakeChannel, channel, make_hub

NAME = "msp-nice"


class ConcurrentChannel(FakeChannel):
    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="concurrent",
        title="Canal aux retours simultanés",
        config_model=ConnectorSettings,
        capabilities=frozenset({Capability.POLL, Capability.STATUS_RETURN}),
    )
    return_senders = 2


@pytest.fixture
def hub(store: Store, blobs: BlobStore) -> Hub:
    return make_hub(store, blobs, {NAME: (ConcurrentChannel, ConnectorSettings(every=60, max_attempts=3))})


def receive(hub: Hub, *numbers: int) -> ConcurrentChannel:
    fake: ConcurrentChannel = channel(hub, NAME)
    for n in numbers:
        hub.store.dossiers.receive(fake.dossier(n))
    fake.incoming.clear()
    return fake


def outbox(store: Store) -> dict[str, OutboxView]:
    return {i.payload["external_id"]: i for i in store.outbox.list(connector=NAME)}


def counts(sent: int = 0, retry: int = 0, dead: int = 0, skipped: int = 0) -> dict[str, int]:
    return {"sent": sent, "retry": retry, "dead": dead, "skipped": skipped}


def fail_for(errors: dict[str, Exception]) -> object:
    def on_send(item: OutboxItem) -> None:
        if item.external_id in errors:
            raise errors[item.external_id]

    return on_send


def test_every_return_is_sent_and_recorded(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2, 3, 4, 5)

    assert deliver_due(hub, NAME, limit=3) == counts(sent=5)

    assert sorted(i.external_id for i in fake.sent) == ["D-1", "D-2", "D-3", "D-4", "D-5"]
    assert {i.state for i in outbox(store).values()} == {"sent"}
    assert deliver_due(hub, NAME) == counts()


def test_two_returns_are_in_flight_at_once(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2)
    both = threading.Barrier(2, timeout=SAFETY_S)  # broken, hence a retry, if sent one after the other
    fake.on_send = lambda item: both.wait()

    assert deliver_due(hub, NAME) == counts(sent=2)


def test_failures_are_recorded_by_kind(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2, 3, 4)
    fake.on_send = fail_for(
        {"D-2": TransientError("portail indisponible"), "D-3": PermanentError("dossier inconnu")}
    )

    assert deliver_due(hub, NAME) == counts(sent=2, retry=1, dead=1)

    items = outbox(store)
    assert [items[n].state for n in ("D-1", "D-2", "D-3", "D-4")] == ["sent", "pending", "dead", "sent"]
    assert items["D-2"].last_error == "portail indisponible"


def test_refused_credentials_stop_the_claims_and_record_those_in_flight(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2, 3, 4)
    fake.on_send = fail_for({"D-1": AuthError("clé SFTP refusée")})

    with pytest.raises(AuthError):
        deliver_due(hub, NAME)

    items = outbox(store)
    assert (items["D-1"].state, items["D-1"].attempts) == ("pending", 1)
    assert items["D-2"].state == "sent"  # claimed and sent with the first
    assert [(items[n].state, items[n].attempts) for n in ("D-3", "D-4")] == [("pending", 0)] * 2
    assert [i.external_id for i in fake.sent] == ["D-2"]


def test_stopping_sends_those_in_flight_and_claims_no_more(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2, 3)
    stopping, second_started = threading.Event(), threading.Event()

    def on_send(item: OutboxItem) -> None:
        if item.external_id == "D-1":  # still in flight when the hub stops
            assert second_started.wait(SAFETY_S)
        else:
            stopping.set()
            second_started.set()

    fake.on_send = on_send

    assert deliver_due(hub, NAME, stopping=stopping) == counts(sent=2)
    assert [outbox(store)[n].state for n in ("D-1", "D-2", "D-3")] == ["sent", "sent", "pending"]
