"""Each connector's state as the dashboard shows it: health check, last run, next run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from aiguilleur.durations import format_duration
from aiguilleur.engine.hub import Hub
from aiguilleur.errors import AiguilleurError
from aiguilleur.store.dossiers import Scope
from aiguilleur.store.views import RunView
from aiguilleur.web.queries import dead_returns
from aiguilleur.web.rejected import list_rejected

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectorState:
    name: str
    kind: str
    title: str
    enabled: bool
    every: str
    tone: str  # ok, warning, error, idle: the colour of its badge
    state: str  # what the badge says
    detail: str
    last_run: RunView | None
    next_run: datetime | None
    is_running: bool


def connector_states(hub: Hub) -> list[ConnectorState]:
    """Every configured connector, by name."""
    last_runs = hub.store.runs.last_by_connector()
    return [_state(hub, name, last_runs.get(name)) for name in sorted(hub.config.connectors)]


def _state(hub: Hub, name: str, last: RunView | None) -> ConnectorState:
    entry = hub.config.connectors[name]
    info = hub.registry.info(entry.kind)
    connector = hub.connectors.get(name)
    scheduler = hub.scheduler
    is_running = scheduler is not None and scheduler.is_running(name)
    detail = ""
    if connector is None:
        tone, state = "idle", "désactivé"
    else:
        try:
            health = connector.check()
        except (AiguilleurError, OSError) as exc:
            logger.warning("connector %s: health check failed: %s", name, exc)
            health_ok, detail = False, f"vérification impossible : {exc}"
        else:
            health_ok, detail = health.is_ok, health.detail
        if is_running or (last is not None and last.outcome == "running"):
            tone, state = "progress", "synchronisation en cours"
        elif not health_ok:
            tone, state = "error", "configuration en défaut"
        elif last is None:
            tone, state = "idle", "jamais synchronisé"
        elif last.outcome == "failed":
            tone, state = "error", "dernière synchronisation en échec"
        elif last.errors:
            tone, state = "warning", "fonctionne, avec des fichiers refusés"
        else:
            tone, state = "ok", "fonctionne"
    return ConnectorState(
        name=name,
        kind=entry.kind,
        title=info.title if info is not None else entry.kind,
        enabled=entry.settings.enabled,
        every=format_duration(entry.settings.every),
        tone=tone,
        state=state,
        detail=detail,
        last_run=last,
        next_run=scheduler.next_run(name) if scheduler is not None else None,
        is_running=is_running,
    )


def error_queue_count(hub: Hub, scope: Scope) -> int:
    """Failed returns in ``scope``, plus rejected imports for people who see every organisation."""
    return dead_returns(hub.store, scope) + (len(list_rejected(hub)) if scope is None else 0)
