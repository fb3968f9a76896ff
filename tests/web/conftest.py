"""Fixtures of the dashboard tests: a hub with a real MDEL channel, people of two communes, a client.

The hub's MDEL channel works on real directories under ``tmp_path``; its dossiers come from the fake
portal's demands, imported by ``run_connector`` as in production. Passwords are hashed with cheap argon2
parameters: the tests exercise the rules, not the cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
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
