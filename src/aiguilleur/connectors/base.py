"""What every connector declares and offers (DESIGN.md "Layers", STYLE.md shape 1).

A *channel* brings dossiers and takes statuses back; a *service* answers requests and keeps no
dossier. The engine drives both through the small surface below, so that the embedded scheduler and
the procrastinate workers run the very same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from aiguilleur.durations import Duration
from aiguilleur.transport.files import GroupSync

if TYPE_CHECKING:
    import threading

    from aiguilleur.config import OrganisationConfig
    from aiguilleur.store.blobs import BlobStore
    from aiguilleur.store.outbox import OutboxItem
    from aiguilleur.store.repository import Store


class Capability(StrEnum):
    POLL = "poll"  # fetches new dossiers
    ACK = "ack"  # confirms receipt to the peer
    STATUS_RETURN = "status-return"  # accepts status changes back
    SERVICE = "service"  # request/response operations, no dossier


class ConnectorSettings(BaseModel):
    """Keys every connector section accepts; each kind's model adds its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    every: Duration = Field(300.0, gt=0, description="période entre deux synchronisations")
    enabled: bool = True
    organisation: str | None = Field(
        None, description="organisation par défaut quand le flux ne porte pas de clé de routage"
    )
    max_attempts: int = Field(8, ge=1, le=100, description="essais d'envoi d'un retour avant abandon")


@dataclass(frozen=True, slots=True)
class ConnectorInfo:
    kind: str  # also the entry-point name and the config section: [connectors.<kind>.<name>]
    title: str  # shown in the dashboard
    config_model: type[ConnectorSettings]
    capabilities: frozenset[Capability]


@dataclass(slots=True)
class Health:
    is_ok: bool
    detail: str = ""


@dataclass(slots=True)
class RunReport:
    """What one synchronisation did: counts by outcome and the errors, for the run record and log."""

    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + n

    def error(self, message: str) -> None:
        self.errors.append(message)
        self.count("errors")


@dataclass(slots=True)
class HubContext:
    """What the hub lends a connector: the store, the blobs, paths and the clock."""

    store: Store
    blobs: BlobStore
    base_dir: Path
    data_dir: Path
    now: Callable[[], datetime]
    organisations_by_insee: dict[str, str] = field(default_factory=dict)
    organisations: tuple[OrganisationConfig, ...] = ()  # every routing key: SIRET, INSEE, branch codes
    sync: GroupSync = field(default_factory=GroupSync)  # how files written by groups are made durable

    def resolve(self, path: str | Path) -> Path:
        """A configured path, relative paths taken from the configuration file's folder."""
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p


@dataclass(slots=True)
class RunContext:
    """One synchronisation of one connector."""

    connector: str
    run_id: int
    report: RunReport
    stopping: threading.Event
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Connector(Protocol):
    """Common surface: built from its settings and the hub, checked for health, run on a schedule."""

    info: ClassVar[ConnectorInfo]
    name: str

    def check(self) -> Health: ...

    def run(self, ctx: RunContext) -> None:
        """One synchronisation: fetch what is new and ingest it idempotently."""


@runtime_checkable
class Channel(Connector, Protocol):
    def send_return(self, item: OutboxItem) -> None:
        """Deliver one return; raise ``TransientError`` to retry later, ``PermanentError`` to give up."""


@runtime_checkable
class GroupChannel(Channel, Protocol):
    """A channel that delivers several returns at once more cheaply than one by one (one sync for all)."""

    def send_returns(self, items: Sequence[OutboxItem]) -> list[Exception | None]:
        """Deliver returns, each of another dossier: for each, in order, None when delivered, else the
        error ``send_return`` would have raised for it."""


ConnectorFactory = Callable[[str, Any, HubContext], Connector]
