"""``aiguilleur user …`` and the demo's dashboard login."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from tests.web.conftest import FAST_HASHER, PASSWORD
from typer.testing import CliRunner

from aiguilleur.cli.app import app
from aiguilleur.cli.serve import demo_user
from aiguilleur.config import load_config
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


def open_store(config_file: Path) -> Store:
    config = load_config(config_file)
    store = Store(config.database_url)
    store.migrate()
    return store


def cli(config_file: Path, *args: str, stdin: str | None = None):
    return runner.invoke(app, ["--config", str(config_file), *args], input=stdin, catch_exceptions=False)


def test_user_create_reads_the_password_from_stdin(config_file: Path) -> None:
    result = cli(
        config_file,
        "user",
        "create",
        "marie",
        "--role",
        "operator",
        "--org",
        "nice",
        "--name",
        "Marie",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "marie" in result.output and PASSWORD not in result.output
    store = open_store(config_file)
    user = store.users.authenticate("marie", PASSWORD)
    assert user.role == "operator" and user.organisations == ["nice"] and user.display_name == "Marie"
    store.close()


def test_user_create_prompts_twice_for_the_password(config_file: Path) -> None:
    result = cli(config_file, "user", "create", "paul", "--all-orgs", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    store = open_store(config_file)
    assert store.users.authenticate("paul", PASSWORD).organisations == ["*"]
    store.close()


@pytest.mark.parametrize(
    ("args", "stdin", "code"),
    [
        pytest.param(["--password-stdin"], PASSWORD, 2, id="no-organisation-option"),
        pytest.param(["--org", "nice", "--all-orgs", "--password-stdin"], PASSWORD, 2, id="both-options"),
        pytest.param(["--org", "nice", "--password-stdin"], "court", 2, id="weak-password"),
        pytest.param(["--org", "antibes", "--password-stdin"], PASSWORD, 3, id="unknown-organisation"),
    ],
)
def test_user_create_refuses(config_file: Path, args: list[str], stdin: str, code: int) -> None:
    assert cli(config_file, "user", "create", "marie", *args, stdin=stdin + "\n").exit_code == code


def test_user_list_unlock_password_and_disable(config_file: Path) -> None:
    cli(config_file, "user", "create", "marie", "--org", "nice", "--password-stdin", stdin=PASSWORD + "\n")
    listing = cli(config_file, "user", "list")
    assert "marie" in listing.output and "actif" in listing.output
    assert cli(config_file, "user", "unlock", "marie").exit_code == 0
    new = "a brand new password"
    assert cli(config_file, "user", "password", "marie", "--password-stdin", stdin=new + "\n").exit_code == 0
    assert cli(config_file, "user", "disable", "marie").exit_code == 0
    assert "désactivé" in cli(config_file, "user", "list").output
    assert cli(config_file, "user", "disable", "nobody").exit_code == 3
    store = open_store(config_file)
    store.users.set_disabled("marie", False)
    assert store.users.authenticate("marie", new).login == "marie"
    store.close()


def test_demo_user_is_created_once_and_its_password_kept(store: Store, tmp_path: Path) -> None:
    store.users.hasher = FAST_HASHER
    login, password = demo_user(store, tmp_path)
    assert store.users.authenticate(login, password).role == "admin"
    path = tmp_path / "demo-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_user(store, tmp_path) == (login, password)
    path.unlink()  # lost: a new password is set
    again = demo_user(store, tmp_path)
    assert again[1] != password and store.users.authenticate(login, again[1])
