from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import SecretStr

from aiguilleur.config import load_config, parse_config
from aiguilleur.connectors.base import Capability, ConnectorInfo, ConnectorSettings
from aiguilleur.connectors.registry import Registry
from aiguilleur.durations import format_duration, parse_duration
from aiguilleur.errors import ConfigError


class PeerSettings(ConnectorSettings):
    api_url: str
    client_id: str
    client_secret: SecretStr
    input_dir: str = "var/in"


class PeerChannel:
    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="peer",
        title="Pair de test",
        config_model=PeerSettings,
        capabilities=frozenset({Capability.POLL}),
    )


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.register(PeerChannel)
    return reg


GOOD = """
[hub]
data_dir = "var"
listen = "127.0.0.1:8181"

[[organisations]]
id = "nice"
name = "Ville de Nice"
siret = "21060088800015"
insee = "06088"

[connectors.peer.etatcivil-nice]
every = "5m"
api_url = "https://api.example"
client_id = "${PEER_ID}"
client_secret = "${PEER_SECRET}"
organisation = "nice"
"""

ENV = {"PEER_ID": "id-123", "PEER_SECRET": "s3cr3t-value"}


def problems(text: str, registry: Registry, env: dict[str, str] | None = None) -> dict[str, str]:
    with pytest.raises(ConfigError) as err:
        parse_config(text, registry=registry, environ=ENV if env is None else env)
    return dict(err.value.problems)


def test_good_config_reads_secrets_from_environment(registry, tmp_path):
    config = parse_config(GOOD, registry=registry, environ=ENV, base_dir=tmp_path)
    entry = config.connectors["etatcivil-nice"]
    assert entry.kind == "peer" and entry.settings.every == 300
    assert entry.settings.client_secret.get_secret_value() == "s3cr3t-value"
    assert config.database_url == f"sqlite:///{tmp_path / 'var' / 'aiguilleur.db'}"
    assert config.hub.port == 8181


def test_summary_masks_secrets_and_environment_values(registry):
    config = parse_config(GOOD, registry=registry, environ=ENV)
    shown = config.summary("etatcivil-nice")
    assert shown["client_secret"] == "********" and shown["client_id"] == "********"
    assert shown["api_url"] == "https://api.example"
    assert "s3cr3t-value" not in repr(shown) and "s3cr3t-value" not in repr(config.connectors)


def test_missing_secret_variable_names_key_and_variable(registry):
    found = problems(GOOD, registry, env={"PEER_ID": "x"})
    assert found == {
        "connectors.peer.etatcivil-nice.client_secret": "variable d'environnement PEER_SECRET absente"
    }


def test_unknown_connector_kind_lists_known_ones(registry):
    found = problems(GOOD + "\n[connectors.ftp.x]\nevery = '1m'\n", registry)
    assert found["connectors.ftp"] == "type de connecteur inconnu « ftp » (connus : peer)"


def test_every_problem_reported_at_once_with_key_paths(registry):
    text = (
        GOOD.replace('every = "5m"', 'every = "bientôt"\ncolour = "red"')
        .replace('listen = "127.0.0.1:8181"', 'listen = "8181"')
        .replace('insee = "06088"', 'insee = "6088"')
    )
    found = problems(text, registry)
    assert set(found) == {
        "hub.listen",
        "organisations[0].insee",
        "connectors.peer.etatcivil-nice.every",
        "connectors.peer.etatcivil-nice.colour",
    }
    assert found["connectors.peer.etatcivil-nice.colour"] == "clé inconnue"
    assert "durée illisible" in found["connectors.peer.etatcivil-nice.every"]


def test_missing_required_key(registry):
    found = problems(GOOD.replace('api_url = "https://api.example"\n', ""), registry)
    assert found == {"connectors.peer.etatcivil-nice.api_url": "clé obligatoire absente"}


def test_unknown_organisation_of_connector(registry):
    found = problems(GOOD.replace('organisation = "nice"', 'organisation = "paris"'), registry)
    assert found == {"connectors.peer.etatcivil-nice.organisation": "organisation inconnue « paris »"}


def test_duplicate_organisation_and_connector_names(registry):
    text = (
        GOOD
        + """
[[organisations]]
id = "nice"
name = "Autre"
insee = "06088"
"""
    )
    found = problems(text, registry)
    assert set(found) == {"organisations[1].id", "organisations[1].insee"}


def test_malformed_toml_gives_line(registry):
    found = problems("[hub\nlisten=", registry)
    assert "TOML invalide" in found[""] and "line 1" in found[""]


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="fichier introuvable"):
        load_config(tmp_path / "absent.toml")


def test_relative_paths_resolve_from_the_config_folder(registry, tmp_path):
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "aiguilleur.toml"
    path.write_text(GOOD)
    config = load_config(path, registry=registry, environ=ENV)
    assert config.data_dir == tmp_path / "etc" / "var"
    assert config.resolve("var/in") == tmp_path / "etc" / "var" / "in"


def test_postgresql_url_uses_psycopg(registry):
    config = parse_config(
        '[hub]\ndatabase = "postgresql://hub@db/aiguilleur"\n', registry=registry, environ={}
    )
    assert config.database_url == "postgresql+psycopg://hub@db/aiguilleur"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("5m", 300), ("1h30m", 5400), ("500ms", 0.5), ("2d", 172800), (45, 45)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5 minutes", "m5", "-1s", True])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_format_duration():
    assert format_duration(5400) == "1h30m" and format_duration(0.25) == "250ms"


def test_group_sync_defaults_to_the_filesystem_and_takes_files(registry):
    assert parse_config(GOOD, registry=registry, environ=ENV).hub.group_sync == "filesystem"
    text = GOOD.replace('data_dir = "var"', 'data_dir = "var"\ngroup_sync = "files"')
    assert parse_config(text, registry=registry, environ=ENV).hub.group_sync == "files"
    found = problems(GOOD.replace('data_dir = "var"', 'data_dir = "var"\ngroup_sync = "never"'), registry)
    assert set(found) == {"hub.group_sync"} and "files" in found["hub.group_sync"]
