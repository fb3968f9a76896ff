"""``aiguilleur run`` and ``aiguilleur demo``: the scheduler and the web server in one process."""

from __future__ import annotations

import logging
import os
import secrets
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from aiguilleur.config import Config
from aiguilleur.domain.access import ALL, Role
from aiguilleur.errors import AccessDenied
from aiguilleur.store.repository import Store

logger = logging.getLogger(__name__)
console = Console(soft_wrap=True)


def demo_token(store: Store, data_dir: Path) -> str:
    """The demo's admin token, kept in ``data_dir/demo-token`` (0600) and reused across starts."""
    path = data_dir / "demo-token"
    if path.is_file():
        token = path.read_text().strip()
        try:
            store.tokens.authenticate(token)
            return token
        except AccessDenied:
            pass
    token = store.tokens.create("demo", Role.ADMIN, [ALL])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token


DEMO_LOGIN = "demo"


def demo_user(store: Store, data_dir: Path) -> tuple[str, str]:
    """The demo's dashboard login and password (admin, every organisation), created if missing.

    The password is kept in ``data_dir/demo-password`` (0600) and reused across starts; it is reset
    when the file is gone.
    """
    path = data_dir / "demo-password"
    password = path.read_text().strip() if path.is_file() else ""
    if password and store.users.find(DEMO_LOGIN) is not None:
        return DEMO_LOGIN, password
    password = secrets.token_urlsafe(12)
    if store.users.find(DEMO_LOGIN) is None:
        store.users.create(
            DEMO_LOGIN, password, Role.ADMIN, [ALL], display_name="Agent de démonstration", actor="demo"
        )
    else:
        store.users.set_password(DEMO_LOGIN, password, actor="demo")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    return DEMO_LOGIN, password


@contextmanager
def _quiet_signals() -> Iterator[None]:
    """Let uvicorn handle SIGINT/SIGTERM, then swallow the signal it re-raises once it has stopped.

    uvicorn re-raises the captured signal after shutdown so that the previous handler runs; with the
    default handlers SIGTERM would kill the process before the scheduler is stopped.
    """
    previous = {sig: signal.signal(sig, _note_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _note_signal(signum: int, _frame: object) -> None:
    logger.info("signal %s reçu : arrêt", signal.Signals(signum).name)


def serve(config: Config, *, demo: bool = False) -> None:
    """Open the hub, start the scheduler and serve the API until SIGTERM or SIGINT, then stop cleanly."""
    import uvicorn

    from aiguilleur.api.app import create_app
    from aiguilleur.engine.hub import Hub
    from aiguilleur.engine.scheduler import Scheduler

    hub = Hub.open(config)
    try:
        hub.scheduler = Scheduler(hub)
        hub.scheduler.start()
        app = create_app(hub)
        host, port = config.hub.host, config.hub.port
        base = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        console.print(
            f"aiguilleur écoute sur {base}  (santé : {base}/healthz, API : {base}/docs)", highlight=False
        )
        console.print(f"Tableau de bord : {base}/", highlight=False)
        if demo:
            token = demo_token(hub.store, config.data_dir)
            console.print(f"Démonstration : données dans {config.data_dir}", highlight=False)
            console.print(f"Jeton administrateur de démonstration : {token}", highlight=False, soft_wrap=True)
            console.print(
                f"  curl -H 'Authorization: Bearer {token}' {base}/api/v1/dossiers",
                highlight=False,
                soft_wrap=True,
            )
            login, password = demo_user(hub.store, config.data_dir)
            console.print(
                f"Tableau de bord de démonstration : {base}/  identifiant « {login} », "
                f"mot de passe « {password} »",
                highlight=False,
                soft_wrap=True,
            )
        activity = None
        if demo:
            from aiguilleur.cli.demo import DemoActivity

            activity = DemoActivity(hub)
            activity.start()
        server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
        )
        with _quiet_signals():
            server.run()  # returns after SIGINT / SIGTERM, requests drained
        if activity is not None:
            activity.stop()
    finally:
        hub.close()  # stops the scheduler gracefully: running synchronisations finish or are interrupted
