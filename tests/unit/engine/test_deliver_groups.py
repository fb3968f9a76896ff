"""deliver_due with a channel that delivers several returns at once (``GroupChannel.send_returns``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from aiguilleur.connectors.base import Capability, ConnectorInfo, ConnectorSettings
from aiguilleur.engine.deliver import GROUP, deliver_due
from aiguilleur.engine.hub import Hub
from aiguilleur.errors import AuthError, PermanentError, TransientError
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.outbox import OutboxItem
from aiguilleur.store.repository import Store
from aiguilleur.store.views import OutboxView

from .fakes import FakeChannel, channel, make_hub

NAME = "msp-nice"


class GroupingChannel(FakeChannel):
    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="grouping",
        title="Canal aux retours groupés",
        config_model=ConnectorSettings,
        capabilities=frozenset({Capability.POLL, Capability.STATUS_RETURN}),
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.groups: list[list[str]] = []
        self.group_error: Exception | None = None

    def send_returns(self, items: Sequence[OutboxItem]) -> list[Exception | None]:
        self.groups.append([i.external_id for i in items])
        if self.group_error is not None:
            raise self.group_error
        outcomes: list[Exception | None] = []
        for item in items:
            try:
                self.send_return(item)
                outcomes.append(None)
            except Exception as exc:
                outcomes.append(exc)
        return outcomes


@pytest.fixture
def hub(store: Store, blobs: BlobStore) -> Hub:
    return make_hub(store, blobs, {NAME: (GroupingChannel, ConnectorSettings(every=60, max_attempts=3))})


def receive(hub: Hub, *numbers: int) -> GroupingChannel:
    fake: GroupingChannel = channel(hub, NAME)
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


def test_returns_are_delivered_and_recorded_by_groups(hub: Hub, store: Store) -> None:
    numbers = range(1, GROUP + 6)
    fake = receive(hub, *numbers)

    assert deliver_due(hub, NAME) == counts(sent=len(numbers))

    assert [len(g) for g in fake.groups] == [GROUP, 5]
    assert [i.external_id for i in fake.sent] == [f"D-{n}" for n in numbers]
    assert {i.state for i in outbox(store).values()} == {"sent"}
    assert deliver_due(hub, NAME) == counts()


def test_a_return_claimed_elsewhere_is_skipped_not_sent(
    hub: Hub, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = receive(hub, 1, 2, 3)
    listed = store.outbox.due

    def due_then_claimed_by_another_worker(connector: str, *, limit: int = 100) -> list[OutboxItem]:
        items = listed(connector, limit=limit)
        for item in items:
            if item.external_id == "D-2":
                assert store.outbox.claim(item.id)
        return items

    monkeypatch.setattr(store.outbox, "due", due_then_claimed_by_another_worker)

    assert deliver_due(hub, NAME) == counts(sent=2, skipped=1)
    assert [i.external_id for i in fake.sent] == ["D-1", "D-3"]
    assert outbox(store)["D-2"].state == "sending"


def test_failures_are_recorded_by_kind(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2, 3, 4)
    fake.on_send = fail_for(
        {"D-2": TransientError("portail indisponible"), "D-3": PermanentError("dossier inconnu")}
    )

    assert deliver_due(hub, NAME) == counts(sent=2, retry=1, dead=1)

    items = outbox(store)
    assert [items[n].state for n in ("D-1", "D-2", "D-3", "D-4")] == ["sent", "pending", "dead", "sent"]
    assert items["D-2"].last_error == "portail indisponible"


def test_a_channel_failing_as_a_whole_fails_each_return_of_the_group(hub: Hub, store: Store) -> None:
    fake = receive(hub, 1, 2)
    fake.group_error = OSError(28, "No space left on device")

    assert deliver_due(hub, NAME) == counts(retry=2)

    items = outbox(store)
    assert [(items[n].state, items[n].attempts) for n in ("D-1", "D-2")] == [("pending", 1)] * 2
    assert "No space left on device" in (items["D-1"].last_error or "")


def test_refused_credentials_record_the_group_and_claim_no_more(hub: Hub, store: Store) -> None:
    fake = receive(hub, *range(1, GROUP + 3))
    fake.on_send = fail_for({"D-1": AuthError("clé SFTP refusée")})

    with pytest.raises(AuthError):
        deliver_due(hub, NAME)

    items = outbox(store)
    assert (items["D-1"].state, items["D-1"].attempts) == ("pending", 1)
    assert items["D-2"].state == "sent"  # delivered in the same group
    later = [f"D-{n}" for n in (GROUP + 1, GROUP + 2)]
    assert [(items[n].state, items[n].attempts) for n in later] == [("pending", 0)] * 2
    assert len(fake.groups) == 1


def test_stopping_finishes_the_group_and_claims_no_more(hub: Hub, store: Store) -> None:
    fake = receive(hub, *range(1, GROUP + 3))
    stopping = threading.Event()
    fake.on_send = lambda item: stopping.set()

    assert deliver_due(hub, NAME, stopping=stopping) == counts(sent=GROUP)
    assert len(fake.groups) == 1
    assert outbox(store)[f"D-{GROUP + 1}"].state == "pending"
