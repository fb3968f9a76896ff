"""Dependencies of the API routes: the hub, the authenticated caller and the role a route needs.

Callers authenticate with ``Authorization: Bearer agl_…`` (tokens from ``aiguilleur token create``).
A missing or bad token is a 401 (``AccessDenied``), a role too weak a 403 (``Forbidden``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aiguilleur.api.problems import Forbidden
from aiguilleur.domain.access import Principal, Role
from aiguilleur.engine.hub import Hub
from aiguilleur.errors import AccessDenied

_bearer = HTTPBearer(auto_error=False, description="Jeton d'API « agl_… » (aiguilleur token create)")


def get_hub(request: Request) -> Hub:
    """The hub the application was created with."""
    return cast(Hub, request.app.state.hub)


HubDep = Annotated[Hub, Depends(get_hub)]


def get_principal(
    hub: HubDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller of the bearer token; raises ``AccessDenied`` when it is missing, unknown or revoked."""
    if credentials is None:
        raise AccessDenied("authentification requise : en-tête « Authorization: Bearer agl_… » attendu")
    return hub.store.tokens.authenticate(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(role: Role) -> Callable[[Principal], Principal]:
    """A dependency giving the caller when its role allows ``role``; raises ``Forbidden`` otherwise."""

    def dependency(principal: PrincipalDep) -> Principal:
        if not principal.role.allows(role):
            raise Forbidden(f"rôle « {principal.role} » insuffisant : « {role} » requis")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


ReaderDep = Annotated[Principal, Depends(require(Role.READER))]
OperatorDep = Annotated[Principal, Depends(require(Role.OPERATOR))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]
