"""Read queries only the dashboard needs: filter choices, one run, counts for the overview."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from aiguilleur.store import tables as t
from aiguilleur.store.dossiers import Scope, scoped
from aiguilleur.store.repository import Store
from aiguilleur.store.views import RunView


@dataclass(frozen=True, slots=True)
class Facets:
    channels: list[str]
    procedures: list[str]


def facets(store: Store, scope: Scope) -> Facets:
    """The channels and procedures of the dossiers in ``scope`` (indexed columns: two index scans)."""
    with store.read() as s:
        channels = s.scalars(scoped(select(t.Dossier.channel).distinct(), scope).order_by(t.Dossier.channel))
        procedures = s.scalars(
            scoped(select(t.Dossier.procedure).distinct(), scope).order_by(t.Dossier.procedure)
        )
        return Facets(list(channels), list(procedures))


def find_run(store: Store, connector: str, run_id: int) -> RunView | None:
    """Run ``run_id`` of ``connector``, if it exists."""
    with store.read() as s:
        row = s.get(t.ConnectorRun, run_id)
        return RunView.model_validate(row) if row is not None and row.connector == connector else None


def outgoing_links(store: Store, dossier_id: str) -> dict[int, int | None]:
    """The back-office documents of a dossier → the status change they leave with (None: the next one)."""
    with store.read() as s:
        rows = s.execute(
            select(t.Document.id, t.Document.status_change_id).where(
                t.Document.dossier_id == dossier_id, t.Document.direction == "out"
            )
        )
        return {doc_id: change_id for doc_id, change_id in rows}


def dead_returns(store: Store, scope: Scope) -> int:
    """How many returns were given up (the error queue), in ``scope``."""
    stmt = (
        select(func.count())
        .select_from(t.OutboxItem)
        .join(t.Dossier, t.Dossier.id == t.OutboxItem.dossier_id)
        .where(t.OutboxItem.state == "dead")
    )
    with store.read() as s:
        return int(s.scalar(scoped(stmt, scope)) or 0)
