"""Sign-in and sign-out. A successful sign-in starts a new session with a new CSRF token."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from aiguilleur.errors import AccessDenied
from aiguilleur.store.users import AccountLocked
from aiguilleur.web.deps import CsrfDep, HubDep, flash
from aiguilleur.web.render import render

logger = logging.getLogger(__name__)
router = APIRouter()


def safe_next(target: str | None) -> str:
    """A local path to go to after sign-in; anything else (another site, a scheme) gives ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/connexion")
def login_page(request: Request, suivant: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    if isinstance(request.session.get("uid"), int):
        return RedirectResponse(safe_next(suivant), status_code=303)
    return render(request, "login.html", next_url=safe_next(suivant), login="", error=None)


@router.post("/connexion")
async def login(
    request: Request,
    hub: HubDep,
    _csrf: CsrfDep,
    login: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    suivant: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    try:
        user = await run_in_threadpool(hub.store.users.authenticate, login, password)
    except AccountLocked as exc:
        logger.warning("dashboard: sign-in refused, account locked")
        return render(request, "login.html", 401, next_url=safe_next(suivant), login=login, error=str(exc))
    except AccessDenied:
        error = "Identifiant ou mot de passe incorrect."
        return render(request, "login.html", 401, next_url=safe_next(suivant), login=login, error=error)
    request.session.clear()  # a new session: nothing from before the sign-in is kept
    request.session.update(uid=user.id, login=user.login, csrf=secrets.token_urlsafe(32))
    logger.info("dashboard: %s signed in", user.login)
    return RedirectResponse(safe_next(suivant), status_code=303)


@router.post("/deconnexion")
def logout(request: Request, _csrf: CsrfDep) -> Response:
    request.session.clear()
    flash(request, "Vous êtes déconnecté.")
    return RedirectResponse("/connexion", status_code=303)
