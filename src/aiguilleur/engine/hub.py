"""The hub assembled from its configuration: store, blobs, connectors. Shared by CLI, API and workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from aiguilleur.config import Config
from aiguilleur.connectors.base import Connector, HubContext
from aiguilleur.connectors.registry import Registry, default_registry
from aiguilleur.errors import NotFound
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.repository import Store, utcnow
from aiguilleur.transport.files import GroupSync

if TYPE_CHECKING:
    from aiguilleur.engine.scheduler import Scheduler


@dataclass
class Hub:
    """Everything a running aiguilleur holds. Build it with ``Hub.open(config)``."""

    config: Config
    store: Store
    blobs: BlobStore
    registry: Registry
    connectors: dict[str, Connector] = field(default_factory=dict)
    scheduler: Scheduler | None = None  # set when the embedded scheduler runs

    @classmethod
    def open(
        cls,
        config: Config,
        *,
        registry: Registry | None = None,
        now: Callable[[], datetime] = utcnow,
        migrate: bool = True,
    ) -> Hub:
        """Open the store (migrating it), sync organisations and build every enabled connector."""
        registry = registry or default_registry()
        data_dir = config.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(config.database_url, now=now)
        if migrate:
            store.migrate()
        store.organisations.sync(config.organisations)
        sync = GroupSync(per_file=config.hub.group_sync == "files")
        blobs = BlobStore(data_dir / "blobs", sync=sync)
        hub = cls(config=config, store=store, blobs=blobs, registry=registry)
        context = hub.context()
        for name, entry in config.connectors.items():
            if not entry.settings.enabled:
                continue
            factory = registry.get(entry.kind)
            if factory is None:  # config validation already refused it; keep the message anyway
                raise NotFound(f"type de connecteur inconnu « {entry.kind} »")
            hub.connectors[name] = factory(name, entry.settings, context)
        return hub

    def context(self) -> HubContext:
        return HubContext(
            store=self.store,
            blobs=self.blobs,
            base_dir=self.config.base_dir,
            data_dir=self.config.data_dir,
            now=self.store.now,
            organisations_by_insee={o.insee: o.id for o in self.config.organisations if o.insee},
            organisations=tuple(self.config.organisations),
            sync=self.blobs.sync,
        )

    def connector(self, name: str) -> Connector:
        try:
            return self.connectors[name]
        except KeyError:
            known = ", ".join(sorted(self.connectors)) or "aucun"
            raise NotFound(f"connecteur inconnu « {name} » (configurés : {known})") from None

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.store.close()
