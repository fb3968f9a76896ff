"""Status changes as agents make them: the workflow's rules applied and persisted with their return."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from aiguilleur.domain.statuses import AUTO_CLOSE_COMMENT, AUTO_CLOSING, Change, Status, Workflow
from aiguilleur.errors import InvalidTransition
from aiguilleur.store import tables as t
from aiguilleur.store.dossiers import Scope
from aiguilleur.store.views import StatusChangeView

if TYPE_CHECKING:
    from aiguilleur.store.repository import Store

_CHANGES = t.Base.metadata.tables[t.StatusChange.__tablename__].c
# a plain Core statement: the session's objects are not synchronised (see `transmitted_many`)
_TRANSMIT_MANY = (
    update(t.Base.metadata.tables[t.StatusChange.__tablename__])
    .where(_CHANGES.id.in_(bindparam("b_ids", expanding=True)), _CHANGES.transmitted_at.is_(None))
    .values(transmitted_at=bindparam("b_now", type_=_CHANGES.transmitted_at.type))
    .returning(_CHANGES.id, _CHANGES.code, _CHANGES.undone_at, _CHANGES.dossier_id)
)
_EFFECTIVE = (
    select(t.StatusChange)
    .where(t.StatusChange.dossier_id == bindparam("b_dossier"), t.StatusChange.undone_at.is_(None))
    .order_by(t.StatusChange.id)
)


class Statuses:
    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def workflow(changes: Sequence[t.StatusChange]) -> Workflow:
        """The workflow of the effective (not undone) changes, oldest first."""
        return Workflow.of(
            [
                Change(Status(c.code), c.transmitted_at is not None, c.is_automatic)
                for c in changes
                if c.undone_at is None
            ]
        )

    def _effective(self, s: Session, dossier_id: str) -> list[t.StatusChange]:
        return list(s.scalars(_EFFECTIVE, {"b_dossier": dossier_id}))

    def set(self, dossier_id: str, code: int, comment: str, actor: str, scope: Scope) -> StatusChangeView:
        """Move a dossier to ``code``; the return is queued in the same transaction.

        Raises ``NotFound`` outside ``scope`` and ``InvalidTransition`` (with the allowed codes).
        """
        now = self.store.now()
        with self.store.write() as s:
            row = self.store.dossiers.get_row(s, dossier_id, scope, lock=True)
            changes = self._effective(s, row.id)
            workflow = self.workflow(changes)
            new = workflow.set(code)
            change = self._record(s, row, new.code, comment.strip(), actor, now, previous=changes[-1].code)
            # back-office documents waiting for a return leave with this one
            s.execute(
                update(t.Document)
                .where(
                    t.Document.dossier_id == row.id,
                    t.Document.direction == "out",
                    t.Document.status_change_id.is_(None),
                )
                .values(status_change_id=change.id)
            )
            if row.has_returns:
                self.store.outbox.enqueue(s, row, change, now)
            self.store.journal.add(
                s,
                "status",
                f"Statut {code} ({new.code.label})" + (f" : {comment.strip()}" if comment.strip() else ""),
                dossier_id=row.id,
                connector=row.connector,
                actor=actor,
            )
            return StatusChangeView.of(change)

    def undo(self, dossier_id: str, actor: str, scope: Scope) -> StatusChangeView:
        """Cancel the last change while it is untransmitted; returns the change current again."""
        now = self.store.now()
        with self.store.write() as s:
            row = self.store.dossiers.get_row(s, dossier_id, scope, lock=True)
            changes = self._effective(s, row.id)
            workflow = self.workflow(changes)
            closure = workflow.undo()  # raises InvalidTransition with the reason
            last = changes[-1]
            item = s.scalars(select(t.OutboxItem).where(t.OutboxItem.status_change_id == last.id)).first()
            if item is not None:
                # even an expired claim may still be on the wire: the next delivery settles it first
                if item.state == "sending":
                    raise InvalidTransition(
                        f"annulation impossible : le statut {last.code} est en cours d'envoi",
                        tuple(sorted(workflow.allowed())),
                    )
                item.state = "cancelled"
            last.undone_at, last.undone_by = now, actor
            s.execute(
                update(t.Document).where(t.Document.status_change_id == last.id).values(status_change_id=None)
            )
            previous = changes[-2]
            row.status, row.updated_at = previous.code, now
            self.store.journal.add(
                s,
                "undo",
                f"Statut {last.code} annulé, retour au statut {previous.code}",
                dossier_id=row.id,
                connector=row.connector,
                actor=actor,
            )
            if closure is not None:
                return StatusChangeView.of(self._auto_close(s, row, previous.code, now))
            return StatusChangeView.of(previous)

    def _record(
        self,
        s: Session,
        row: t.Dossier,
        code: Status,
        comment: str,
        actor: str,
        now: datetime,
        *,
        previous: int,
        is_automatic: bool = False,
    ) -> t.StatusChange:
        change = t.StatusChange(
            dossier_id=row.id,
            code=int(code),
            previous_code=previous,
            comment=comment,
            actor=actor,
            at=now,
            is_automatic=is_automatic,
            transmitted_at=None if row.has_returns else now,
        )
        s.add(change)
        s.flush()
        row.status, row.updated_at = int(code), now
        return change

    def transmitted_many(self, s: Session, change_ids: Sequence[int], now: datetime) -> None:
        """Record that changes (each of another dossier) reached the channel, marked by one statement.

        A 15, 19 or 20 transmitted closes its dossier (100) automatically, its return queued.
        """
        if not change_ids:
            return
        marked = s.execute(_TRANSMIT_MANY, {"b_ids": list(change_ids), "b_now": now}).all()
        for change_id, code, undone_at, dossier_id in sorted(marked):
            self._after_transmission(s, change_id, code, undone_at, dossier_id, now)

    def _after_transmission(
        self,
        s: Session,
        change_id: int,
        code: int,
        undone_at: datetime | None,
        dossier_id: str,
        now: datetime,
    ) -> t.StatusChange | None:
        if undone_at is not None:
            return None
        if code not in AUTO_CLOSING:
            # Only a 15, 19 or 20 closes once transmitted: a dossier's current change is never left
            # transmitted and closable without its closure (this method and `undo` add it at once),
            # so for any other code the workflow below would find nothing to do.
            return None
        row = self.store.dossiers.get_row(s, dossier_id, None, lock=True)
        # populate_existing: a change already in the session would not show the update above
        changes = list(
            s.scalars(_EFFECTIVE, {"b_dossier": row.id}, execution_options={"populate_existing": True})
        )
        workflow = self.workflow(changes)
        index = next(i for i, c in enumerate(changes) if c.id == change_id)
        if workflow.mark_transmitted(index) is None:
            return None
        return self._auto_close(s, row, code, now)

    def _auto_close(self, s: Session, row: t.Dossier, code: int, now: datetime) -> t.StatusChange:
        auto = self._record(
            s, row, Status.CLOSED, AUTO_CLOSE_COMMENT, "aiguilleur", now, previous=code, is_automatic=True
        )
        if row.has_returns:
            self.store.outbox.enqueue(s, row, auto, now)
        self.store.journal.add(
            s,
            "status",
            f"Dossier clos automatiquement après transmission du statut {code}",
            dossier_id=row.id,
            connector=row.connector,
        )
        return auto
