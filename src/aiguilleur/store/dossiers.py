"""Dossiers: receipt (idempotent, versioned), search and the full view of one dossier."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

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
    from sqlalchemy.engine import CursorResult

    from aiguilleur.store.repository import Store

Scope = frozenset[str] | None
Sel = TypeVar("Sel", bound="Select[*tuple[Any, ...]]")

# Statements of the receipt path, built once: building a select() costs more than running it.
_ORGANISATION = select(t.Organisation.id).where(t.Organisation.id == bindparam("b_id"))
_SEEN = (
    select(t.DossierVersion.dossier_id, t.DossierVersion.number)
    .join(t.Dossier, t.Dossier.id == t.DossierVersion.dossier_id)
    .where(
        t.Dossier.connector == bindparam("b_connector"), t.DossierVersion.message_id == bindparam("b_message")
    )
)
_BY_REF = select(t.Dossier).where(
    t.Dossier.connector == bindparam("b_connector"), t.Dossier.external_id == bindparam("b_external")
)
_BY_ID = select(t.Dossier).where(t.Dossier.id == bindparam("b_id"))
_INSERT_DOSSIER = insert(t.Base.metadata.tables[t.Dossier.__tablename__])
_INSERT_CHANGE = insert(t.Base.metadata.tables[t.StatusChange.__tablename__])
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
        self._by_ref = store.lock(_BY_REF)
        self._by_id_locked = store.lock(_BY_ID)

    def receive(self, dossier: DossierIn, *, has_returns: bool = True) -> Received:
        """Store a received dossier, or a new version of it; a replayed message id writes nothing.

        A new dossier starts at status 14 with the seed's comment, and its first return is queued
        in the same transaction. Raises ``RejectedItemError`` for an unknown organisation.
        """
        try:
            return self._receive(dossier, has_returns)
        except IntegrityError:
            # another worker created the same ref between our read and our insert: go again,
            # this time the dossier exists and this receipt becomes a version or a duplicate
            return self._receive(dossier, has_returns)

    def receive_many(
        self, dossiers: Sequence[DossierIn], *, has_returns: bool = True
    ) -> list[Received | RejectedItemError]:
        """`receive` for several dossiers in one transaction: one outcome each, in order.

        A dossier the store refuses (unknown organisation) has its RejectedItemError as outcome and
        the others are received. Later dossiers see the earlier ones: a version 2 after its version 1,
        a message id replayed within the group. Should another worker create one of the same dossiers
        meanwhile, the group is received again one dossier at a time.
        """
        if not dossiers:
            return []
        now = self.store.now()
        try:
            with self.store.write() as s:
                return [self._write_or_refuse(s, d, has_returns, now) for d in dossiers]
        except IntegrityError:
            return [self._receive_or_refuse(d, has_returns) for d in dossiers]

    def _write_or_refuse(
        self, s: Session, d: DossierIn, has_returns: bool, now: datetime
    ) -> Received | RejectedItemError:
        try:
            return self._write_receipt(s, d, has_returns, now)
        except RejectedItemError as exc:  # raised before anything is written for this dossier
            return exc

    def _receive_or_refuse(self, d: DossierIn, has_returns: bool) -> Received | RejectedItemError:
        try:
            return self.receive(d, has_returns=has_returns)
        except RejectedItemError as exc:
            return exc

    def _receive(self, d: DossierIn, has_returns: bool) -> Received:
        now = self.store.now()
        with self.store.write() as s:
            return self._write_receipt(s, d, has_returns, now)

    def _write_receipt(self, s: Session, d: DossierIn, has_returns: bool, now: datetime) -> Received:
        if s.scalar(_ORGANISATION, {"b_id": d.organisation_id}) is None:
            raise RejectedItemError(f"{d.ref}: organisation inconnue « {d.organisation_id} »")
        if d.message_id:
            params = {"b_connector": d.ref.connector, "b_message": d.message_id}
            seen = s.execute(_SEEN, params).first()
            if seen is not None:
                return Received(seen[0], "duplicate", seen[1])
        ref = {"b_connector": d.ref.connector, "b_external": d.ref.external_id}
        row = s.scalars(self._by_ref, ref).first()
        if row is None:
            dossier_id, version = self._create(s, d, has_returns, now), 1
            outcome = "created"
        else:
            row.version += 1
            row.data, row.procedure, row.updated_at = d.data, d.procedure, now
            row.title = d.title or row.title
            row.search_key = search_key(row.external_id, row.title)
            outcome = "updated"
            self.store.journal.add(
                s,
                "version",
                f"Version {row.version} reçue ({d.origin})",
                dossier_id=row.id,
                connector=d.ref.connector,
            )
            dossier_id, version = row.id, row.version
        # plain inserts (no ORM objects): nothing reads these rows back in this transaction
        version_row = {
            "dossier_id": dossier_id,
            "number": version,
            "data": d.data,
            "origin": d.origin,
            "message_id": d.message_id or None,
            "received_at": d.received_at or now,
        }
        s.execute(_INSERT_VERSION, version_row)
        if d.documents:
            documents = [
                {
                    "dossier_id": dossier_id,
                    "version": version,
                    "direction": "in",
                    "sha256": doc.sha256,
                    "name": doc.name,
                    "role": doc.role,
                    "media_type": doc.media_type,
                    "size_bytes": doc.size_bytes,
                    "created_at": now,
                    "status_change_id": None,
                }
                for doc in d.documents
            ]
            s.execute(_INSERT_DOCUMENT, documents)
        return Received(dossier_id, outcome, version)

    def _create(self, s: Session, d: DossierIn, has_returns: bool, now: datetime) -> str:
        """Insert a new dossier at status 14, its first return queued; returns its id.

        Plain inserts: nothing reads these rows back in this transaction. The unique (connector,
        external_id) is checked by the first one, which raises IntegrityError.
        """
        dossier_id = str(uuid.uuid4())
        s.execute(
            _INSERT_DOSSIER,
            {
                "id": dossier_id,
                "channel": d.ref.channel,
                "connector": d.ref.connector,
                "external_id": d.ref.external_id,
                "procedure": d.procedure,
                "organisation_id": d.organisation_id,
                "status": int(Status.IMPORTED),
                "version": 1,
                "title": d.title,
                "has_returns": has_returns,
                "data": d.data,
                "received_at": d.received_at or now,
                "created_at": now,
                "updated_at": now,
                "search_key": search_key(d.ref.external_id, d.title),
            },
        )
        first = Workflow.start().current
        change = {
            "dossier_id": dossier_id,
            "code": int(first.code),
            "previous_code": None,
            "comment": IMPORTED_COMMENT,
            "actor": "aiguilleur",
            "at": now,
            "is_automatic": True,
            "transmitted_at": None if has_returns else now,
            "undone_at": None,
            "undone_by": None,
        }
        key = cast("CursorResult[Any]", s.execute(_INSERT_CHANGE, change)).inserted_primary_key
        assert key is not None  # an INSERT of one row always has one
        change_id = int(key[0])
        if has_returns:
            payload = {
                "external_id": d.ref.external_id,
                "procedure": d.procedure,
                "code": change["code"],
                "previous_code": None,
                "comment": IMPORTED_COMMENT,
                "at": now.isoformat(),
                "is_automatic": True,
                "documents": [],  # nothing refers to a change just made
            }
            self.store.outbox.insert(s, dossier_id, d.ref.connector, change_id, payload, now)
        self.store.journal.add(
            s,
            "received",
            f"Dossier {d.ref.external_id} reçu ({d.origin or d.ref.connector})",
            dossier_id=dossier_id,
            connector=d.ref.connector,
        )
        return dossier_id

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
