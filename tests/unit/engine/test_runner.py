from __future__ import annotations

import threading

import pytest

from aiguilleur.connectors.base import ConnectorSettings
from aiguilleur.engine.hub import Hub
from aiguilleur.engine.runner import run_connector
from aiguilleur.engine.tasks import deliver_returns, sync_connector
from aiguilleur.errors import NotFound, TransientError
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.repository import Store

from .fakes import FakeChannel, PollOnlyChannel, channel, make_hub


@pytest.fixture
def hub(store: Store, blobs: BlobStore) -> Hub:
    return make_hub(store, blobs, {"msp-nice": (FakeChannel, ConnectorSettings(every=60))})


def test_run_connector_records_ok_with_counts_and_delivers_the_imported_return(
    hub: Hub, store: Store
) -> None:
    fake = channel(hub, "msp-nice")
    fake.dossier(1)

    outcome = run_connector(hub, "msp-nice")

    assert (outcome.outcome, outcome.counts, outcome.errors, outcome.error) == (
        "ok",
        {"created": 1, "returns_sent": 1},
        [],
        None,
    )
    [run] = store.runs.latest("msp-nice")
    assert (run.id, run.outcome, run.trigger, run.counts) == (
        outcome.run_id,
        "ok",
        "schedule",
        outcome.counts,
    )
    assert run.ended_at is not None
    assert [(i.code, i.external_id) for i in fake.sent] == [(14, "D-1")]
    [item] = store.outbox.list(connector="msp-nice")
    assert (item.state, item.attempts, item.sent_at) == ("sent", 1, store.now())
    detail = store.dossiers.get(fake.sent[0].dossier_id, None)
    assert detail.history[0].is_transmitted


def test_run_connector_closes_a_dossier_once_its_19_is_delivered(hub: Hub, store: Store) -> None:
    fake = channel(hub, "msp-nice")
    fake.dossier(1)
    run_connector(hub, "msp-nice")  # 14 imported and transmitted
    dossier_id = fake.sent[0].dossier_id
    store.statuses.set(dossier_id, 16, "", "agent", None)
    store.statuses.set(dossier_id, 19, "Acte délivré", "agent", None)

    second = run_connector(hub, "msp-nice")  # 16, then 19 which closes the dossier, then that 100

    assert second.counts == {"returns_sent": 3}
    detail = store.dossiers.get(dossier_id, None)
    assert detail.status == 100
    assert [(c.code, c.is_transmitted, c.is_automatic) for c in detail.history] == [
        (14, True, True),
        (16, True, False),
        (19, True, False),
        (100, True, True),
    ]
    assert [i.code for i in fake.sent] == [14, 16, 19, 100]
    assert not [i for i in store.outbox.list(connector="msp-nice") if i.state == "pending"]


def test_run_connector_counts_rejected_items_without_failing(hub: Hub, store: Store) -> None:
    fake = channel(hub, "msp-nice")
    fake.rejects = ["demande-2.zip: archive illisible"]

    outcome = run_connector(hub, "msp-nice")

    assert (outcome.outcome, outcome.counts, outcome.errors) == (
        "ok",
        {"errors": 1},
        ["demande-2.zip: archive illisible"],
    )
    [run] = store.runs.latest("msp-nice")
    assert (run.outcome, run.errors) == ("ok", ["demande-2.zip: archive illisible"])


@pytest.mark.parametrize(
    ("error", "message"),
    [
        pytest.param(RuntimeError("boom"), "RuntimeError: boom", id="bug"),
        pytest.param(
            TransientError("msp-nice: SFTP indisponible"), "msp-nice: SFTP indisponible", id="peer-down"
        ),
    ],
)
def test_run_connector_records_a_failure_and_journals_it(
    hub: Hub, store: Store, error: Exception, message: str
) -> None:
    fake = channel(hub, "msp-nice")
    fake.run_error = error

    outcome = run_connector(hub, "msp-nice", trigger="cli")

    assert (outcome.outcome, outcome.error) == ("failed", message)
    [run] = store.runs.latest("msp-nice")
    assert (run.outcome, run.error, run.trigger) == ("failed", message, "cli")
    [entry] = store.journal.recent(connector="msp-nice", kinds=("run-failed",))
    assert message in entry.message


def test_run_connector_does_not_deliver_returns_after_a_failed_run(hub: Hub, store: Store) -> None:
    fake = channel(hub, "msp-nice")
    fake.dossier(1)
    run_connector(hub, "msp-nice")
    fake.sent.clear()
    store.statuses.set(store.outbox.list()[0].dossier_id, 16, "", "agent", None)
    fake.run_error = RuntimeError("boom")

    run_connector(hub, "msp-nice")

    assert fake.sent == []


def test_run_connector_is_interrupted_when_the_hub_stops(hub: Hub, store: Store) -> None:
    fake = channel(hub, "msp-nice")
    fake.dossier(1)
    stopping = threading.Event()
    stopping.set()

    outcome = run_connector(hub, "msp-nice", stopping=stopping)

    assert (outcome.outcome, outcome.counts) == ("interrupted", {"created": 1})
    assert store.runs.latest("msp-nice")[0].outcome == "interrupted"
    assert fake.sent == []  # the 14 waits for the next run
    assert [i.state for i in store.outbox.list()] == ["pending"]


def test_run_connector_closes_the_record_on_keyboard_interrupt(hub: Hub, store: Store) -> None:
    channel(hub, "msp-nice").run_error = KeyboardInterrupt()

    with pytest.raises(KeyboardInterrupt):
        run_connector(hub, "msp-nice")

    assert store.runs.latest("msp-nice")[0].outcome == "interrupted"


def test_run_connector_refuses_an_unknown_connector(hub: Hub, store: Store) -> None:
    with pytest.raises(NotFound, match="msp-nice"):
        run_connector(hub, "inconnu")

    assert store.runs.latest() == []


def test_run_connector_leaves_returns_alone_for_a_channel_without_returns(
    store: Store, blobs: BlobStore
) -> None:
    hub = make_hub(store, blobs, {"depot": (PollOnlyChannel, ConnectorSettings())})
    fake = channel(hub, "depot")
    fake.dossier(1)  # received with has_returns=True by this fake: the outbox holds a 14

    outcome = run_connector(hub, "depot")

    assert (outcome.outcome, outcome.counts) == ("ok", {"created": 1})
    assert fake.sent == []
    assert deliver_returns(hub, "depot") == {"sent": 0, "retry": 0, "dead": 0, "skipped": 0}


def test_tasks_are_the_runner_and_the_delivery(hub: Hub, store: Store) -> None:
    fake = channel(hub, "msp-nice")
    fake.dossier(1)
    fake.failures = [TransientError("indisponible")]

    outcome = sync_connector(hub, "msp-nice", "manual")
    assert (outcome.outcome, outcome.counts) == ("ok", {"created": 1, "returns_retry": 1})
    assert store.runs.latest("msp-nice")[0].trigger == "manual"

    store.now.advance(3600)  # type: ignore[attr-defined]
    assert deliver_returns(hub, "msp-nice") == {"sent": 1, "retry": 0, "dead": 0, "skipped": 0}
