"""The store: one object giving transactions and the repositories of each table family."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, insert, select
from sqlalchemy.orm import Session, sessionmaker

from aiguilleur.logging import redact, redact_text
from aiguilleur.store import tables as t
from aiguilleur.store.database import make_engine, migrate

Sel = TypeVar("Sel", bound="Select[*tuple[Any, ...]]")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    """Database access for the whole hub. ``read()`` and ``write()`` open one transaction each."""

    def __init__(self, url: str, *, now: Callable[[], datetime] = utcnow) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.now = now
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        writer = self.engine.execution_options(sqlite_immediate=True)
        self._write = sessionmaker(writer, expire_on_commit=False)
        # late imports: the repositories import this module for the Store type only
        from aiguilleur.store.dossiers import Dossiers
        from aiguilleur.store.organisations import Organisations
        from aiguilleur.store.outbox import Outbox
        from aiguilleur.store.runs import Cursors, Runs
        from aiguilleur.store.statuses import Statuses
        from aiguilleur.store.tokens import Tokens
        from aiguilleur.store.users import Users

        self.organisations = Organisations(self)
        self.dossiers = Dossiers(self)
        self.statuses = Statuses(self)
        self.outbox = Outbox(self)
        self.runs = Runs(self)
        self.cursors = Cursors(self)
        self.tokens = Tokens(self)
        self.users = Users(self)
        self.journal = Journal(self)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def migrate(self) -> None:
        """Create or upgrade the schema (Alembic)."""
        migrate(self.engine)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on error."""
        with self._write() as session, session.begin():
            yield session

    def lock(self, stmt: Sel) -> Sel:
        """Row lock on PostgreSQL; SQLite writers are already serialised by BEGIN IMMEDIATE."""
        return stmt.with_for_update() if self.is_postgresql else stmt

    def close(self) -> None:
        self.engine.dispose()


_INSERT_JOURNAL = insert(t.Base.metadata.tables[t.JournalEntry.__tablename__])


class Journal:
    """What happened, for agents and auditors. Personal data is redacted before it is written."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self,
        session: Session,
        kind: str,
        message: str,
        *,
        dossier_id: str | None = None,
        connector: str | None = None,
        actor: str = "aiguilleur",
        data: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            t.JournalEntry(
                at=self.store.now(),
                kind=kind,
                dossier_id=dossier_id,
                connector=connector,
                actor=actor,
                message=redact_text(message),
                data=redact(data or {}),
            )
        )

    def add_many(self, session: Session, entries: list[dict[str, Any]]) -> None:
        """Add entries made by `entry`, inside the caller's transaction, in one statement."""
        if entries:
            session.execute(_INSERT_JOURNAL, entries)

    def entry(
        self,
        kind: str,
        message: str,
        *,
        dossier_id: str | None = None,
        connector: str | None = None,
        actor: str = "aiguilleur",
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """An entry as `add` writes it (redacted), for `add_many`."""
        return {
            "at": at or self.store.now(),
            "kind": kind,
            "dossier_id": dossier_id,
            "connector": connector,
            "actor": actor,
            "message": redact_text(message),
            "data": {},
        }

    def write(self, kind: str, message: str, **kwargs: Any) -> None:
        """Add one entry in its own transaction."""
        with self.store.write() as session:
            self.add(session, kind, message, **kwargs)

    def recent(
        self, *, connector: str | None = None, kinds: tuple[str, ...] = (), limit: int = 100
    ) -> list[t.JournalEntry]:
        stmt = select(t.JournalEntry).order_by(t.JournalEntry.id.desc()).limit(limit)
        if connector:
            stmt = stmt.where(t.JournalEntry.connector == connector)
        if kinds:
            stmt = stmt.where(t.JournalEntry.kind.in_(kinds))
        with self.store.read() as session:
            return list(session.scalars(stmt))
