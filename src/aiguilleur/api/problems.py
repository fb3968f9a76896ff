"""Problem details (RFC 9457) for every error the API answers, and the errors only the API raises.

Every error response is ``application/problem+json`` with ``title``, ``status`` and ``detail``; a refused
status change adds ``allowed`` (the codes the workflow accepts now), a validation error adds ``errors``.
An unexpected exception is logged with its traceback and answered with a generic 500: no traceback, no
exception text ever reaches the client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from aiguilleur.errors import (
    AccessDenied,
    AiguilleurError,
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    PermanentError,
    ProtocolError,
    RejectedItemError,
    TransientError,
)

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
INTERNAL_DETAIL = "Erreur interne du serveur ; l'incident est consigné dans les journaux."


class Forbidden(AccessDenied):
    """The caller is authenticated, but its role is too weak for the operation (403, not 401)."""


class PayloadTooLarge(AiguilleurError):
    """The request body exceeds the configured limit (413)."""


class Unavailable(AiguilleurError):
    """A resource the hub needs (its database) does not answer (503)."""


# First match wins: subclasses before their parents.
STATUS_BY_ERROR: tuple[tuple[type[AiguilleurError], int], ...] = (
    (Forbidden, 403),
    (AccessDenied, 401),
    (NotFound, 404),
    (InvalidTransition, 409),
    (Conflict, 409),
    (DomainError, 409),
    (PayloadTooLarge, 413),
    (RejectedItemError, 422),
    (ProtocolError, 502),
    (PermanentError, 502),
    (TransientError, 503),
    (Unavailable, 503),
)


class Problem(BaseModel):
    """The body of every error response (documented in the OpenAPI schema)."""

    title: str
    status: int
    detail: str
    allowed: list[int] | None = None
    errors: list[dict[str, Any]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the listed error statuses, documented as problem details."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def problem(
    status: int, title: str, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem-details response."""
    body: dict[str, Any] = {"title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_of(exc: AiguilleurError) -> int:
    return next((status for cls, status in STATUS_BY_ERROR if isinstance(exc, cls)), 500)


async def aiguilleur_problem(request: Request, exc: Exception) -> JSONResponse:
    """An ``AiguilleurError`` as problem details; unmapped ones (ConfigError…) are a logged 500."""
    assert isinstance(exc, AiguilleurError)
    status = status_of(exc)
    if status == 500:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return problem(500, "InternalServerError", INTERNAL_DETAIL)
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidTransition):
        extra["allowed"] = [int(code) for code in exc.allowed]
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return problem(status, type(exc).__name__, str(exc), headers=headers, **extra)


async def http_problem(request: Request, exc: Exception) -> JSONResponse:
    """Framework HTTP errors (unknown route, wrong method, bad multipart, body too large)."""
    assert isinstance(exc, StarletteHTTPException)
    phrase = _phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    return problem(exc.status_code, phrase, detail, headers=exc.headers)


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    """422 with the list of what is wrong; inputs are not echoed (they may hold personal data)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors) or "requête invalide"
    return problem(422, "RequestValidationError", detail, errors=errors)


async def unexpected_problem(request: Request, exc: Exception) -> JSONResponse:
    """Any other exception: logged with its traceback, answered with a generic 500."""
    logger.error("%s %s failed unexpectedly", request.method, request.url.path, exc_info=exc)
    return problem(500, "InternalServerError", INTERNAL_DETAIL)


def install(app: FastAPI) -> None:
    """Register the problem-details handlers on ``app``."""
    app.add_exception_handler(AiguilleurError, aiguilleur_problem)
    app.add_exception_handler(StarletteHTTPException, http_problem)
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(Exception, unexpected_problem)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
