"""Dossiers: receipt (idempotent, versioned), search and the full view of one dossier."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select, bindparam, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aiguilleur.domain.dossier import DossierIn, ExternalRef, search_key
from aiguilleur.domain.statuses import IMPORTED_COMMENT, Status, Workflow
from aiguilleur.errors import NotFound, RejectedItemError
from aiguilleur.store import tables as t
from aiguilleur.store.views import (
    DocumentView,
    DossierDetail,
    DossierPage,
    DossierSummary,
    JournalView,
    StatusChangeView,
    VersionView,
)

if TYPE_CHECKING:
    from aiguilleur.store.repository import Store

Scope = frozenset[str] | None
Sel = TypeVar("Sel", bound="Select[*tuple[Any, ...]]")

# Statements of the receipt path, built once: building a select() costs more than running it.
_SEEN_MANY = (
    select(t.DossierVersion.message_id, t.DossierVersion.dossier_id, t.DossierVersion.number)
    .join(t.Dossier, t.Dossier.id == t.DossierVersion.dossier_id)
    .where(
        t.Dossier.connector == bindparam("b_connector"),
        t.DossierVersion.message_id.in_(bindparam("b_messages", expanding=True)),
    )
)
_BY_REFS = select(t.Dossier).where(
    t.Dossier.connector == bindparam("b_connector"),
    t.Dossier.external_id.in_(bindparam("b_externals", expanding=True)),
)
_BY_ID = select(t.Dossier).where(t.Dossier.id == bindparam("b_id"))
_ORGANISATIONS = select(t.Organisation.id).where(t.Organisation.id.in_(bindparam("b_ids", expanding=True)))
_INSERT_DOSSIER = insert(t.Base.metadata.tables[t.Dossier.__tablename__])
_CHANGES_TABLE = t.Base.metadata.tables[t.StatusChange.__tablename__]
_INSERT_CHANGES = insert(_CHANGES_TABLE).returning(_CHANGES_TABLE.c.id, sort_by_parameter_order=True)
_INSERT_VERSION = insert(t.Base.metadata.tables[t.DossierVersion.__tablename__])
_INSERT_DOCUMENT = insert(t.Base.metadata.tables[t.Document.__tablename__])


@dataclass(frozen=True, slots=True)
class Received:
    """Outcome of a receipt: "created", "updated" (new version) or "duplicate" (nothing written)."""

    dossier_id: str
    outcome: str
    version: int


@dataclass(frozen=True, slots=True)
class DossierFilter:
    organisation: str | None = None
    channel: str | None = None
    connector: str | None = None
    procedure: str | None = None
    status: int | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    search: str | None = None  # external id or title


def scoped(stmt: Sel, scope: Scope) -> Sel:
    """Restrict a dossier query to the organisations a caller may see."""
    return stmt if scope is None else stmt.where(t.Dossier.organisation_id.in_(sorted(scope)))


class Dossiers:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_id_locked = store.lock(_BY_ID)

    def receive(self, dossier: DossierIn, *, has_returns: bool = True) -> Received:
        """Store a received dossier, or a new version of it; a replayed message id writes nothing.

        A new dossier starts at status 14 with the seed's comment, and its first return is queued
        in the same transaction. Raises ``RejectedItemError`` for an unknown organisation.
        """
        (outcome,) = self.receive_many([dossier], has_returns=has_returns)
        if isinstance(outcome, RejectedItemError):
            raise outcome
        return outcome

    def receive_many(
        self, dossiers: Sequence[DossierIn], *, has_returns: bool = True
    ) -> list[Received | RejectedItemError]:
        """`receive` for several dossiers in one transaction: one outcome each, in order.

        A dossier the store refuses (unknown organisation) has its RejectedItemError as outcome and
        the others are received. Later dossiers see the earlier ones: a version 2 after its version 1,
        a message id replayed within the group. Should another worker create one of the same dossiers
        meanwhile, the group is received again, then finding it.
        """
        if not dossiers:
            return []
        try:
            return self._receive_group(dossiers, has_returns)
        except IntegrityError:
            # another worker created the same ref between our read and our insert: go again,
            # this time the dossier exists and this receipt becomes a version or a duplicate
            return self._receive_group(dossiers, has_returns)

    def _receive_group(
        self, dossiers: Sequence[DossierIn], has_returns: bool
    ) -> list[Received | RejectedItemError]:
        now = self.store.now()
        with self.store.write() as s:
            receipt = _Receipt(self.store, s, now, has_returns)
            receipt.look_up(dossiers)
            outcomes = [receipt.add(d) for d in dossiers]
            receipt.write()
            return outcomes

    def find(self, ref: ExternalRef) -> str | None:
        """The id of the dossier with this reference, if any."""
        with self.store.read() as s:
            return s.scalar(
                select(t.Dossier.id).where(
                    t.Dossier.connector == ref.connector, t.Dossier.external_id == ref.external_id
                )
            )

    def search(self, f: DossierFilter, scope: Scope, *, limit: int = 50, offset: int = 0) -> DossierPage:
        """A page of dossiers, newest first, restricted to ``scope``."""
        stmt = scoped(select(t.Dossier), scope)
        if f.organisation:
            stmt = stmt.where(t.Dossier.organisation_id == f.organisation)
        if f.channel:
            stmt = stmt.where(t.Dossier.channel == f.channel)
        if f.connector:
            stmt = stmt.where(t.Dossier.connector == f.connector)
        if f.procedure:
            stmt = stmt.where(t.Dossier.procedure == f.procedure)
        if f.status is not None:
            stmt = stmt.where(t.Dossier.status == f.status)
        if f.received_from:
            stmt = stmt.where(t.Dossier.received_at >= f.received_from)
        if f.received_to:
            stmt = stmt.where(t.Dossier.received_at < f.received_to)
        if f.search and search_key(f.search):
            term = search_key(f.search)
            pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(
                or_(
                    t.Dossier.external_id == f.search.strip(), t.Dossier.search_key.like(pattern, escape="\\")
                )
            )
        with self.store.read() as s:
            total = s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
            rows = s.scalars(
                stmt.order_by(t.Dossier.received_at.desc(), t.Dossier.id.desc()).limit(limit).offset(offset)
            )
            items = [DossierSummary.of(r) for r in rows]
        return DossierPage(items=items, total=total, limit=limit, offset=offset)

    def get_row(self, s: Session, dossier_id: str, scope: Scope, *, lock: bool = False) -> t.Dossier:
        """The dossier row, or ``NotFound`` when it does not exist or is outside ``scope``."""
        if scope is None:  # the common case, with a statement built once
            row = s.scalars(self._by_id_locked if lock else _BY_ID, {"b_id": dossier_id}).first()
        else:
            stmt = scoped(_BY_ID, scope)
            row = s.scalars(self.store.lock(stmt) if lock else stmt, {"b_id": dossier_id}).first()
        if row is None:
            raise NotFound(f"dossier {dossier_id} introuvable")
        return row

    def get(self, dossier_id: str, scope: Scope) -> DossierDetail:
        """Everything about one dossier, as agents see it."""
        with self.store.read() as s:
            row = self.get_row(s, dossier_id, scope)
            changes = list(
                s.scalars(
                    select(t.StatusChange)
                    .where(t.StatusChange.dossier_id == row.id)
                    .order_by(t.StatusChange.id)
                )
            )
            docs = s.scalars(
                select(t.Document).where(t.Document.dossier_id == row.id).order_by(t.Document.id)
            )
            versions = s.scalars(
                select(t.DossierVersion)
                .where(t.DossierVersion.dossier_id == row.id)
                .order_by(t.DossierVersion.number)
            )
            journal = s.scalars(
                select(t.JournalEntry).where(t.JournalEntry.dossier_id == row.id).order_by(t.JournalEntry.id)
            )
            workflow = self.store.statuses.workflow(changes)
            return DossierDetail(
                **DossierSummary.of(row).model_dump(),
                data=row.data,
                documents=[DocumentView.model_validate(d) for d in docs],
                versions=[VersionView.model_validate(v) for v in versions],
                history=[StatusChangeView.of(c) for c in changes],
                journal=[JournalView.model_validate(j) for j in journal],
                allowed=sorted(int(c) for c in workflow.allowed()),
                can_undo=workflow.can_undo(),
            )

    def document(self, dossier_id: str, document_id: int, scope: Scope) -> DocumentView:
        """One document of a dossier visible in ``scope``."""
        with self.store.read() as s:
            row = self.get_row(s, dossier_id, scope)
            doc = s.scalars(
                select(t.Document).where(t.Document.id == document_id, t.Document.dossier_id == row.id)
            ).first()
            if doc is None:
                raise NotFound(f"document {document_id} introuvable")
            return DocumentView.model_validate(doc)

    def attach_outgoing(
        self,
        dossier_id: str,
        scope: Scope,
        *,
        name: str,
        sha256: str,
        size_bytes: int,
        media_type: str,
        role: str = "",
        actor: str = "aiguilleur",
    ) -> DocumentView:
        """A document from the back-office, sent with the next return (e.g. a census attestation)."""
        now = self.store.now()
        with self.store.write() as s:
            row = self.get_row(s, dossier_id, scope, lock=True)
            doc = t.Document(
                dossier_id=row.id,
                version=row.version,
                direction="out",
                sha256=sha256,
                name=name,
                role=role,
                media_type=media_type,
                size_bytes=size_bytes,
                created_at=now,
            )
            s.add(doc)
            self.store.journal.add(
                s,
                "document",
                f"Document « {name} » ajouté pour le prochain retour",
                dossier_id=row.id,
                connector=row.connector,
                actor=actor,
            )
            s.flush()
            return DocumentView.model_validate(doc)

    def counts_by_status(self, scope: Scope) -> dict[tuple[str, int], int]:
        """Number of dossiers per (channel, status)."""
        stmt = scoped(select(t.Dossier.channel, t.Dossier.status, func.count()), scope).group_by(
            t.Dossier.channel, t.Dossier.status
        )
        with self.store.read() as s:
            return {(ch, st): n for ch, st, n in s.execute(stmt)}


class _Receipt:
    """The rows a group of receipts writes, looked up and inserted a few statements for the whole group.

    `look_up` reads, in one query each, the organisations, the message ids already received and the
    dossiers already known; `add` decides each dossier's outcome in memory, in order, so that a later
    dossier of the group sees the earlier ones; `write` inserts everything by table.
    """

    def __init__(self, store: Store, s: Session, now: datetime, has_returns: bool) -> None:
        self.store, self.s, self.now, self.has_returns = store, s, now, has_returns
        self.organisations: set[str] = set()
        self.seen: dict[
            tuple[str, str], tuple[str, int]
        ] = {}  # (connector, message id) -> (dossier, version)
        self.known: dict[tuple[str, str], t.Dossier] = {}  # (connector, external id) -> row
        self.created: dict[tuple[str, str], dict[str, Any]] = {}  # new dossiers of the group, by ref
        self.dossiers: list[dict[str, Any]] = []
        self.versions: list[dict[str, Any]] = []
        self.documents: list[dict[str, Any]] = []
        self.journal: list[dict[str, Any]] = []

    def look_up(self, dossiers: Sequence[DossierIn]) -> None:
        s = self.s
        organisations = sorted({d.organisation_id for d in dossiers})
        self.organisations = set(
            s.scalars(select(t.Organisation.id).where(t.Organisation.id.in_(organisations)))
        )
        by_connector: dict[str, list[DossierIn]] = {}
        for d in dossiers:
            by_connector.setdefault(d.ref.connector, []).append(d)
        for connector, group in by_connector.items():
            messages = sorted({d.message_id for d in group if d.message_id})
            if messages:
                rows = s.execute(_SEEN_MANY, {"b_connector": connector, "b_messages": messages})
                self.seen.update({(connector, str(m)): (dossier_id, n) for m, dossier_id, n in rows})
            refs = sorted({d.ref.external_id for d in group})
            stmt = self.store.lock(_BY_REFS)
            for row in s.scalars(stmt, {"b_connector": connector, "b_externals": refs}):
                self.known[(connector, row.external_id)] = row

    def add(self, d: DossierIn) -> Received | RejectedItemError:
        if d.organisation_id not in self.organisations:
            return RejectedItemError(f"{d.ref}: organisation inconnue « {d.organisation_id} »")
        connector = d.ref.connector
        if d.message_id and (connector, d.message_id) in self.seen:
            dossier_id, number = self.seen[(connector, d.message_id)]
            return Received(dossier_id, "duplicate", number)
        key = (connector, d.ref.external_id)
        new, row = self.created.get(key), self.known.get(key)
        if new is not None:
            new.update(version=new["version"] + 1, **self._changes(d, new["external_id"], new["title"]))
            dossier_id, version, outcome = new["id"], new["version"], "updated"
        elif row is not None:
            row.version += 1
            for name, value in self._changes(d, row.external_id, row.title).items():
                setattr(row, name, value)
            dossier_id, version, outcome = row.id, row.version, "updated"
        else:
            dossier_id, version, outcome = self._create(d), 1, "created"
        if outcome == "updated":
            self.journal.append(
                self.store.journal.entry(
                    "version",
                    f"Version {version} reçue ({d.origin})",
                    dossier_id=dossier_id,
                    connector=connector,
                    at=self.now,
                )
            )
        if d.message_id:
            self.seen[(connector, d.message_id)] = (dossier_id, version)
        self.versions.append(
            {
                "dossier_id": dossier_id,
                "number": version,
                "data": d.data,
                "origin": d.origin,
                "message_id": d.message_id or None,
                "received_at": d.received_at or self.now,
            }
        )
        self.documents += [
            {
                "dossier_id": dossier_id,
                "version": version,
                "direction": "in",
                "sha256": doc.sha256,
                "name": doc.name,
                "role": doc.role,
                "media_type": doc.media_type,
                "size_bytes": doc.size_bytes,
                "created_at": self.now,
                "status_change_id": None,
            }
            for doc in d.documents
        ]
        return Received(dossier_id, outcome, version)

    def _changes(self, d: DossierIn, external_id: str, title: str) -> dict[str, Any]:
        """What a new version changes in its dossier: complete data replaces, history is kept aside."""
        title = d.title or title
        return {
            "data": d.data,
            "procedure": d.procedure,
            "updated_at": self.now,
            "title": title,
            "search_key": search_key(external_id, title),
        }

    def _create(self, d: DossierIn) -> str:
        dossier_id = str(uuid.uuid4())
        row = {
            "id": dossier_id,
            "channel": d.ref.channel,
            "connector": d.ref.connector,
            "external_id": d.ref.external_id,
            "procedure": d.procedure,
            "organisation_id": d.organisation_id,
            "status": int(Status.IMPORTED),
            "version": 1,
            "title": d.title,
            "has_returns": self.has_returns,
            "data": d.data,
            "received_at": d.received_at or self.now,
            "created_at": self.now,
            "updated_at": self.now,
            "search_key": search_key(d.ref.external_id, d.title),
        }
        self.created[(d.ref.connector, d.ref.external_id)] = row
        self.dossiers.append(row)
        self.journal.append(
            self.store.journal.entry(
                "received",
                f"Dossier {d.ref.external_id} reçu ({d.origin or d.ref.connector})",
                dossier_id=dossier_id,
                connector=d.ref.connector,
                at=self.now,
            )
        )
        return dossier_id

    def write(self) -> None:
        """Insert the group's rows, table by table (the unique reference checked by the first)."""
        s = self.s
        if self.dossiers:
            s.execute(_INSERT_DOSSIER, self.dossiers)
            first = Workflow.start().current
            changes = [
                {
                    "dossier_id": row["id"],
                    "code": int(first.code),
                    "previous_code": None,
                    "comment": IMPORTED_COMMENT,
                    "actor": "aiguilleur",
                    "at": self.now,
                    "is_automatic": True,
                    "transmitted_at": None if self.has_returns else self.now,
                    "undone_at": None,
                    "undone_by": None,
                }
                for row in self.dossiers
            ]
            ids = s.scalars(_INSERT_CHANGES, changes).all()
            if self.has_returns:
                self.store.outbox.insert_many(
                    s,
                    [
                        (
                            row["id"],
                            row["connector"],
                            change_id,
                            _first_return(row, int(first.code), self.now),
                        )
                        for row, change_id in zip(self.dossiers, ids, strict=True)
                    ],
                    self.now,
                )
        if self.versions:
            s.execute(_INSERT_VERSION, self.versions)
        if self.documents:
            s.execute(_INSERT_DOCUMENT, self.documents)
        self.store.journal.add_many(s, self.journal)


def _first_return(row: dict[str, Any], code: int, now: datetime) -> dict[str, Any]:
    return {
        "external_id": row["external_id"],
        "procedure": row["procedure"],
        "code": code,
        "previous_code": None,
        "comment": IMPORTED_COMMENT,
        "at": now.isoformat(),
        "is_automatic": True,
        "documents": [],  # nothing refers to a change just made
    }
