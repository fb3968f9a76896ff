"""Organisations (tenants) the caller may see."""

from __future__ import annotations

from fastapi import APIRouter

from aiguilleur.api.deps import HubDep, ReaderDep
from aiguilleur.api.problems import problem_responses
from aiguilleur.store.views import OrganisationView

router = APIRouter(prefix="/organisations", tags=["organisations"], responses=problem_responses(401, 403))


@router.get("")
def list_organisations(hub: HubDep, principal: ReaderDep) -> list[OrganisationView]:
    """The organisations in the caller's scope, by id."""
    return hub.store.organisations.list(principal.scope)
