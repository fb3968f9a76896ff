from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from aiguilleur.domain.dossier import DocumentIn, DossierIn, ExternalRef
from aiguilleur.errors import InvalidTransition, NotFound, RejectedItemError
from aiguilleur.store.dossiers import DossierFilter


def demand(number: str = "A-1-N8F602RR", *, org: str = "nice", message_id: str = "", **data) -> DossierIn:
    return DossierIn(
        ref=ExternalRef("mdel", "msp-nice", number),
        organisation_id=org,
        procedure="RCO-LA",
        data={"Recensement": {"nom": "DUPONT", **data}},
        documents=(
            DocumentIn(name="cerfa.pdf", sha256="a" * 64, size_bytes=12, media_type="application/pdf"),
        ),
        origin=f"{number}-RCO-LA-1.zip",
        message_id=message_id,
        title="DUPONT Jean",
    )


def test_receive_creates_dossier_at_14_with_its_first_return(store):
    got = store.dossiers.receive(demand(message_id="m1"))
    assert got.outcome == "created"
    d = store.dossiers.get(got.dossier_id, None)
    assert d.status == 14 and d.version == 1
    assert [c.code for c in d.history] == [14]
    assert d.history[0].comment == "Le dossier a été reçu et sera traité prochainement."
    assert not d.history[0].is_transmitted
    assert [o.payload["code"] for o in store.outbox.list()] == [14]
    assert d.documents[0].name == "cerfa.pdf"
    assert d.allowed == [15, 16, 100] and not d.can_undo


def test_same_message_twice_creates_nothing(store):
    first = store.dossiers.receive(demand(message_id="m1"))
    again = store.dossiers.receive(demand(message_id="m1"))
    assert again.outcome == "duplicate" and again.dossier_id == first.dossier_id
    assert store.dossiers.search(DossierFilter(), None).total == 1
    assert len(store.outbox.list()) == 1


def test_later_receipt_is_a_new_version_keeping_history(store):
    first = store.dossiers.receive(demand(message_id="m1", motif="initial"))
    second = store.dossiers.receive(demand(message_id="m2", motif="complément"))
    assert (second.outcome, second.version) == ("updated", 2)
    d = store.dossiers.get(first.dossier_id, None)
    assert d.data["Recensement"]["motif"] == "complément"
    assert [v.number for v in d.versions] == [1, 2]
    assert [doc.version for doc in d.documents] == [1, 2]
    assert d.status == 14 and len(d.history) == 1  # a new version does not restart the workflow


def test_unknown_organisation_is_rejected(store):
    with pytest.raises(RejectedItemError, match="organisation inconnue"):
        store.dossiers.receive(demand(org="paris"))


def test_journal_redacts_personal_data(store):
    got = store.dossiers.receive(demand())
    store.journal.write(
        "note",
        "Appel de jean.dupont@example.org au 06 12 34 56 78",
        dossier_id=got.dossier_id,
        data={"nomNaissance": "DUPONT", "ville": "Nice"},
    )
    entry = store.dossiers.get(got.dossier_id, None).journal[-1]
    assert "example.org" not in entry.message and "06 12" not in entry.message
    assert entry.data == {"nomNaissance": "[masqué]", "ville": "Nice"}


def test_status_change_queues_return_in_same_transaction(store):
    got = store.dossiers.receive(demand())
    change = store.statuses.set(got.dossier_id, 16, "  pris en charge ", "agent", None)
    assert (change.code, change.comment, change.actor) == (16, "pris en charge", "agent")
    codes = sorted(o.payload["code"] for o in store.outbox.list())
    assert codes == [14, 16]


def test_refused_transition_writes_nothing(store):
    got = store.dossiers.receive(demand())
    with pytest.raises(InvalidTransition) as err:
        store.statuses.set(got.dossier_id, 19, "", "agent", None)
    assert err.value.allowed == (15, 16, 100)
    assert store.dossiers.get(got.dossier_id, None).status == 14
    assert len(store.outbox.list()) == 1


def test_scope_hides_other_organisations(store):
    got = store.dossiers.receive(demand())
    cannes = frozenset({"cannes"})
    with pytest.raises(NotFound):
        store.dossiers.get(got.dossier_id, cannes)
    with pytest.raises(NotFound):
        store.statuses.set(got.dossier_id, 16, "", "agent", cannes)
    assert store.dossiers.search(DossierFilter(), cannes).total == 0
    assert store.dossiers.search(DossierFilter(), frozenset({"nice"})).total == 1


