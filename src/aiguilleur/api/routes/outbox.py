"""The outbox of returns: the error queue (``state=dead``) with its retry and discard actions."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, status

from aiguilleur.api.deps import HubDep, OperatorDep
from aiguilleur.api.problems import problem_responses
from aiguilleur.store.views import OutboxView

router = APIRouter(prefix="/outbox", tags=["retours"], responses=problem_responses(401, 403))


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"


@router.get("")
def list_returns(
    hub: HubDep,
    principal: OperatorDep,
    state: Annotated[OutboxState | None, Query(description="« dead » : la file des retours en échec")] = None,
    connector: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 200,
) -> list[OutboxView]:
    """Returns of dossiers in the caller's scope, newest first."""
    states = (str(state),) if state is not None else ()
    return hub.store.outbox.list(states=states, connector=connector, scope=principal.scope, limit=limit)


@router.post(
    "/{item_id}/retry", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 409)
)
def retry_return(item_id: int, hub: HubDep, principal: OperatorDep) -> None:
    """Put a dead return back in the queue; 409 unless it is dead."""
    hub.store.outbox.retry(item_id, principal.name, principal.scope)


@router.post(
    "/{item_id}/discard", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 409)
)
def discard_return(item_id: int, hub: HubDep, principal: OperatorDep) -> None:
    """Give up a dead return for good (its status stays untransmitted); 409 unless it is dead."""
    hub.store.outbox.discard(item_id, principal.name, principal.scope)
