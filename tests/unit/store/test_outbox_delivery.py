"""Outbox: what a channel reads to send a return (material), and mark_sent claiming the next one."""

from __future__ import annotations

import dataclasses

import pytest

from aiguilleur.errors import NotFound
from aiguilleur.store.repository import Store
from tests.unit.store.test_dossiers import demand


def test_material_has_the_dossier_data_its_documents_and_the_returns_sent(store: Store) -> None:
    first = store.dossiers.receive(demand("A-1-MAT", message_id="m1"))
    (item,) = store.outbox.due("msp-nice")
    material = store.outbox.material(item)
    assert material.data == {"Recensement": {"nom": "DUPONT"}}
    assert (material.documents, material.sent_before) == ((), 0)

    assert store.outbox.claim(item.id)
    store.outbox.mark_sent(item.id)
    doc = store.dossiers.attach_outgoing(
        first.dossier_id, None, name="attestation.pdf", sha256="b" * 64, size_bytes=3, media_type="x/y"
    )
    store.statuses.set(first.dossier_id, 16, "", "agent", None)
    (second,) = store.outbox.due("msp-nice")
    material = store.outbox.material(second)
    assert material.documents == (("attestation.pdf", "b" * 64),)
    assert second.document_ids == (doc.id,)
    assert material.sent_before == 1


def test_material_of_a_dossier_gone_is_not_found(store: Store) -> None:
    store.dossiers.receive(demand("A-1-GONE"))
    (item,) = store.outbox.due("msp-nice")
    with pytest.raises(NotFound):
        store.outbox.material(dataclasses.replace(item, dossier_id="no-such-dossier"))


def test_mark_sent_claims_the_next_return_in_the_same_transaction(store: Store) -> None:
    store.dossiers.receive(demand("A-1-ONE"))
    store.dossiers.receive(demand("A-1-TWO"))
    first, second = store.outbox.due("msp-nice")
    assert store.outbox.claim(first.id)

    assert store.outbox.mark_sent(first.id, claim_next=second.id)

    states = {i.id: i.state for i in store.outbox.list()}
    assert states == {first.id: "sent", second.id: "sending"}
    assert not store.outbox.claim(second.id)  # held by us already
    assert not store.outbox.mark_sent(second.id)  # without claim_next: nothing claimed
    assert {i.id: i.state for i in store.outbox.list()}[second.id] == "sent"


def test_mark_sent_does_not_claim_a_return_held_by_another_worker(store: Store) -> None:
    store.dossiers.receive(demand("A-1-ONE"))
    store.dossiers.receive(demand("A-1-TWO"))
    first, second = store.outbox.due("msp-nice")
    assert store.outbox.claim(first.id)
    assert store.outbox.claim(second.id)  # another worker

    assert not store.outbox.mark_sent(first.id, claim_next=second.id)


def test_mark_sent_twice_changes_nothing_and_an_unknown_item_is_not_found(store: Store) -> None:
    store.dossiers.receive(demand("A-1-ONE"))
    (item,) = store.outbox.due("msp-nice")
    assert store.outbox.claim(item.id)
    store.outbox.mark_sent(item.id)
    store.outbox.mark_sent(item.id)

    (view,) = store.outbox.list()
    assert (view.state, view.attempts) == ("sent", 1)
    assert len(store.journal.recent(kinds=("return",))) == 1
    with pytest.raises(NotFound):
        store.outbox.mark_sent(10_000)


def test_claim_many_takes_only_what_is_free_and_mark_sent_many_transmits_each(store: Store) -> None:
    for n in range(1, 5):
        store.dossiers.receive(demand(f"A-1-G{n}", message_id=f"g{n}"))
    items = store.outbox.due("msp-nice")
    assert store.outbox.claim(items[1].id)  # held by another worker

    claimed = store.outbox.claim_many([i.id for i in items])

    assert claimed == [items[0].id, items[2].id, items[3].id]
    assert store.outbox.claim_many(claimed) == []
    store.outbox.mark_sent_many(claimed)
    states = {o.id: o.state for o in store.outbox.list()}
    assert [states[i.id] for i in items] == ["sent", "sending", "sent", "sent"]
    for item in (items[0], items[2]):
        assert store.dossiers.get(item.dossier_id, None).history[0].is_transmitted


def test_mark_sent_many_of_an_unknown_return_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.outbox.mark_sent_many([987654])


def test_material_many_reads_each_return_and_marks_a_dossier_gone(store: Store) -> None:
    first = store.dossiers.receive(demand("A-1-M1", message_id="m1"))
    store.dossiers.receive(demand("A-1-M2", message_id="m2"))
    (item1, item2) = store.outbox.due("msp-nice")
    store.outbox.mark_sent_many([item1.id, item2.id])
    store.statuses.set(first.dossier_id, 16, "", "agent", None)
    (later,) = store.outbox.due("msp-nice")
    gone = dataclasses.replace(item2, dossier_id="no-such-dossier")

    material, missing = store.outbox.material_many([later, gone])

    assert not isinstance(material, NotFound)
    assert (material.data, material.sent_before) == ({"Recensement": {"nom": "DUPONT"}}, 1)
    assert isinstance(missing, NotFound)


def test_mark_sent_many_closes_the_dossiers_whose_final_status_went(store: Store) -> None:
    ids = [store.dossiers.receive(demand(f"A-1-C{n}", message_id=f"c{n}")).dossier_id for n in range(3)]
    store.outbox.mark_sent_many([i.id for i in store.outbox.due("msp-nice")])
    for dossier_id in ids[:2]:
        store.statuses.set(dossier_id, 15, "pièces illisibles", "agent", None)
    store.statuses.set(ids[2], 16, "", "agent", None)

    store.outbox.mark_sent_many([i.id for i in store.outbox.due("msp-nice")])

    assert [store.dossiers.get(i, None).status for i in ids] == [100, 100, 16]
    closures = [i for i in store.outbox.due("msp-nice") if i.code == 100]
    assert sorted(i.dossier_id for i in closures) == sorted(ids[:2])