def deliver_all(store, connector="msp-nice"):
    for item in store.outbox.due(connector):
        assert store.outbox.claim(item.id)
        store.outbox.mark_sent(item.id)


def test_undo_cancels_untransmitted_return(store):
    got = store.dossiers.receive(demand())
    deliver_all(store)
    store.statuses.set(got.dossier_id, 16, "", "agent", None)
    current = store.statuses.undo(got.dossier_id, "agent", None)
    assert current.code == 14
    d = store.dossiers.get(got.dossier_id, None)
    assert d.status == 14 and d.history[-1].undone_at is not None
    assert {o.payload["code"]: o.state for o in store.outbox.list()} == {14: "sent", 16: "cancelled"}
    assert store.outbox.due("msp-nice") == []


def test_undo_refused_once_transmitted(store):
    got = store.dossiers.receive(demand())
    store.statuses.set(got.dossier_id, 16, "", "agent", None)
    deliver_all(store)  # 14
    deliver_all(store)  # 16
    with pytest.raises(InvalidTransition, match="transmis"):
        store.statuses.undo(got.dossier_id, "agent", None)


def test_undo_refused_while_return_is_being_sent(store):
    got = store.dossiers.receive(demand())
    deliver_all(store)
    store.statuses.set(got.dossier_id, 16, "", "agent", None)
    (item,) = store.outbox.due("msp-nice")
    assert store.outbox.claim(item.id)
    with pytest.raises(InvalidTransition, match="en cours d'envoi"):
        store.statuses.undo(got.dossier_id, "agent", None)


def test_transmitted_done_is_closed_automatically(store):
    got = store.dossiers.receive(demand())
    store.statuses.set(got.dossier_id, 16, "", "agent", None)
    store.statuses.set(got.dossier_id, 19, "Attestation jointe", "agent", None)
    deliver_all(store)  # 14 (the others wait behind it, one per dossier)
    deliver_all(store)  # 16
    deliver_all(store)  # 19 -> automatic 100
    d = store.dossiers.get(got.dossier_id, None)
    assert d.status == 100 and d.history[-1].is_automatic and d.allowed == [] and not d.can_undo
    deliver_all(store)
    assert [o.state for o in store.outbox.list()] == ["sent"] * 4


def test_returns_of_one_dossier_leave_in_order(store):
    got = store.dossiers.receive(demand())
    store.statuses.set(got.dossier_id, 16, "", "agent", None)
    assert [i.code for i in store.outbox.due("msp-nice")] == [14]


def test_claim_is_exclusive_across_threads(store):
    store.dossiers.receive(demand())
    (item,) = store.outbox.due("msp-nice")
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait(timeout=10)
        results.append(store.outbox.claim(item.id))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert sorted(results) == [False, False, False, True]


def test_expired_claim_is_due_again(store, clock):
    store.dossiers.receive(demand())
    (item,) = store.outbox.due("msp-nice")
    assert store.outbox.claim(item.id)
    assert store.outbox.due("msp-nice") == []
    clock.advance(301)
    assert [i.id for i in store.outbox.due("msp-nice")] == [item.id]


def test_dead_return_can_be_retried_from_the_error_queue(store, clock):
    got = store.dossiers.receive(demand())
    (item,) = store.outbox.due("msp-nice")
    store.outbox.claim(item.id)
    assert store.outbox.mark_failed(item.id, "portail indisponible", retry_at=None) == "dead"
    assert store.outbox.list(states=("dead",))[0].last_error == "portail indisponible"
    with pytest.raises(NotFound):
        store.outbox.retry(item.id, "agent", frozenset({"cannes"}))
    store.outbox.retry(item.id, "agent", frozenset({"nice"}))
    assert [i.id for i in store.outbox.due("msp-nice")] == [item.id]
    kinds = [j.kind for j in store.dossiers.get(got.dossier_id, None).journal]
    assert "return-failed" in kinds and "return-retry" in kinds


def test_search_filters_and_paginates(store, clock):
    for i in range(7):
        clock.advance(60)
        store.dossiers.receive(demand(f"A-1-{i:08d}", org="nice" if i % 2 else "cannes"))
    page = store.dossiers.search(DossierFilter(organisation="nice"), None, limit=2, offset=0)
    assert page.total == 3 and [d.external_id for d in page.items] == ["A-1-00000005", "A-1-00000003"]
    page2 = store.dossiers.search(DossierFilter(organisation="nice"), None, limit=2, offset=2)
    assert [d.external_id for d in page2.items] == ["A-1-00000001"]
    assert store.dossiers.search(DossierFilter(search="a-1-00000004"), None).total == 1
    assert store.dossiers.search(DossierFilter(search="dupont"), None).total == 7
    assert store.dossiers.search(DossierFilter(status=16), None).total == 0


