"""``aiguilleur sync NAME``: exit 0 when the run worked (rejected items included), 1 when it failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from aiguilleur.cli.app import app
from aiguilleur.connectors import registry as registry_module
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
from aiguilleur.errors import PermanentError

runner = CliRunner()


class DropSettings(ConnectorSettings):
    input_dir: str
    fail: bool = False


class DropChannel:
    """Each ``*.json`` file of ``input_dir`` is a dossier; a file that is not JSON is rejected."""

    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="drop", title="Dépôt JSON", config_model=DropSettings, capabilities=frozenset({Capability.POLL})
    )

    def __init__(self, name: str, settings: DropSettings, context: HubContext) -> None:
        self.name, self.settings, self.context = name, settings, context

    def check(self) -> Health:
        return Health(True)

    def run(self, ctx: RunContext) -> None:
        if self.settings.fail:
            raise PermanentError("dépôt inaccessible : droits refusés")
        for path in sorted(self.context.resolve(self.settings.input_dir).glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except ValueError:
                ctx.report.error(f"{path.name} : JSON invalide")
                continue
            got = self.context.store.dossiers.receive(
                DossierIn(
                    ref=ExternalRef("drop", self.name, path.stem),
                    organisation_id="nice",
                    procedure="test",
                    data=data,
                ),
                has_returns=False,
            )
            ctx.report.count(got.outcome)


@pytest.fixture(autouse=True)
def drop_registry(monkeypatch):
    reg = Registry()
    reg.register(DropChannel)
    monkeypatch.setattr(registry_module, "_default", reg)


def write_config(tmp_path: Path, *, fail: bool = False) -> Path:
    (tmp_path / "in").mkdir(exist_ok=True)
    path = tmp_path / "aiguilleur.toml"
    path.write_text(
        '[hub]\ndata_dir = "data"\n[[organisations]]\nid = "nice"\nname = "Nice"\ninsee = "06088"\n'
        f'[connectors.drop.depot]\nevery = "1m"\ninput_dir = "in"\nfail = {"true" if fail else "false"}\n'
    )
    return path


def test_sync_imports_and_reports_rejects_but_exits_0(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "in" / "A-1.json").write_text('{"nom": "x"}')
    (tmp_path / "in" / "A-2.json").write_text("{pas du json")
    result = runner.invoke(app, ["--config", str(config), "sync", "depot"])
    assert result.exit_code == 0, result.output
    assert "created : 1" in result.output and "A-2.json : JSON invalide" in result.output
    listed = runner.invoke(app, ["--config", str(config), "dossiers", "list", "--json"])
    assert json.loads(listed.output)["total"] == 1
    again = runner.invoke(app, ["--config", str(config), "sync", "depot"])
    assert (
        "duplicate" not in again.output
        and json.loads(runner.invoke(app, ["--config", str(config), "dossiers", "list", "--json"]).output)[
            "total"
        ]
        == 1
    )


def test_sync_failure_exits_1_with_reason(tmp_path):
    config = write_config(tmp_path, fail=True)
    result = runner.invoke(app, ["--config", str(config), "sync", "depot"])
    assert result.exit_code == 1
    assert "dépôt inaccessible" in result.output


def test_sync_unknown_connector_exits_3(tmp_path):
    config = write_config(tmp_path)
    result = runner.invoke(app, ["--config", str(config), "sync", "nope"])
    assert result.exit_code == 3 and "connecteur inconnu « nope » (configurés : depot)" in result.output
