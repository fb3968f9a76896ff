"""SneConfig: what a ``[connectors.sne.<name>]`` section accepts, and the connector's declaration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aiguilleur.connectors.base import Capability
from aiguilleur.connectors.registry import Registry
from aiguilleur.connectors.sne import SneConfig, SneService
from aiguilleur.connectors.sne.config import ECOLE_URL
from aiguilleur.errors import ConfigError


def test_defaults_and_material() -> None:
    config = SneConfig(num_guichet="G0000", cert_file="c.pem", key_file="k.pem")
    assert config.url == ECOLE_URL and config.retries == 3 and config.xsd_dir is None
    assert SneConfig(num_guichet="G0000", pkcs12_file="c.p12").pkcs12_file == "c.p12"


@pytest.mark.parametrize(
    "values",
    [
        {"num_guichet": "G0000"},  # no certificate
        {"num_guichet": "G0000", "cert_file": "c", "pkcs12_file": "p"},  # both
        {"num_guichet": "g-00", "cert_file": "c"},  # guichet shape
        {"num_guichet": "G0000", "cert_file": "c", "url": "http://sne.example/"},  # mutual TLS needs https
        {"num_guichet": "G0000", "cert_file": "c", "colour": "red"},  # unknown key
    ],
)
def test_refused(values: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        SneConfig(**values)  # type: ignore[arg-type]


def test_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = SneConfig(num_guichet="G0000", cert_file="c", password_env="SNE_PW")
    with pytest.raises(ConfigError):
        config.secret()
    monkeypatch.setenv("SNE_PW", "pw")
    assert config.secret() == "pw"


def test_declared_as_a_service() -> None:
    assert SneService.info.kind == "sne" and SneService.info.config_model is SneConfig
    assert SneService.info.capabilities == frozenset({Capability.SERVICE})
    assert SneService.info.title == "Système national d'enregistrement (SNE)"
    assert Registry().load_entry_points().get("sne") is SneService
