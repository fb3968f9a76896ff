"""Fixtures of the dashboard tests: a hub with a real MDEL channel, people of two communes, a client,
and for the browser tests headless Debian Chromium and the application on a real uvicorn.

The hub's MDEL channel works on real directories under ``tmp_path``; its dossiers come from the fake
portal's demands, imported by ``run_connector`` as in production. Passwords are hashed with cheap argon2
parameters: the tests exercise the rules, not the cost.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.conftest import ORGANISATIONS, Clock

from aiguilleur.api.app import create_app
from aiguilleur.config import Config, ConnectorEntry, HubSettings
from aiguilleur.connectors.mdel import MdelConfig
from aiguilleur.connectors.registry import default_registry
from aiguilleur.domain.access import Role
from aiguilleur.engine.hub import Hub
from aiguilleur.engine.runner import run_connector
from aiguilleur.fakes.mdel_portal import MdelPortal
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.dossiers import DossierFilter
from aiguilleur.store.repository import Store

PASSWORD = "correct horse battery"
MDEL = "msp-nice"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def build_hub(store: Store, tmp_path: Path) -> Hub:
    """A hub over ``store`` with one MDEL channel on real directories (read at once: min_age 0)."""
    root = tmp_path / "mdel"
    settings = MdelConfig(
        every=60.0,
        min_age=0.0,
        input_dir=str(root / "in"),
        work_dir=str(root / "work"),
        output_dir=str(root / "out"),
        error_dir=str(root / "error"),
        done_dir=str(root / "done"),
        log_dir=str(root / "logs"),
    )
    config = Config(
        hub=HubSettings(data_dir=tmp_path / "data"),
        organisations=list(ORGANISATIONS),
        connectors={MDEL: ConnectorEntry("mdel", MDEL, settings)},
        base_dir=tmp_path,
    )
    store.users.hasher = FAST_HASHER
    hub = Hub(config=config, store=store, blobs=BlobStore(tmp_path / "blobs"), registry=default_registry())
    factory = hub.registry.get("mdel")
    assert factory is not None
    hub.connectors[MDEL] = factory(MDEL, settings, hub.context())
    for path in (root / "in", root / "out"):
        path.mkdir(parents=True, exist_ok=True)
    return hub


def make_users(store: Store) -> None:
    """admin (every organisation), agent-nice and agent-cannes (operators), lecteur-nice (reader)."""
    store.users.create("admin", PASSWORD, Role.ADMIN, ["*"], display_name="Camille Admin")
    store.users.create("agent-nice", PASSWORD, Role.OPERATOR, ["nice"], display_name="Agent de Nice")
    store.users.create("agent-cannes", PASSWORD, Role.OPERATOR, ["cannes"], display_name="Agent de Cannes")
    store.users.create("lecteur-nice", PASSWORD, Role.READER, ["nice"], display_name="Lecteur de Nice")


@dataclass(frozen=True)
class Seeded:
    """Dossiers imported from the fake portal: ids by organisation, numbers by id."""

    nice: list[str]
    cannes: list[str]
    numeros: dict[str, str]
    rejected: str  # name of the rejected demand in the error directory


def seed_demands(hub: Hub, portal: MdelPortal) -> Seeded:
    """Two demands for Nice, one for Cannes and one for an unknown commune, imported by one run."""
    inbox = hub.config.resolve("mdel/in")
    portal.make_demand("RCO-LA", "06088", directory=inbox)
    portal.make_demand("AEC-LA", "06088", directory=inbox)
    portal.make_demand("ILE-LA", "06029", directory=inbox)
    broken = portal.make_broken("unknown_insee", directory=inbox)
    outcome = run_connector(hub, MDEL)
    assert outcome.counts.get("imported") == 3, outcome
    page = hub.store.dossiers.search(DossierFilter(), None, limit=100)
    ids = {org: [d.id for d in page.items if d.organisation_id == org] for org in ("nice", "cannes")}
    return Seeded(
        nice=ids["nice"],
        cannes=ids["cannes"],
        numeros={d.id: d.external_id for d in page.items},
        rejected=broken.name,
    )


@pytest.fixture
def web_store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    """A migrated SQLite store (the dashboard's queries are the store's, tested on both backends there)."""
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}", now=clock)
    store.migrate()
    store.organisations.sync(ORGANISATIONS)
    yield store
    store.close()


@pytest.fixture
def hub(web_store: Store, tmp_path: Path) -> Hub:
    hub = build_hub(web_store, tmp_path)
    make_users(web_store)
    return hub


@pytest.fixture
def mdel_dir(tmp_path: Path) -> Path:
    """The MDEL channel's directories: in, work, out, error, done, logs."""
    return tmp_path / "mdel"


@pytest.fixture
def portal() -> MdelPortal:
    return MdelPortal(seed=7)


@pytest.fixture
def seeded(hub: Hub, portal: MdelPortal) -> Seeded:
    return seed_demands(hub, portal)


@pytest.fixture
def app(hub: Hub) -> FastAPI:
    return create_app(hub)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A browser-like client: it asks for HTML and keeps its cookies."""
    with TestClient(app, headers={"Accept": "text/html"}) as c:
        yield c


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match is not None, "no CSRF field in the page"
    return match.group(1)


def login(client: TestClient, user: str, password: str = PASSWORD) -> object:
    """Sign in through the form, as a person does; returns the answer to the POST."""
    token = csrf_of(client.get("/connexion").text)
    return client.post(
        "/connexion",
        data={"csrf": token, "login": user, "password": password, "suivant": "/"},
        follow_redirects=False,
    )


def post_form(client: TestClient, page: str, action: str, data: dict[str, str] | None = None) -> object:
    """Submit a form of ``page`` to ``action`` with the page's CSRF token."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={"csrf": token, **(data or {})}, follow_redirects=False)


# --- the browser: headless Debian Chromium and the dashboard on a real uvicorn --------------------

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (never a downloaded browser); missing: a failure in CI, else a skip."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} absent: apt-get install --no-install-recommends chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The application behind a real uvicorn on a free loopback port, in a thread; its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)  # waiting for a starting server, not timing behaviour
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=15)


@dataclass
class Tab:
    """A browser tab on the dashboard, with what it logged."""

    page: Any
    base: str
    problems: list[str]

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def sign_in(self, login: str, password: str = PASSWORD) -> None:
        if "/connexion" not in self.page.url:
            self.go("/connexion")
        self.page.get_by_label("Identifiant").fill(login)
        self.page.get_by_label("Mot de passe").fill(password)
        self.page.get_by_role("button", name="Se connecter").click()

    def alert(self) -> str:
        return str(self.page.locator(".alert").first.inner_text())


def open_tab(browser: Any, base: str, *, javascript: bool = True) -> Iterator[Tab]:
    context = browser.new_context(
        locale="fr-FR",
        timezone_id="Europe/Paris",
        viewport={"width": 1366, "height": 900},
        java_script_enabled=javascript,
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    # a Content-Security-Policy violation or a script error would show here
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield Tab(page, base, problems)
    context.close()
    unexpected = [p for p in problems if "Failed to load resource" not in p]  # our own 404 pages
    assert unexpected == []
