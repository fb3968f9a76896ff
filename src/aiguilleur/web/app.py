"""``mount_dashboard(app, hub)``: the agents' dashboard on the API's FastAPI application.

Pages are rendered on the server in French and work without JavaScript. This adds the routes of
``web/routes/``, ``/static``, the signed-cookie sessions, the security headers, and error pages: a
browser (``Accept: text/html``) outside the API gets an HTML page for a 404, a 403 or a refused
change, anything else keeps the API's problem details.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from aiguilleur.api.problems import status_of
from aiguilleur.engine.hub import Hub
from aiguilleur.errors import AiguilleurError, NotFound
from aiguilleur.web.deps import LoginRequired, WebForbidden
from aiguilleur.web.render import render
from aiguilleur.web.routes import auth, connectors, documents, dossiers, errors, overview
from aiguilleur.web.security import SecurityHeaders
from aiguilleur.web.session import SessionMiddleware, secret_key

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
API_PREFIXES = ("/api/", "/healthz", "/metrics", "/docs", "/openapi.json")
Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def mount_dashboard(app: FastAPI, hub: Hub) -> None:
    """Add the dashboard to ``app`` (built by ``create_app(hub)``)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (auth, overview, dossiers, documents, connectors, errors):
        app.include_router(module.router, include_in_schema=False)
    app.add_middleware(SessionMiddleware, key=lambda: secret_key(hub.config))
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(WebForbidden, _forbidden)
    for exc_class in (AiguilleurError, StarletteHTTPException, RequestValidationError, Exception):
        previous = app.exception_handlers.get(exc_class)
        if previous is not None:
            app.add_exception_handler(exc_class, _html_or(previous))


def wants_html(request: Request) -> bool:
    """A browser asking for a dashboard page (API clients keep their problem details)."""
    return not request.url.path.startswith(API_PREFIXES) and "text/html" in request.headers.get("accept", "")


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if exc.next_url in ("/", ""):
        return RedirectResponse("/connexion", status_code=303)
    return RedirectResponse(f"/connexion?suivant={quote(exc.next_url, safe='/')}", status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    return error_page(request, 403, "Accès refusé", str(exc))


def _html_or(previous: Handler) -> Handler:
    """The API's handler ``previous``, except for a browser asking for a page: an HTML error page."""

    async def call_previous(request: Request, exc: Exception) -> Response:
        result = previous(request, exc)
        return await result if inspect.isawaitable(result) else result

    async def handler(request: Request, exc: Exception) -> Response:
        if not wants_html(request):
            return await call_previous(request, exc)
        if isinstance(exc, NotFound):
            return error_page(request, 404, "Page introuvable", _NOT_FOUND)
        if isinstance(exc, AiguilleurError) and status_of(exc) < 500:
            return error_page(request, status_of(exc), "Action refusée", str(exc))
        if isinstance(exc, StarletteHTTPException) and exc.status_code < 500:
            title = "Page introuvable" if exc.status_code == 404 else HTTPStatus(exc.status_code).phrase
            detail = _NOT_FOUND if exc.status_code == 404 else str(exc.detail)
            return error_page(request, exc.status_code, title, detail)
        if isinstance(exc, RequestValidationError):
            return error_page(request, 400, "Formulaire incomplet", "Une valeur du formulaire est invalide.")
        response = await call_previous(request, exc)  # logs it; the page only says that it failed
        return error_page(request, response.status_code, "Erreur", _FAILED)

    return handler


_NOT_FOUND = "Cette page n'existe pas, ou elle concerne une organisation que votre compte ne voit pas."
_FAILED = "L'opération n'a pas pu aboutir ; l'incident est consigné dans les journaux du hub."


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    return render(request, "problem.html", status_code=status, title=title, detail=detail, status=status)
