"""Dossiers: search, the full view of one, status changes and their undo."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from aiguilleur.api.deps import HubDep, OperatorDep, ReaderDep
from aiguilleur.api.problems import problem_responses
from aiguilleur.api.schemas import StatusIn
from aiguilleur.store.dossiers import DossierFilter
from aiguilleur.store.views import DossierDetail, DossierPage, StatusChangeView

router = APIRouter(prefix="/dossiers", tags=["dossiers"], responses=problem_responses(401, 403))

DossierId = Annotated[str, Path(max_length=64, description="Identifiant du dossier (UUID)")]


def _utc(value: datetime | None) -> datetime | None:
    # a datetime without an offset is taken as UTC, as everywhere inside the hub
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.get("")
def search_dossiers(
    hub: HubDep,
    principal: ReaderDep,
    organisation: str | None = None,
    channel: str | None = None,
    connector: str | None = None,
    procedure: str | None = None,
    status: Annotated[int | None, Query(description="Code du statut courant")] = None,
    received_from: Annotated[
        datetime | None, Query(description="Reçus à partir de (ISO 8601, UTC sans décalage)")
    ] = None,
    received_to: Annotated[datetime | None, Query(description="Reçus avant (ISO 8601, exclu)")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Numéro ou titre")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DossierPage:
    """A page of the dossiers in the caller's scope, newest first, with the total matching."""
    criteria = DossierFilter(
        organisation=organisation,
        channel=channel,
        connector=connector,
        procedure=procedure,
        status=status,
        received_from=_utc(received_from),
        received_to=_utc(received_to),
        search=q or None,
    )
    return hub.store.dossiers.search(criteria, principal.scope, limit=limit, offset=offset)


@router.get("/{dossier_id}", responses=problem_responses(404))
def read_dossier(dossier_id: DossierId, hub: HubDep, principal: ReaderDep) -> DossierDetail:
    """Everything about one dossier; 404 as well for a dossier of another organisation."""
    return hub.store.dossiers.get(dossier_id, principal.scope)


@router.post("/{dossier_id}/status", status_code=201, responses=problem_responses(404, 409, 422))
def change_status(
    dossier_id: DossierId, change: Annotated[StatusIn, Body()], hub: HubDep, principal: OperatorDep
) -> StatusChangeView:
    """Set a new status; its return is queued. 409 with ``allowed`` when the workflow refuses."""
    return hub.store.statuses.set(dossier_id, change.code, change.comment, principal.name, principal.scope)


@router.post("/{dossier_id}/status/undo", responses=problem_responses(404, 409))
def undo_status(dossier_id: DossierId, hub: HubDep, principal: OperatorDep) -> StatusChangeView:
    """Cancel the last change while it is untransmitted; returns the change current again."""
    return hub.store.statuses.undo(dossier_id, principal.name, principal.scope)
