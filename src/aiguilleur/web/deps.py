"""What dashboard routes depend on: the signed-in person, the role a route needs, the CSRF check.

A page asked for without a session redirects to the sign-in page (``LoginRequired``); a role too weak
answers 403 (``WebForbidden``); a form whose CSRF token does not match the session's answers 403
(``CsrfRefused``). The token is bound to the session (``session["csrf"]``), renewed at each sign-in,
and every form carries it in its ``csrf`` field.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any, cast

from fastapi import Depends, Form, Request

from aiguilleur.domain.access import Role
from aiguilleur.engine.hub import Hub
from aiguilleur.store.users import UserView

ROLE_LABELS = {"reader": "lecteur", "operator": "agent", "admin": "administrateur"}


class LoginRequired(Exception):
    """No signed-in person: the dashboard answers with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url
        super().__init__(next_url)


class WebForbidden(Exception):
    """The signed-in person may not do this (403 page)."""


class CsrfRefused(WebForbidden):
    """A form without the session's CSRF token: possibly forged by another site."""


def hub_of(request: Request) -> Hub:
    return cast(Hub, request.app.state.hub)


HubDep = Annotated[Hub, Depends(hub_of)]


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created at the first form shown."""
    session: dict[str, Any] = request.session
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> None:
    """Refuse a form whose ``csrf`` field differs from the session's token."""
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not secrets.compare_digest(csrf.encode(), expected.encode()):
        raise CsrfRefused("jeton de formulaire absent ou périmé : recharger la page puis recommencer")


CsrfDep = Annotated[None, Depends(check_csrf)]


def flash(request: Request, message: str, kind: str = "success") -> None:
    """A message shown once, on the next page (after a redirect)."""
    flashes: list[list[str]] = request.session.setdefault("flash", [])
    flashes.append([kind, message])


def pop_flashes(request: Request) -> list[tuple[str, str]]:
    raw = request.session.pop("flash", [])
    return [(str(kind), str(text)) for kind, text in raw] if isinstance(raw, list) else []


def current_user(request: Request, hub: HubDep) -> UserView:
    """The signed-in person, read again at each request: a disabled account loses its session at once."""
    uid = request.session.get("uid")
    user = hub.store.users.get(uid) if isinstance(uid, int) else None
    if user is None or user.disabled or user.login != request.session.get("login"):
        if uid is not None:
            request.session.clear()
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    request.state.user = user
    return user


UserDep = Annotated[UserView, Depends(current_user)]


def require(role: Role) -> Callable[[UserView], UserView]:
    def dependency(user: UserDep) -> UserView:
        if not Role(user.role).allows(role):
            raise WebForbidden(f"action réservée au rôle « {ROLE_LABELS[str(role)]} » ou supérieur")
        return user

    dependency.__name__ = f"web_require_{role}"
    return dependency


ReaderDep = Annotated[UserView, Depends(require(Role.READER))]
OperatorDep = Annotated[UserView, Depends(require(Role.OPERATOR))]
