"""The overview: dossiers per status and channel, the last 24 hours, connectors, the error queue."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from aiguilleur.domain.statuses import Status
from aiguilleur.store.dossiers import DossierFilter
from aiguilleur.web.deps import HubDep, ReaderDep
from aiguilleur.web.health import connector_states, error_queue_count
from aiguilleur.web.render import render

router = APIRouter()


@router.get("/")
def overview(request: Request, hub: HubDep, user: ReaderDep) -> Response:
    scope = user.principal.scope
    counts = hub.store.dossiers.counts_by_status(scope)
    channels = sorted({channel for channel, _ in counts})
    codes = [int(s) for s in Status] + sorted({code for _, code in counts} - {int(s) for s in Status})
    since = hub.store.now() - timedelta(hours=24)
    recent = hub.store.dossiers.search(DossierFilter(received_from=since), scope, limit=10)
    states = connector_states(hub)
    return render(
        request,
        "overview.html",
        nav="overview",
        counts=counts,
        channels=channels,
        codes=codes,
        total=sum(counts.values()),
        recent=recent,
        since=since,
        connectors=states,
        failing=sum(1 for s in states if s.tone == "error"),
        errors=error_queue_count(hub, scope),
        organisations={o.id: o.name for o in hub.store.organisations.list(scope)},
    )
