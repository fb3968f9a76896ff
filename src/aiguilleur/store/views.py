"""Read models the store returns: plain, serialisable, shared by the API, the CLI and the dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from aiguilleur.domain.statuses import LABELS, Status


class View(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class OrganisationView(View):
    id: str
    name: str
    siret: str | None
    insee: str | None


class DocumentView(View):
    id: int
    version: int
    direction: str
    name: str
    role: str
    media_type: str
    size_bytes: int
    sha256: str
    created_at: datetime


class StatusChangeView(View):
    id: int
    code: int
    label: str
    previous_code: int | None
    comment: str
    actor: str
    at: datetime
    is_automatic: bool
    is_transmitted: bool
    transmitted_at: datetime | None
    undone_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> StatusChangeView:
        return cls(
            id=row.id,
            code=row.code,
            label=status_label(row.code),
            previous_code=row.previous_code,
            comment=row.comment,
            actor=row.actor,
            at=row.at,
            is_automatic=row.is_automatic,
            is_transmitted=row.transmitted_at is not None,
            transmitted_at=row.transmitted_at,
            undone_at=row.undone_at,
        )


class VersionView(View):
    number: int
    origin: str
    received_at: datetime


class JournalView(View):
    id: int
    at: datetime
    kind: str
    connector: str | None
    dossier_id: str | None
    actor: str
    message: str
    data: dict[str, Any]


class DossierSummary(View):
    id: str
    channel: str
    connector: str
    external_id: str
    procedure: str
    organisation_id: str
    status: int
    status_label: str
    version: int
    title: str
    received_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> DossierSummary:
        return cls(
            id=row.id,
            channel=row.channel,
            connector=row.connector,
            external_id=row.external_id,
            procedure=row.procedure,
            organisation_id=row.organisation_id,
            status=row.status,
            status_label=status_label(row.status),
            version=row.version,
            title=row.title,
            received_at=row.received_at,
            updated_at=row.updated_at,
        )


class DossierDetail(DossierSummary):
    data: dict[str, Any]
    documents: list[DocumentView]
    versions: list[VersionView]
    history: list[StatusChangeView]
    journal: list[JournalView]
    allowed: list[int]
    can_undo: bool


class DossierPage(View):
    items: list[DossierSummary]
    total: int
    limit: int
    offset: int


class OutboxView(View):
    id: int
    dossier_id: str
    connector: str
    state: str
    attempts: int
    next_try_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    payload: dict[str, Any]


class RunView(View):
    id: int
    connector: str
    trigger: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str
    counts: dict[str, Any]
    errors: list[Any]
    error: str | None
    log_file: str | None


def status_label(code: int) -> str:
    try:
        return LABELS[Status(code)]
    except ValueError:
        return f"Statut {code}"
