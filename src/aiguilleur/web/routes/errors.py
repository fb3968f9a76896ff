"""The error queue: failed (dead) returns and rejected imports, each to retry or to discard (journaled).

Failed returns are those of the agent's organisations. Rejected imports could not be attributed to an
organisation (that is often why they were rejected): only people who see every organisation see them.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from starlette.responses import RedirectResponse, Response

from aiguilleur.domain.access import Role
from aiguilleur.errors import NotFound
from aiguilleur.web import rejected
from aiguilleur.web.deps import CsrfDep, HubDep, OperatorDep, ReaderDep, flash
from aiguilleur.web.render import render

logger = logging.getLogger(__name__)
router = APIRouter()

FileName = Annotated[str, Form(max_length=255)]


@router.get("/erreurs")
def error_queue(request: Request, hub: HubDep, user: ReaderDep) -> Response:
    scope = user.principal.scope
    dead = hub.store.outbox.list(states=("dead",), scope=scope, limit=500)
    return render(
        request,
        "errors.html",
        nav="errors",
        dead=dead,
        rejected=rejected.list_rejected(hub) if scope is None else [],
        sees_all=scope is None,
        can_act=user.principal.role.allows(Role.OPERATOR),
    )


@router.post("/erreurs/retours/{item_id}/relancer")
def retry_return(request: Request, item_id: int, hub: HubDep, user: OperatorDep, _csrf: CsrfDep) -> Response:
    hub.store.outbox.retry(item_id, user.principal.name, user.principal.scope)
    flash(request, f"Retour {item_id} remis en file : il partira à la prochaine synchronisation.")
    return RedirectResponse("/erreurs", status_code=303)


@router.post("/erreurs/retours/{item_id}/abandonner")
def discard_return(
    request: Request, item_id: int, hub: HubDep, user: OperatorDep, _csrf: CsrfDep
) -> Response:
    hub.store.outbox.discard(item_id, user.principal.name, user.principal.scope)
    flash(request, f"Retour {item_id} abandonné : son statut reste non transmis.")
    return RedirectResponse("/erreurs", status_code=303)


@router.post("/erreurs/imports/{connector}/relancer")
def retry_import(
    request: Request,
    connector: Annotated[str, Path(max_length=63)],
    hub: HubDep,
    user: OperatorDep,
    _csrf: CsrfDep,
    fichier: FileName,
) -> Response:
    _all_organisations(user.principal.scope)
    rejected.retry(hub, connector, fichier, user.principal.name)
    flash(
        request,
        f"« {fichier} » remis dans le dossier d'entrée : il sera importé à la prochaine synchronisation.",
    )
    return RedirectResponse("/erreurs", status_code=303)


@router.post("/erreurs/imports/{connector}/ecarter")
def discard_import(
    request: Request,
    connector: Annotated[str, Path(max_length=63)],
    hub: HubDep,
    user: OperatorDep,
    _csrf: CsrfDep,
    fichier: FileName,
) -> Response:
    _all_organisations(user.principal.scope)
    rejected.discard(hub, connector, fichier, user.principal.name)
    flash(request, f"« {fichier} » écarté (déplacé dans « {rejected.DISCARDED} »).")
    return RedirectResponse("/erreurs", status_code=303)


def _all_organisations(scope: frozenset[str] | None) -> None:
    if scope is not None:
        raise NotFound("imports refusés réservés aux comptes qui voient toutes les organisations")
