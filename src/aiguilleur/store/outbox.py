"""The outbox of returns: written with the status change, delivered in order, its state the indicator.

States: ``pending`` (waiting, ``next_try_at``), ``sending`` (claimed by a worker until
``claimed_until``; a crashed worker's claim expires), ``sent`` (transmitted), ``dead`` (given up,
shown in the error queue), ``cancelled`` (its change was undone before transmission).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from aiguilleur.errors import Conflict, NotFound
from aiguilleur.store import tables as t
from aiguilleur.store.views import OutboxView

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

    from aiguilleur.store.repository import Store

LEASE_S = 300.0

# Statements of the delivery path, built once: building a select() costs more than running it.
_OUTBOX_TABLE = t.Base.metadata.tables[t.OutboxItem.__tablename__]
_OUTBOX = _OUTBOX_TABLE.c
# Plain Core statements on the table: ORM-enabled ones would also synchronise the session's objects.
_CLAIM = (
    update(_OUTBOX_TABLE)
    .where(
        _OUTBOX.id == bindparam("b_id"),
        or_(
            (_OUTBOX.state == "pending") & (_OUTBOX.next_try_at <= bindparam("b_now")),
            (_OUTBOX.state == "sending") & (_OUTBOX.claimed_until <= bindparam("b_now")),
        ),
    )
    .values(state="sending", claimed_until=bindparam("b_until", type_=_OUTBOX.claimed_until.type))
)
_MARK_SENT = (
    update(_OUTBOX_TABLE)
    .where(_OUTBOX.id.in_(bindparam("b_ids", expanding=True)), _OUTBOX.state != "sent")
    .values(
        state="sent",
        sent_at=bindparam("b_now", type_=_OUTBOX.sent_at.type),
        claimed_until=None,
        last_error=None,
        attempts=_OUTBOX.attempts + 1,
    )
    .returning(_OUTBOX.id, _OUTBOX.status_change_id, _OUTBOX.dossier_id, _OUTBOX.connector, _OUTBOX.payload)
)
_EXISTING = select(_OUTBOX.id).where(_OUTBOX.id.in_(bindparam("b_ids", expanding=True)))
_INSERT = insert(_OUTBOX_TABLE)
_CHANGE_DOCUMENTS = (
    select(t.Document.id).where(t.Document.status_change_id == bindparam("b_change")).order_by(t.Document.id)
)
_DOSSIERS_DATA = select(t.Dossier.id, t.Dossier.data).where(
    t.Dossier.id.in_(bindparam("b_dossiers", expanding=True))
)
_SENT_BEFORE_MANY = (
    select(t.OutboxItem.dossier_id, func.count())
    .where(
        t.OutboxItem.dossier_id.in_(bindparam("b_dossiers", expanding=True)),
        t.OutboxItem.state == "sent",
        t.OutboxItem.id.not_in(bindparam("b_ids", expanding=True)),
    )
    .group_by(t.OutboxItem.dossier_id)
)
_ITEM_DOCUMENTS = (
    select(t.Document.name, t.Document.sha256)
    .where(
        t.Document.dossier_id == bindparam("b_dossier"),
        t.Document.id.in_(bindparam("b_ids", expanding=True)),
    )
    .order_by(t.Document.id)
)


def _pending(
    dossier_id: str, connector: str, change_id: int, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A new outbox row: pending, due at once."""
    return {
        "dossier_id": dossier_id,
        "status_change_id": change_id,
        "connector": connector,
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "next_try_at": now,
        "created_at": now,
        "claimed_until": None,
        "sent_at": None,
        "last_error": None,
    }


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One return to deliver, as a channel's ``send_return`` receives it."""

    id: int
    dossier_id: str
    connector: str
    external_id: str
    procedure: str
    code: int
    comment: str
    attempts: int
    status_change_id: int
    document_ids: tuple[int, ...]
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReturnMaterial:
    """What a channel reads to send one return, in one transaction (see `Outbox.material`)."""

    data: dict[str, Any]  # the dossier's data, as received
    documents: tuple[tuple[str, str], ...]  # (name, sha256) of the return's documents, in id order
    sent_before: int  # returns of the same dossier already sent, this one excluded


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def enqueue(
        self,
        s: Session,
        dossier: t.Dossier,
        change: t.StatusChange,
        now: datetime,
        *,
        documents: Sequence[int] | None = None,
    ) -> int:
        """Queue the return of ``change``, inside the caller's transaction; returns the item's id.

        The documents it carries are those attached to ``change``; ``documents`` gives their ids when the
        caller knows them (``()`` for a change just made, which nothing can reference yet).
        """
        if documents is None:
            documents = s.scalars(_CHANGE_DOCUMENTS, {"b_change": change.id}).all()
        payload = {
            "external_id": dossier.external_id,
            "procedure": dossier.procedure,
            "code": change.code,
            "previous_code": change.previous_code,
            "comment": change.comment,
            "at": change.at.isoformat(),
            "is_automatic": change.is_automatic,
            "documents": list(documents),
        }
        return self.insert(s, dossier.id, dossier.connector, change.id, payload, now)

    def insert(
        self,
        s: Session,
        dossier_id: str,
        connector: str,
        change_id: int,
        payload: dict[str, Any],
        now: datetime,
    ) -> int:
        """Queue a return whose payload is built (see `enqueue`), inside the caller's transaction."""
        values = _pending(dossier_id, connector, change_id, payload, now)
        key = cast("CursorResult[Any]", s.execute(_INSERT, values)).inserted_primary_key
        assert key is not None  # an INSERT of one row always has one
        return int(key[0])

    def insert_many(
        self, s: Session, returns: Sequence[tuple[str, str, int, dict[str, Any]]], now: datetime
    ) -> None:
        """Queue several returns whose payloads are built, as (dossier id, connector, change id, payload)."""
        s.execute(_INSERT, [_pending(*queued, now) for queued in returns])

    def due(self, connector: str, *, limit: int = 100) -> list[OutboxItem]:
        """Returns ready to send, oldest first, at most one per dossier so that order is kept."""
        now = self.store.now()
        stmt = (
            select(t.OutboxItem)
            .where(t.OutboxItem.connector == connector, t.OutboxItem.state.in_(("pending", "sending")))
            .order_by(t.OutboxItem.id)
            .limit(limit * 4)
        )
        result: list[OutboxItem] = []
        blocked: set[str] = set()
        with self.store.read() as s:
            for row in s.scalars(stmt):
                if row.dossier_id in blocked:
                    continue
                blocked.add(row.dossier_id)  # a later return never overtakes an earlier one
                ready = (
                    row.next_try_at <= now if row.state == "pending" else (row.claimed_until or now) <= now
                )
                if ready:
                    result.append(self._item(row))
                if len(result) >= limit:
                    break
        return result

    def claim(self, item_id: int, lease_s: float = LEASE_S) -> bool:
        """Take an item for delivery; False when another worker holds it or it is no longer due."""
        now = self.store.now()
        with self.store.write() as s:
            return self._claim(s, item_id, now, lease_s)

    def claim_many(self, item_ids: Sequence[int], lease_s: float = LEASE_S) -> list[int]:
        """`claim` for several items in one transaction; returns the ids claimed, in the given order."""
        now = self.store.now()
        with self.store.write() as s:
            return [item_id for item_id in item_ids if self._claim(s, item_id, now, lease_s)]

    def _claim(self, s: Session, item_id: int, now: datetime, lease_s: float) -> bool:
        until = now + timedelta(seconds=lease_s)
        res = s.execute(_CLAIM, {"b_id": item_id, "b_now": now, "b_until": until})
        return bool(res.rowcount)  # type: ignore[attr-defined]

    def material(self, item: OutboxItem) -> ReturnMaterial:
        """The dossier's data, the return's documents and how many returns of the dossier were sent.

        One read transaction, for `send_return`. Raises NotFound when the dossier no longer exists.
        """
        (material,) = self.material_many([item])
        if isinstance(material, NotFound):
            raise material
        return material

    def material_many(self, items: Sequence[OutboxItem]) -> list[ReturnMaterial | NotFound]:
        """`material` for several returns (each of another dossier), in one read transaction.

        A return whose dossier no longer exists has NotFound in its place.
        """
        if not items:
            return []
        dossier_ids = sorted({item.dossier_id for item in items})
        with self.store.read() as s:
            data: dict[str, dict[str, Any]] = dict(
                s.execute(_DOSSIERS_DATA, {"b_dossiers": dossier_ids}).all()
            )
            params = {"b_dossiers": dossier_ids, "b_ids": [item.id for item in items]}
            sent = dict(s.execute(_SENT_BEFORE_MANY, params).all())
            result: list[ReturnMaterial | NotFound] = []
            for item in items:
                if item.dossier_id not in data:
                    result.append(NotFound(f"dossier {item.dossier_id} introuvable"))
                    continue
                documents: tuple[tuple[str, str], ...] = ()
                if item.document_ids:
                    params = {"b_dossier": item.dossier_id, "b_ids": list(item.document_ids)}
                    documents = tuple((name, sha) for name, sha in s.execute(_ITEM_DOCUMENTS, params))
                result.append(
                    ReturnMaterial(
                        data=data[item.dossier_id],
                        documents=documents,
                        sent_before=int(sent.get(item.dossier_id, 0)),
                    )
                )
        return result

    def mark_sent(self, item_id: int, *, claim_next: int | None = None, lease_s: float = LEASE_S) -> bool:
        """The return reached the channel: its change becomes transmitted (and may close the dossier).

        With ``claim_next``, that item is claimed in the same transaction, as `claim` would (a round trip
        less per return); returns whether it was claimed (False without ``claim_next``).
        """
        now = self.store.now()
        with self.store.write() as s:
            self._mark_sent(s, [item_id], now)
            return claim_next is not None and self._claim(s, claim_next, now, lease_s)

    def mark_sent_many(self, item_ids: Sequence[int]) -> None:
        """`mark_sent` for several returns (each of another dossier), in one transaction.

        Raises NotFound, recording nothing, when one of them does not exist.
        """
        if not item_ids:
            return
        now = self.store.now()
        with self.store.write() as s:
            self._mark_sent(s, list(item_ids), now)

    def _mark_sent(self, s: Session, ids: list[int], now: datetime) -> None:
        """Mark returns sent by one statement; those sent already (a late answer) are left as they are."""
        rows = s.execute(_MARK_SENT, {"b_ids": ids, "b_now": now}).all()
        marked = {row[0] for row in rows}
        if len(marked) < len(set(ids)):
            left = [i for i in ids if i not in marked]
            found = set(s.scalars(_EXISTING, {"b_ids": left}))
            unknown = [i for i in left if i not in found]  # the others: sent already, by a late answer
            if unknown:
                raise NotFound(f"retour {unknown[0]} introuvable")
        self.store.statuses.transmitted_many(s, [row[1] for row in rows], now)
        self.store.journal.add_many(
            s,
            [
                self.store.journal.entry(
                    "return",
                    f"Retour du statut {payload.get('code')} transmis",
                    dossier_id=dossier_id,
                    connector=connector,
                    at=now,
                )
                for _, _, dossier_id, connector, payload in sorted(rows)
            ],
        )

    def mark_failed(self, item_id: int, error: str, *, retry_at: datetime | None) -> str:
        """A delivery failed: ``pending`` until ``retry_at``, or ``dead`` when None; returns the state."""
        with self.store.write() as s:
            row = s.get(t.OutboxItem, item_id)
            if row is None:
                raise NotFound(f"retour {item_id} introuvable")
            if row.state != "sending":  # a late answer for an item retried or given up meanwhile
                return row.state
            row.attempts += 1
            row.last_error = error[:2000]
            row.claimed_until = None
            if retry_at is None:
                row.state = "dead"
                self.store.journal.add(
                    s,
                    "return-failed",
                    f"Retour du statut {row.payload.get('code')} abandonné : {error}",
                    dossier_id=row.dossier_id,
                    connector=row.connector,
                )
            else:
                row.state, row.next_try_at = "pending", retry_at
            return row.state

    def retry(self, item_id: int, actor: str, scope: frozenset[str] | None = None) -> None:
        """Put a dead return back in the queue (error queue action)."""
        self._requeue(item_id, actor, scope, "pending")

    def discard(self, item_id: int, actor: str, scope: frozenset[str] | None = None) -> None:
        """Give up a dead return for good; its change stays untransmitted."""
        self._requeue(item_id, actor, scope, "cancelled")

    def _requeue(self, item_id: int, actor: str, scope: frozenset[str] | None, state: str) -> None:
        now = self.store.now()
        with self.store.write() as s:
            row = s.get(t.OutboxItem, item_id)
            if row is None:
                raise NotFound(f"retour {item_id} introuvable")
            self.store.dossiers.get_row(s, row.dossier_id, scope)  # NotFound outside the scope
            if row.state != "dead":
                raise Conflict(f"retour {item_id} : état « {row.state} », seul un retour en échec se relance")
            row.state, row.next_try_at = state, now
            if state == "pending":
                row.attempts = 0
            verb = "relancé" if state == "pending" else "abandonné"
            self.store.journal.add(
                s,
                "return-" + ("retry" if state == "pending" else "discard"),
                f"Retour {item_id} {verb}",
                dossier_id=row.dossier_id,
                connector=row.connector,
                actor=actor,
            )

    def list(
        self,
        *,
        states: tuple[str, ...] = (),
        connector: str | None = None,
        scope: frozenset[str] | None = None,
        limit: int = 200,
    ) -> list[OutboxView]:
        stmt = select(t.OutboxItem).join(t.Dossier, t.Dossier.id == t.OutboxItem.dossier_id)
        if states:
            stmt = stmt.where(t.OutboxItem.state.in_(states))
        if connector:
            stmt = stmt.where(t.OutboxItem.connector == connector)
        if scope is not None:
            stmt = stmt.where(t.Dossier.organisation_id.in_(sorted(scope)))
        with self.store.read() as s:
            return [
                OutboxView.model_validate(r)
                for r in s.scalars(stmt.order_by(t.OutboxItem.id.desc()).limit(limit))
            ]

    def _item(self, row: t.OutboxItem) -> OutboxItem:
        p = row.payload
        return OutboxItem(
            id=row.id,
            dossier_id=row.dossier_id,
            connector=row.connector,
            external_id=p["external_id"],
            procedure=p["procedure"],
            code=p["code"],
            comment=p.get("comment", ""),
            attempts=row.attempts,
            status_change_id=row.status_change_id,
            document_ids=tuple(p.get("documents", ())),
            payload=p,
        )
