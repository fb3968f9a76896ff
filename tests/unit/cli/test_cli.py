"""The command line as a script or an IT team uses it: messages and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiguilleur.cli.app import app
from aiguilleur.domain.dossier import DossierIn, ExternalRef
from aiguilleur.store.repository import Store

runner = CliRunner()

CONFIG = """
[hub]
data_dir = "data"

[[organisations]]
id = "nice"
name = "Ville de Nice"
insee = "06088"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "aiguilleur.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def dossier_id(config_file: Path) -> str:
    store = Store(f"sqlite:///{config_file.parent / 'data' / 'aiguilleur.db'}")
    store.migrate()
    from aiguilleur.config import load_config

    store.organisations.sync(load_config(config_file).organisations)
    got = store.dossiers.receive(
        DossierIn(
            ref=ExternalRef("mdel", "msp", "A-1-N8F602RR"),
            organisation_id="nice",
            procedure="RCO-LA",
            data={"x": 1},
            title="DUPONT",
        )
    )
    store.close()
    return got.dossier_id


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_version():
    result = cli("version")
    assert result.exit_code == 0 and result.output.startswith("aiguilleur ")


def test_check_valid_file(config_file):
    result = cli("--config", str(config_file), "check")
    assert result.exit_code == 0, result.output
    assert "Configuration valide" in result.output and "1 organisation(s)" in result.output


def test_check_reports_each_error_with_its_key_and_exits_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[hub]\nlisten = "nowhere"\nmax_parallel = 0\n[connectors.ftp.x]\nevery = "1m"\n')
    result = cli("--config", str(bad), "check")
    assert result.exit_code == 2
    assert "hub.listen" in result.output and "hub.max_parallel" in result.output
    assert "type de connecteur inconnu « ftp »" in result.output
    assert "Traceback" not in result.output


def test_check_malformed_toml(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[hub\n")
    result = cli("--config", str(bad), "check")
    assert result.exit_code == 2 and "TOML invalide" in result.output


def test_check_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("check")
    assert result.exit_code == 2 and "aucun fichier de configuration" in result.output


def test_config_from_environment_variable(config_file, monkeypatch):
    monkeypatch.setenv("AIGUILLEUR_CONFIG", str(config_file))
    assert cli("check").exit_code == 0


def test_missing_secret_never_shows_other_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_KEY", "tres-secret-123")
    path = tmp_path / "c.toml"
    path.write_text('[hub]\nsecret_key = "${HUB_KEY}"\nlisten = "${NO_SUCH_VAR}"\n')
    result = cli("--config", str(path), "check")
    assert result.exit_code == 2 and "NO_SUCH_VAR absente" in result.output
    assert "tres-secret-123" not in result.output


def test_dossiers_list_and_show(config_file, dossier_id):
    result = cli("--config", str(config_file), "dossiers", "list", "--json")
    assert result.exit_code == 0
    page = json.loads(result.output)
    assert page["total"] == 1 and page["items"][0]["external_id"] == "A-1-N8F602RR"
    shown = cli("--config", str(config_file), "dossiers", "show", dossier_id)
    assert (
        shown.exit_code == 0
        and "A-1-N8F602RR" in shown.output
        and "Statuts possibles : 15, 16, 100" in shown.output
    )


def test_show_unknown_dossier_exits_3(config_file):
    result = cli("--config", str(config_file), "dossiers", "show", "nope")
    assert result.exit_code == 3 and "introuvable" in result.output


def test_status_set_then_undo(config_file, dossier_id):
    result = cli("--config", str(config_file), "status", "set", dossier_id, "16", "-m", "Pris en charge")
    assert result.exit_code == 0 and "Statut 16" in result.output
    undone = cli("--config", str(config_file), "status", "undo", dossier_id)
    assert undone.exit_code == 0 and "statut actuel 14" in undone.output


def test_invalid_transition_exits_4_with_allowed_codes(config_file, dossier_id):
    result = cli("--config", str(config_file), "status", "set", dossier_id, "19")
    assert result.exit_code == 4 and "statuts possibles : 15, 16, 100" in result.output


def test_token_create_prints_a_working_token(config_file):
    result = cli(
        "--config", str(config_file), "token", "create", "gru", "--role", "operator", "--org", "nice"
    )
    assert result.exit_code == 0
    token = result.output.strip()
    store = Store(f"sqlite:///{config_file.parent / 'data' / 'aiguilleur.db'}")
    assert store.tokens.authenticate(token).role == "operator"
    listed = cli("--config", str(config_file), "token", "list")
    assert "gru" in listed.output and token not in listed.output


def test_token_for_unknown_organisation_exits_3(config_file):
    result = cli("--config", str(config_file), "token", "create", "gru", "--org", "paris")
    assert result.exit_code == 3 and "paris" in result.output


def test_token_needs_a_scope(config_file):
    assert cli("--config", str(config_file), "token", "create", "gru").exit_code == 2
