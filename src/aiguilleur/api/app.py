"""The REST API: ``create_app(hub)`` builds the FastAPI application over a hub.

Routes: ``/healthz`` and ``/metrics`` (no authentication), and under ``/api/v1`` the organisations, the
dossiers with their documents and statuses, the outbox of returns and the connectors (bearer tokens,
roles and organisation scopes). Errors are problem details (``api/problems.py``). OpenAPI at
``/openapi.json``, interactive documentation at ``/docs``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

import aiguilleur
from aiguilleur.api import problems
from aiguilleur.api.metrics import RequestCounter, build_metrics
from aiguilleur.api.routes import connectors, documents, dossiers, health, organisations, outbox, sne
from aiguilleur.engine.hub import Hub
from aiguilleur.web import mount_dashboard

API_PREFIX = "/api/v1"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def package_version() -> str:
    """``aiguilleur.__version__`` when set, else the installed distribution's version."""
    declared = getattr(aiguilleur, "__version__", None)
    if isinstance(declared, str):
        return declared
    try:
        return version("aiguilleur")
    except PackageNotFoundError:
        return "0+unknown"


def create_app(hub: Hub, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """The API application over ``hub``; ``max_upload_bytes`` caps an uploaded document (413 above)."""
    app = FastAPI(
        title="aiguilleur",
        version=package_version(),
        description="Hub d'échanges des collectivités : dossiers reçus, statuts, retours et connecteurs.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    metrics = build_metrics(hub.store)
    app.state.hub = hub
    app.state.metrics = metrics
    app.state.max_upload_bytes = max_upload_bytes
    problems.install(app)
    app.add_middleware(RequestCounter, counter=metrics.requests, routes=lambda: app.routes)

    app.include_router(health.router)
    app.include_router(organisations.router, prefix=API_PREFIX)
    app.include_router(dossiers.router, prefix=API_PREFIX)
    app.include_router(documents.router, prefix=API_PREFIX)
    app.include_router(outbox.router, prefix=API_PREFIX)
    app.include_router(connectors.router, prefix=API_PREFIX)
    app.include_router(sne.router, prefix=API_PREFIX)
    mount_dashboard(app, hub)  # the agents' dashboard (web/): HTML pages outside /api
    return app
