"""Unauthenticated probes: ``/healthz`` for load balancers, ``/metrics`` for Prometheus."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from aiguilleur.api.deps import HubDep
from aiguilleur.api.metrics import Metrics
from aiguilleur.api.problems import Unavailable, problem_responses
from aiguilleur.api.schemas import Health

logger = logging.getLogger(__name__)

router = APIRouter(tags=["supervision"])


@router.get("/healthz", responses=problem_responses(503))
def healthz(request: Request, hub: HubDep) -> Health:
    """The hub answers and its database too (``SELECT 1``); 503 otherwise."""
    try:
        with hub.store.read() as s:
            s.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        logger.warning("healthz: the database did not answer: %s", type(exc).__name__)
        raise Unavailable("base de données injoignable") from exc
    return Health(version=request.app.version)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text exposition of this application's registry."""
    registry = request.app.state.metrics
    assert isinstance(registry, Metrics)
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
