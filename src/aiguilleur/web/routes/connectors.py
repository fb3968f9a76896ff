"""Connectors: their state, settings (secrets masked), last runs, run now, and each run's log file.

Run now goes through the embedded scheduler when this process runs one (the run happens in the
background, one at a time per connector); otherwise the run happens during the request. Run errors and
log files name files and dossiers of every organisation: only people who see every organisation read
them.
"""

from __future__ import annotations

import logging
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import FileResponse, RedirectResponse, Response

from aiguilleur.domain.access import Role
from aiguilleur.engine.hub import Hub
from aiguilleur.engine.runner import run_connector
from aiguilleur.errors import NotFound
from aiguilleur.store.views import RunView
from aiguilleur.web.deps import CsrfDep, HubDep, OperatorDep, ReaderDep, flash
from aiguilleur.web.health import connector_states
from aiguilleur.web.queries import find_run
from aiguilleur.web.render import OUTCOMES, render

logger = logging.getLogger(__name__)
router = APIRouter()

Name = Annotated[str, Path(max_length=63)]
RUNS_SHOWN = 20


@router.get("/connecteurs")
def list_connectors(request: Request, hub: HubDep, user: ReaderDep) -> Response:
    return render(
        request,
        "connectors.html",
        nav="connectors",
        connectors=connector_states(hub),
        outcomes=OUTCOMES,
        can_run=user.principal.role.allows(Role.OPERATOR),
    )


@router.get("/connecteurs/{name}")
def show_connector(request: Request, name: Name, hub: HubDep, user: ReaderDep) -> Response:
    if name not in hub.config.connectors:
        raise NotFound(f"connecteur « {name} » inconnu")
    state = next(s for s in connector_states(hub) if s.name == name)
    runs = hub.store.runs.latest(name, RUNS_SHOWN)
    sees_all = user.principal.scope is None
    return render(
        request,
        "connector.html",
        nav="connectors",
        c=state,
        settings=hub.config.summary(name),
        runs=runs,
        logs={run.id: _log_file(hub, name, run) is not None for run in runs} if sees_all else {},
        sees_all=sees_all,
        outcomes=OUTCOMES,
        can_run=user.principal.role.allows(Role.OPERATOR),
    )


@router.post("/connecteurs/{name}/lancer")
def run_now(request: Request, name: Name, hub: HubDep, user: OperatorDep, _csrf: CsrfDep) -> Response:
    hub.connector(name)  # NotFound for an unknown or disabled connector
    if hub.scheduler is not None:
        if hub.scheduler.run_now(name):
            flash(request, f"Synchronisation de {name} lancée ; son résultat s'affichera ci-dessous.")
        else:
            flash(request, f"{name} est déjà en cours de synchronisation.", "warning")
    else:
        outcome = run_connector(hub, name, trigger="manual")
        counts = ", ".join(f"{k} : {v}" for k, v in sorted(outcome.counts.items())) or "rien de nouveau"
        if outcome.is_ok:
            flash(request, f"Synchronisation {outcome.run_id} de {name} terminée ({counts}).")
        else:
            flash(
                request, f"Synchronisation {outcome.run_id} de {name} {OUTCOMES[outcome.outcome]}.", "error"
            )
    logger.info("connector %s: run requested from the dashboard by %s", name, user.login)
    return RedirectResponse(f"/connecteurs/{name}", status_code=303)


@router.get("/connecteurs/{name}/synchronisations/{run_id}/journal")
def run_log(name: Name, run_id: int, hub: HubDep, user: ReaderDep) -> Response:
    if user.principal.scope is not None:
        raise NotFound("journal réservé aux comptes qui voient toutes les organisations")
    run = find_run(hub.store, name, run_id)
    path = _log_file(hub, name, run) if run is not None else None
    if path is None:
        raise NotFound(f"pas de journal pour la synchronisation {run_id} de {name}")
    return FileResponse(
        path,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'"},
    )


def _log_file(hub: Hub, name: str, run: RunView) -> FsPath | None:
    """The run's log file: the one its record names, else ``sync-*-<run id>.log`` in the ``log_dir``."""
    entry = hub.config.connectors.get(name)
    log_dir = getattr(entry.settings, "log_dir", None) if entry is not None else None
    if not isinstance(log_dir, str):
        return None
    directory = hub.config.resolve(log_dir).resolve()
    candidates = [FsPath(run.log_file)] if run.log_file else []
    if directory.is_dir():
        candidates += sorted(directory.glob(f"sync-*-{run.id}.log"))
    for path in candidates:
        resolved = path.resolve()
        if resolved.parent == directory and resolved.is_file():  # never a file outside the log directory
            return resolved
    return None
