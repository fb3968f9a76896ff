"""Fixtures for the HubEE channel: the fake HubEE on the fixed clock, a hub over both store backends.

`Env` holds a hub whose HubEE connectors talk to the fake in process (``httpx.MockTransport``) or, with
`served`, over a real loopback socket (``HubeeServer``). The back-off waits are recorded, never slept.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiguilleur.config import Config, ConnectorEntry, HubSettings
from aiguilleur.connectors.hubee import HubeeChannel, HubeeConfig
from aiguilleur.connectors.registry import Registry
from aiguilleur.engine.hub import Hub
from aiguilleur.engine.runner import RunOutcome, run_connector
from aiguilleur.fakes.hubee import FakeHubee, HubeeServer, Subscription
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.dossiers import DossierFilter
from aiguilleur.store.repository import Store
from aiguilleur.store.views import DossierDetail
from tests.conftest import ORGANISATIONS, Clock

JDD = Path(__file__).resolve().parents[4] / "shared" / "data" / "hubee" / "jdd"
API_URL = "https://api.hubee.test"
TOKEN_URL = "https://auth.hubee.test/oauth2/token"
SAMPLES = {  # sample folder -> processCode
    "ETATCIVIL": "EtatCivil",
    "RECENSEMENTCITOYEN": "recensementCitoyen",
    "DEPOTDOSSIERPACS": "depotDossierPACS",
    "JECHANGEDECOORDONNEES": "JeChangeDeCoordonnees",
    "certificat-non-pacs": "certificat-non-pacs",
}


class Wire(httpx.BaseTransport):
    """The fake HubEE in process, with a log of the calls and network failures on demand.

    `cut(prefix, exc, times, after=False)`: the next matching requests raise `exc` (a reset, a refused
    connection) before reaching the platform, or, with `after`, once the platform has answered (the
    answer is lost: the request did happen).
    """

    def __init__(self, world: FakeHubee) -> None:
        self.world = world
        self.seen: list[httpx.Request] = []
        self._cuts: list[list[Any]] = []

    def cut(
        self, prefix: str, exc: Exception, times: int = 1, *, method: str | None = None, after: bool = False
    ) -> None:
        self._cuts.append([prefix, exc, times, method, after])

    def _cut(self, request: httpx.Request, after: bool) -> None:
        for cut in self._cuts:
            prefix, exc, times, method, when = cut
            if when == after and request.url.path.startswith(prefix) and method in (None, request.method):
                cut[2] = times - 1
                if cut[2] <= 0:
                    self._cuts.remove(cut)
                raise exc

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        self._cut(request, after=False)
        response = self.world(request)
        self._cut(request, after=True)
        return response

    def paths(self, method: str | None = None) -> list[str]:
        return [r.url.path for r in self.seen if method in (None, r.method)]


def hubee_config(
    sub: Subscription, *, api_url: str = API_URL, token_url: str = TOKEN_URL, **extra: Any
) -> HubeeConfig:
    values: dict[str, Any] = {
        "api_url": api_url,
        "token_url": token_url,
        "process_code": sorted(sub.process_codes)[0],
        "client_id": sub.client_id,
        "client_secret": sub.client_secret,
        "editor_name": "COMMUNE DE NICE",
        "software_version": "9.9.9",
    }
    values.update(extra)
    return HubeeConfig.model_validate(values)


@dataclass
class Env:
    """A hub with HubEE connectors over the fake HubEE."""

    hub: Hub
    store: Store
    blobs: BlobStore
    world: FakeHubee
    clock: Clock
    tmp_path: Path
    waits: list[float]
    transport: Callable[[], httpx.BaseTransport | None]
    wire: Wire | None = None
    urls: tuple[str, str] = (API_URL, TOKEN_URL)
    channels: dict[str, HubeeChannel] = field(default_factory=dict)

    def add(self, name: str, sub: Subscription, **extra: Any) -> HubeeChannel:
        settings = hubee_config(sub, api_url=self.urls[0], token_url=self.urls[1], **extra)
        self.hub.config.connectors[name] = ConnectorEntry("hubee", name, settings)
        channel = HubeeChannel(
            name, settings, self.hub.context(), transport=self.transport(), sleep=self.waits.append
        )
        self.hub.connectors[name] = channel
        self.channels[name] = channel
        return channel

    def sync(self, name: str = "etatcivil") -> RunOutcome:
        return run_connector(self.hub, name)

    def dossiers(self, connector: str | None = None) -> list[DossierDetail]:
        page = self.store.dossiers.search(DossierFilter(connector=connector), None, limit=500)
        return [self.store.dossiers.get(d.id, None) for d in reversed(page.items)]

    def dossier(self, external_id: str) -> DossierDetail:
        found = [d for d in self.dossiers() if d.external_id == external_id]
        assert len(found) == 1, [d.external_id for d in self.dossiers()]
        return found[0]

    def journal(self, kind: str) -> list[str]:
        return [j.message for j in reversed(self.store.journal.recent(kinds=(kind,), limit=500))]

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()


@pytest.fixture
def world(clock: Clock) -> FakeHubee:
    hubee = FakeHubee(now=clock, sleep=lambda _s: None)
    hubee.samples_dir = JDD
    return hubee


@pytest.fixture
def etatcivil(world: FakeHubee) -> Subscription:
    return world.add_subscription("EtatCivil")


def _env(store: Store, blobs: BlobStore, world: FakeHubee, clock: Clock, tmp_path: Path, **kw: Any) -> Env:
    registry = Registry()
    registry.register(HubeeChannel)
    config = Config(base_dir=tmp_path, hub=HubSettings(), organisations=list(ORGANISATIONS))
    hub = Hub(config=config, store=store, blobs=blobs, registry=registry)
    return Env(hub, store, blobs, world, clock, tmp_path, [], **kw)


@pytest.fixture
def env(store: Store, blobs: BlobStore, world: FakeHubee, clock: Clock, tmp_path: Path) -> Iterator[Env]:
    """Connectors talking to the fake in process."""
    wire = Wire(world)
    e = _env(store, blobs, world, clock, tmp_path, transport=lambda: wire, wire=wire)
    yield e
    e.close()


@pytest.fixture
def served(store: Store, blobs: BlobStore, world: FakeHubee, clock: Clock, tmp_path: Path) -> Iterator[Env]:
    """Connectors talking to the fake over a real loopback socket."""
    with HubeeServer(world) as server:
        e = _env(
            store,
            blobs,
            world,
            clock,
            tmp_path,
            transport=lambda: None,
            urls=(server.base_url, server.token_url),
        )
        yield e
        e.close()


@pytest.fixture(params=["memory", pytest.param("socket", marks=pytest.mark.integration)])
def any_env(request: pytest.FixtureRequest, store: Store) -> Env:
    """Each scenario twice: in process, then over a real socket (on each store backend)."""
    e: Env = request.getfixturevalue("env" if request.param == "memory" else "served")
    return e


def traced_peak(run: Callable[[], RunOutcome]) -> tuple[RunOutcome, int]:
    """`run()`'s outcome and the peak of the memory Python allocated meanwhile (every thread)."""
    tracemalloc.start()
    try:
        outcome = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak


def requests_log(world: FakeHubee) -> list[tuple[str, str]]:
    """(method, path) of every call the platform answered, in order, in process or over a socket."""
    return [(r.method, r.path) for r in world.requests]
