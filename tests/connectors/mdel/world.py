"""A hub with one MDEL channel over test folders, as the connector tests drive it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiguilleur.config import Config, ConnectorEntry, HubSettings
from aiguilleur.connectors.mdel import MdelChannel, MdelConfig
from aiguilleur.connectors.registry import Registry
from aiguilleur.engine.hub import Hub
from aiguilleur.engine.runner import RunOutcome, run_connector
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.dossiers import DossierFilter
from aiguilleur.store.repository import Store
from tests.conftest import ORGANISATIONS, Clock

NAME = "msp"


@dataclass
class World:
    hub: Hub
    store: Store
    clock: Clock
    root: Path

    def dir(self, which: str) -> Path:
        return self.root / which

    def drop(self, name: str, data: bytes, *, age_s: float = 60.0) -> Path:
        """Put a file in the input directory, its mtime `age_s` before the test clock."""
        path = self.dir("in") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        stamp = self.clock().timestamp() - age_s
        os.utime(path, (stamp, stamp))
        return path

    def sync(self) -> RunOutcome:
        return run_connector(self.hub, NAME)

    def names(self, which: str) -> list[str]:
        path = self.dir(which)
        return sorted(p.name for p in path.iterdir()) if path.exists() else []

    def dossier_ids(self) -> list[str]:
        return [d.id for d in self.store.dossiers.search(DossierFilter(), None).items]

    def sync_log(self) -> str:
        return (self.dir("logs") / self.names("logs")[-1]).read_text()


def make_world(store: Store, blobs: BlobStore, clock: Clock, tmp_path: Path, **settings: Any) -> World:
    """A hub with the MDEL channel `NAME` over ``tmp_path/mdel/…``; `settings` adds or overrides keys
    of its configuration (e.g. sftp_pull=…, sftp_push=…)."""
    root = tmp_path / "mdel"
    config_model = MdelConfig.model_validate(
        {
            "input_dir": str(root / "in"),
            "work_dir": str(root / "work"),
            "output_dir": str(root / "out"),
            "error_dir": str(root / "error"),
            "done_dir": str(root / "done"),
            "log_dir": "mdel/logs",  # relative: taken from the configuration's folder
            **settings,
        }
    )
    registry = Registry()
    registry.register(MdelChannel)
    config = Config(
        base_dir=tmp_path,
        hub=HubSettings(),
        organisations=list(ORGANISATIONS),
        connectors={NAME: ConnectorEntry("mdel", NAME, config_model)},
    )
    hub = Hub(config=config, store=store, blobs=blobs, registry=registry)
    hub.connectors[NAME] = MdelChannel(NAME, config_model, hub.context())
    return World(hub, store, clock, root)
