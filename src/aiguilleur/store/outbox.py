"""The outbox of returns: written with the status change, delivered in order, its state the indicator.

States: ``pending`` (waiting, ``next_try_at``), ``sending`` (claimed by a worker until
``claimed_until``; a crashed worker's claim expires), ``sent`` (transmitted), ``dead`` (given up,
shown in the error queue), ``cancelled`` (its change was undone before transmission).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from aiguilleur.errors import Conflict, NotFound
from aiguilleur.store import tables as t
from aiguilleur.store.views import OutboxView

if TYPE_CHECKING:
    from aiguilleur.store.repository import Store

LEASE_S = 300.0


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


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def enqueue(self, s: Session, dossier: t.Dossier, change: t.StatusChange, now: datetime) -> t.OutboxItem:
        """Queue the return of ``change``, inside the caller's transaction."""
        docs = s.scalars(
            select(t.Document.id).where(t.Document.status_change_id == change.id).order_by(t.Document.id)
        ).all()
        item = t.OutboxItem(
            dossier_id=dossier.id,
            status_change_id=change.id,
            connector=dossier.connector,
            payload={
                "external_id": dossier.external_id,
                "procedure": dossier.procedure,
                "code": change.code,
                "previous_code": change.previous_code,
                "comment": change.comment,
                "at": change.at.isoformat(),
                "is_automatic": change.is_automatic,
                "documents": list(docs),
            },
            state="pending",
            attempts=0,
            next_try_at=now,
            created_at=now,
        )
        s.add(item)
        s.flush()
        return item

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
            res = s.execute(
                update(t.OutboxItem)
                .where(
                    t.OutboxItem.id == item_id,
                    or_(
                        (t.OutboxItem.state == "pending") & (t.OutboxItem.next_try_at <= now),
                        (t.OutboxItem.state == "sending") & (t.OutboxItem.claimed_until <= now),
                    ),
                )
                .values(state="sending", claimed_until=now + timedelta(seconds=lease_s))
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    def mark_sent(self, item_id: int) -> None:
        """The return reached the channel: its change becomes transmitted (and may close the dossier)."""
        now = self.store.now()
        with self.store.write() as s:
            row = s.get(t.OutboxItem, item_id)
            if row is None:
                raise NotFound(f"retour {item_id} introuvable")
            if row.state == "sent":
                return
            row.state, row.sent_at, row.claimed_until, row.last_error = "sent", now, None, None
            row.attempts += 1
            self.store.statuses.transmitted(s, row.status_change_id, now)
            self.store.journal.add(
                s,
                "return",
                f"Retour du statut {row.payload.get('code')} transmis",
                dossier_id=row.dossier_id,
                connector=row.connector,
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
