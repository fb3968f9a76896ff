"""Connector runs (one record per synchronisation) and connectors' cursors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from aiguilleur.store import tables as t
from aiguilleur.store.views import RunView

if TYPE_CHECKING:
    from aiguilleur.store.repository import Store


class Runs:
    def __init__(self, store: Store) -> None:
        self.store = store

    def start(self, connector: str, trigger: str = "schedule") -> int:
        with self.store.write() as s:
            run = t.ConnectorRun(
                connector=connector,
                trigger=trigger,
                started_at=self.store.now(),
                outcome="running",
                counts={},
                errors=[],
            )
            s.add(run)
            s.flush()
            return run.id

    def finish(
        self,
        run_id: int,
        *,
        outcome: str,
        counts: dict[str, int],
        errors: list[str],
        error: str | None = None,
        log_file: str | None = None,
    ) -> None:
        with self.store.write() as s:
            run = s.get(t.ConnectorRun, run_id)
            if run is None:
                return
            run.ended_at, run.outcome, run.counts = self.store.now(), outcome, dict(counts)
            run.errors, run.error, run.log_file = errors[:200], error, log_file

    def interrupt_stale(self) -> int:
        """Runs left "running" by a process that died are marked "interrupted"; returns how many."""
        with self.store.write() as s:
            res = s.execute(
                update(t.ConnectorRun)
                .where(t.ConnectorRun.outcome == "running")
                .values(outcome="interrupted", ended_at=self.store.now())
            )
            return int(res.rowcount)  # type: ignore[attr-defined]

    def latest(self, connector: str | None = None, limit: int = 20) -> list[RunView]:
        stmt = select(t.ConnectorRun).order_by(t.ConnectorRun.id.desc()).limit(limit)
        if connector:
            stmt = stmt.where(t.ConnectorRun.connector == connector)
        with self.store.read() as s:
            return [RunView.model_validate(r) for r in s.scalars(stmt)]

    def last_by_connector(self) -> dict[str, RunView]:
        """The newest run of each connector."""
        sub = select(func.max(t.ConnectorRun.id)).group_by(t.ConnectorRun.connector).scalar_subquery()
        with self.store.read() as s:
            rows = s.scalars(select(t.ConnectorRun).where(t.ConnectorRun.id.in_(sub)))
            return {r.connector: RunView.model_validate(r) for r in rows}


class Cursors:
    """A connector's resumable position at its peer, saved with what it covers."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, connector: str) -> dict[str, Any]:
        with self.store.read() as s:
            row = s.get(t.Cursor, connector)
            return dict(row.value) if row else {}

    def save(self, connector: str, value: dict[str, Any]) -> None:
        with self.store.write() as s:
            row = s.get(t.Cursor, connector)
            if row is None:
                s.add(t.Cursor(connector=connector, value=value, updated_at=self.store.now()))
            else:
                row.value, row.updated_at = value, self.store.now()