def test_outgoing_document_leaves_with_next_status(store):
    got = store.dossiers.receive(demand())
    doc = store.dossiers.attach_outgoing(
        got.dossier_id,
        None,
        name="attestation.pdf",
        sha256="b" * 64,
        size_bytes=3,
        media_type="application/pdf",
    )
    store.statuses.set(got.dossier_id, 16, "", "agent", None)
    payloads = {o.payload["code"]: o.payload for o in store.outbox.list()}
    assert payloads[16]["documents"] == [doc.id] and payloads[14]["documents"] == []


def test_search_ignores_accents_case_and_wildcards(store):
    store.dossiers.receive(
        DossierIn(
            ref=ExternalRef("mdel", "msp-nice", "A-1-ÉTÉ"),
            organisation_id="nice",
            procedure="AEC-LA",
            data={},
            title="Hélène LÉGER",
        )
    )
    store.dossiers.receive(demand("A-1-OTHER"))
    assert [d.title for d in store.dossiers.search(DossierFilter(search="helene leger"), None).items] == [
        "Hélène LÉGER"
    ]
    assert store.dossiers.search(DossierFilter(search="LÉGER"), None).total == 1
    assert store.dossiers.search(DossierFilter(search="%"), None).total == 0
    assert store.dossiers.search(DossierFilter(search="_"), None).total == 0


def test_claim_waits_for_the_backoff(store, clock):
    store.dossiers.receive(demand())
    (item,) = store.outbox.due("msp-nice")
    assert store.outbox.claim(item.id)
    retry_at = clock() + timedelta(seconds=60)
    assert store.outbox.mark_failed(item.id, "timeout", retry_at=retry_at) == "pending"
    assert not store.outbox.claim(item.id)
    clock.advance(61)
    assert store.outbox.claim(item.id)


def test_late_failure_report_does_not_revive_a_sent_item(store):
    store.dossiers.receive(demand())
    (item,) = store.outbox.due("msp-nice")
    store.outbox.claim(item.id)
    store.outbox.mark_sent(item.id)
    assert store.outbox.mark_failed(item.id, "late", retry_at=None) == "sent"


def test_receive_many_is_one_outcome_per_dossier_in_order(store):
    outcomes = store.dossiers.receive_many(
        [
            demand("A-1-ONE", message_id="m1"),
            demand("A-1-TWO", message_id="m2", org="nowhere"),
            demand("A-1-ONE", message_id="m3", motif="complément"),  # its version 2, in the same group
            demand("A-1-ONE", message_id="m1"),  # replayed within the group
            demand("A-1-THREE", message_id="m4"),
        ]
    )

    one, refused, version, replayed, three = outcomes
    assert (one.outcome, version.outcome, version.version) == ("created", "updated", 2)
    assert (replayed.outcome, replayed.dossier_id) == ("duplicate", one.dossier_id)
    assert isinstance(refused, RejectedItemError) and "nowhere" in str(refused)
    assert three.outcome == "created"
    assert store.dossiers.search(DossierFilter(), None).total == 2
    assert sorted(o.payload["external_id"] for o in store.outbox.list()) == ["A-1-ONE", "A-1-THREE"]
    assert [v.number for v in store.dossiers.get(one.dossier_id, None).versions] == [1, 2]


def test_receive_many_of_nothing_writes_nothing(store):
    assert store.dossiers.receive_many([]) == []


def test_groups_received_at_once_by_two_workers_make_one_dossier_per_reference(store):
    """Two processes importing the same new demands (two versions each) at the same moment."""
    numbers = [f"A-1-RACE{n}" for n in range(5)]
    outcomes: dict[str, list] = {}
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        group = [demand(number, message_id=f"{name}-{number}") for number in numbers]
        barrier.wait(timeout=10)
        outcomes[name] = store.dossiers.receive_many(group)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("w1", "w2")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)

    assert store.dossiers.search(DossierFilter(), None).total == len(numbers)
    for index in range(len(numbers)):
        pair = sorted((outcomes["w1"][index].outcome, outcomes["w2"][index].outcome))
        assert pair == ["created", "updated"]
        assert outcomes["w1"][index].dossier_id == outcomes["w2"][index].dossier_id
    assert len(store.outbox.list()) == len(numbers)  # one first return per dossier, not two
