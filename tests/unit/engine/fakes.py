"""Fake connectors and a fake monotonic clock for the engine tests (no peer, no sleep)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from aiguilleur.config import Config, ConnectorEntry, HubSettings
from aiguilleur.connectors.base import (
    Capability,
    ConnectorInfo,
    ConnectorSettings,
    Health,
    HubContext,
    RunContext,
)
from aiguilleur.connectors.registry import Registry
from aiguilleur.domain.dossier import DossierIn, ExternalRef
from aiguilleur.engine.hub import Hub
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.outbox import OutboxItem
from aiguilleur.store.repository import Store
from tests.conftest import ORGANISATIONS

SAFETY_S = 10.0  # only a safety net: every wait below is ended by an event the test sets


class FakeChannel:
    """A channel whose peer is a list: ``incoming`` dossiers are received, returns land in ``sent``.

    ``failures`` are raised by the next ``send_return`` calls, in order; ``run_error`` by ``run``.
    """

    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="fake",
        title="Canal de test",
        config_model=ConnectorSettings,
        capabilities=frozenset({Capability.POLL, Capability.STATUS_RETURN}),
    )

    def __init__(self, name: str, settings: ConnectorSettings, context: HubContext) -> None:
        self.name = name
        self.settings = settings
        self.context = context
        self.incoming: list[DossierIn] = []
        self.rejects: list[str] = []
        self.sent: list[OutboxItem] = []
        self.failures: list[BaseException] = []
        self.run_error: BaseException | None = None
        self.runs = 0
        self.on_send: Any = None  # called with the item before it is "sent"
        self.release = threading.Event()

    def check(self) -> Health:
        return Health(is_ok=True)

    def run(self, ctx: RunContext) -> None:
        self.runs += 1
        if self.run_error is not None:
            raise self.run_error
        while self.incoming:
            received = self.context.store.dossiers.receive(self.incoming.pop(0))
            ctx.report.count(received.outcome)
        for reason in self.rejects:
            ctx.report.error(reason)
        self.rejects = []

    def send_return(self, item: OutboxItem) -> None:
        if self.on_send is not None:
            self.on_send(item)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(item)

    def dossier(self, n: int) -> DossierIn:
        """A demand for the organisation "nice", queued at the fake peer."""
        d = DossierIn(
            ref=ExternalRef(self.info.kind, self.name, f"D-{n}"),
            organisation_id="nice",
            procedure="RCO-LA",
            data={"n": n},
            origin=f"demande-{n}.zip",
            message_id=f"m-{n}",
        )
        self.incoming.append(d)
        return d


class BlockingChannel(FakeChannel):
    """A channel whose run blocks until ``release`` is set, or until the hub stops (``until_stopping``)."""

    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="blocking",
        title="Canal bloquant",
        config_model=ConnectorSettings,
        capabilities=frozenset({Capability.POLL, Capability.STATUS_RETURN}),
    )
    until_stopping = False

    def __init__(self, name: str, settings: ConnectorSettings, context: HubContext) -> None:
        super().__init__(name, settings, context)
        self.started = threading.Event()
        self.saw_stopping = False

    def run(self, ctx: RunContext) -> None:
        super().run(ctx)
        self.started.set()
        if self.until_stopping:
            self.saw_stopping = ctx.stopping.wait(SAFETY_S)
        else:
            self.release.wait(SAFETY_S)


class StoppableChannel(BlockingChannel):
    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="stoppable",
        title="Canal qui s'arrête avec le hub",
        config_model=ConnectorSettings,
        capabilities=frozenset({Capability.POLL}),
    )
    until_stopping = True


class PollOnlyChannel(FakeChannel):
    """A channel that takes no status back."""

    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="poll-only",
        title="Canal sans retour",
        config_model=ConnectorSettings,
        capabilities=frozenset({Capability.POLL}),
    )


def make_hub(
    store: Store,
    blobs: BlobStore,
    connectors: dict[str, tuple[type[FakeChannel], ConnectorSettings]],
    *,
    max_parallel: int = 4,
) -> Hub:
    """A hub with the given fake connectors, registered in a registry of its own."""
    registry = Registry()
    entries: dict[str, ConnectorEntry] = {}
    for name, (cls, settings) in connectors.items():
        registry.register(cls)
        entries[name] = ConnectorEntry(cls.info.kind, name, settings)
    config = Config(
        hub=HubSettings(max_parallel=max_parallel), organisations=list(ORGANISATIONS), connectors=entries
    )
    hub = Hub(config=config, store=store, blobs=blobs, registry=registry)
    context = hub.context()
    for name, (cls, settings) in connectors.items():
        hub.connectors[name] = cls(name, settings, context)
    return hub


def channel(hub: Hub, name: str) -> Any:
    """The fake behind ``name``, typed loosely for the tests."""
    return hub.connectors[name]


class FakeMonotonic:
    """A monotonic clock tests move by hand."""

    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds
