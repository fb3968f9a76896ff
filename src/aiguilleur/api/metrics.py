"""Prometheus metrics of one application: gauges read from the store at scrape time, an HTTP counter.

Each application gets its own ``CollectorRegistry`` (never the process-global one), so that several
applications — in tests, or a dashboard next to the API — do not collide.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aiguilleur.store import tables as t
from aiguilleur.store.repository import Store

logger = logging.getLogger(__name__)

OUTBOX_STATES = ("pending", "sending", "sent", "dead", "cancelled")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


@dataclass(frozen=True, slots=True)
class Metrics:
    """The registry an application exposes and the counter its middleware feeds."""

    registry: CollectorRegistry
    requests: Counter


def build_metrics(store: Store) -> Metrics:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    requests = Counter(
        "aiguilleur_http_requests",
        "HTTP requests answered, by method, route template and status",
        ("method", "route", "status"),
        registry=registry,
    )
    return Metrics(registry=registry, requests=requests)


def outbox_counts(store: Store) -> dict[str, int]:
    """Returns in the outbox by state."""
    # The store has no such query yet (outbox.list is capped at a page); read-only, one GROUP BY.
    stmt = select(t.OutboxItem.state, func.count()).group_by(t.OutboxItem.state)
    with store.read() as s:
        return {state: n for state, n in s.execute(stmt)}


class StoreCollector:
    """Gauges computed from the store on each scrape; a failing database gives ``database_up 0``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("aiguilleur_database_up", "1 when the database answered this scrape")
        try:
            dossiers = self.store.dossiers.counts_by_status(None)
            outbox = outbox_counts(self.store)
            runs = self.store.runs.last_by_connector()
        except SQLAlchemyError:
            logger.warning("metrics: the database did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        by_status = GaugeMetricFamily(
            "aiguilleur_dossiers", "Dossiers by channel and current status code", labels=("channel", "status")
        )
        for (channel, status), n in sorted(dossiers.items()):
            by_status.add_metric([channel, str(status)], n)
        yield by_status

        items = GaugeMetricFamily(
            "aiguilleur_outbox_items", "Returns in the outbox by state", labels=("state",)
        )
        for state in sorted(set(OUTBOX_STATES) | set(outbox)):
            items.add_metric([state], outbox.get(state, 0))
        yield items

        last_run = GaugeMetricFamily(
            "aiguilleur_connector_last_run_timestamp_seconds",
            "End (or start, while running) of each connector's newest run, Unix time",
            labels=("connector", "outcome"),
        )
        for name, run in sorted(runs.items()):
            last_run.add_metric([name, run.outcome], (run.ended_at or run.started_at).timestamp())
        yield last_run


class RouteTemplates:
    """The full path template (``/api/v1/dossiers/{dossier_id}``) of the route that answered a request.

    Since FastAPI 0.137 an included router is not flattened: ``scope["route"]`` is the router's own route,
    whose ``path_format`` lacks the prefix. ``iter_route_contexts`` gives each route with its full path.
    """

    def __init__(self, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self._routes = routes
        self._by_route: dict[int, str] = {}

    def of(self, route: Any) -> str:
        if route is None:
            return UNMATCHED
        template = self._by_route.get(id(route))
        if template is None:  # first request, or a route added since: index the routes again
            self._by_route = {
                id(ctx.original_route): ctx.path_format
                for ctx in iter_route_contexts(self._routes())
                if ctx.path_format
            }
            template = self._by_route.get(id(route))
        if template is None:
            own = getattr(route, "path_format", None)
            template = own if isinstance(own, str) else UNMATCHED
            self._by_route[id(route)] = template
        return template


class RequestCounter:
    """ASGI middleware counting requests by method, route template (not raw path) and status."""

    def __init__(self, app: ASGIApp, counter: Counter, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.counter = counter
        self.templates = RouteTemplates(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception escaping the app becomes a 500 further out

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = self.templates.of(scope.get("route"))
            self.counter.labels(method, route, str(status)).inc()
