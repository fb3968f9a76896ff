"""The configuration file (DESIGN.md "Configuration file") as pydantic models.

``load_config`` reads the TOML file, replaces ``${VAR}`` with the environment's values, validates the
hub, the organisations and every connector section against its kind's model, and raises one
``ConfigError`` listing every problem with its key path. Secret values never appear in messages.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from aiguilleur.connectors.base import ConnectorSettings
from aiguilleur.connectors.registry import Registry, default_registry
from aiguilleur.errors import ConfigError

ENV_VAR = "AIGUILLEUR_CONFIG"
DEFAULT_FILE = "aiguilleur.toml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
M = TypeVar("M", bound=BaseModel)


class HubSettings(BaseModel):
    """The ``[hub]`` section."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Path("var")
    database: str | None = Field(
        None, description="sqlite:///… (défaut : data_dir/aiguilleur.db) ou postgresql://…"
    )
    listen: str = "127.0.0.1:8080"
    max_parallel: int = Field(4, ge=1, le=64, description="connecteurs synchronisés en même temps")
    secret_key: SecretStr | None = Field(None, description="clé de signature des sessions du tableau de bord")
    log_level: str = "INFO"
    group_sync: Literal["filesystem", "files"] = Field(
        "filesystem",
        description=(
            "durabilité des fichiers écrits par groupes : « filesystem » (une synchronisation du système "
            "de fichiers par groupe) ou « files » (un fsync par fichier, pour un disque partagé avec "
            "d'autres gros écrivains)"
        ),
    )

    @field_validator("database")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("base de données attendue : « sqlite:///chemin » ou « postgresql://… »")
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                "adresse d'écoute attendue sous la forme « hôte:port », par exemple 127.0.0.1:8080"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("niveau attendu : DEBUG, INFO, WARNING ou ERROR")
        return value.upper()

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class OrganisationConfig(BaseModel):
    """One ``[[organisations]]`` entry: a collectivité, known by SIRET and INSEE code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_NAME)
    name: str = Field(min_length=1, max_length=200)
    siret: str | None = Field(None, pattern=r"^\d{14}$")
    insee: str | None = Field(None, pattern=r"^(\d{5}|2[AB]\d{3})$")
    branch_codes: tuple[str, ...] = Field((), description="autres clés de routage (HubEE branchCode…)")


@dataclass(frozen=True, slots=True)
class ConnectorEntry:
    """One configured connector: ``[connectors.<kind>.<name>]``."""

    kind: str
    name: str
    settings: ConnectorSettings


@dataclass(slots=True)
class Config:
    """The whole validated configuration."""

    hub: HubSettings = field(default_factory=HubSettings)
    organisations: list[OrganisationConfig] = field(default_factory=list)
    connectors: dict[str, ConnectorEntry] = field(default_factory=dict)
    base_dir: Path = field(default_factory=Path.cwd)
    source: str = "(valeurs par défaut)"
    secret_paths: frozenset[str] = frozenset()
    secret_values: frozenset[str] = frozenset()

    def resolve(self, path: str | Path) -> Path:
        """A configured path; relative paths are taken from the configuration file's folder."""
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.hub.data_dir)

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, relative SQLite paths resolved, PostgreSQL through psycopg 3."""
        url = self.hub.database or f"sqlite:///{self.data_dir / 'aiguilleur.db'}"
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url.removeprefix("sqlite:///")
            if rel and rel != ":memory:":
                url = f"sqlite:///{self.resolve(rel)}"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url

    def summary(self, name: str) -> dict[str, Any]:
        """A connector's settings for display: secrets and values taken from the environment masked."""
        entry = self.connectors[name]
        shown: dict[str, Any] = {}
        for key, value in entry.settings.model_dump(mode="json").items():
            secret = isinstance(getattr(entry.settings, key, None), SecretStr)
            if secret or f"connectors.{entry.kind}.{name}.{key}" in self.secret_paths:
                shown[key] = "********" if value else value
            else:
                shown[key] = value
        return shown


def find_config_file(explicit: str | Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """``--config``, else ``$AIGUILLEUR_CONFIG``, else ``./aiguilleur.toml`` when it exists."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR])
    local = Path(DEFAULT_FILE)
    return local if local.is_file() else None


def load_config(
    path: str | Path | None,
    *,
    registry: Registry | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read and validate a configuration file; ``None`` gives the embedded defaults."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([("", f"fichier introuvable : {path}")], str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([("", f"fichier illisible : {exc}")], str(path)) from None
    return parse_config(
        text, base_dir=path.resolve().parent, source=str(path), registry=registry, environ=environ
    )


def parse_config(
    text: str,
    *,
    base_dir: Path | None = None,
    source: str = "aiguilleur.toml",
    registry: Registry | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Validate TOML text; raises ``ConfigError`` with every problem found."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([("", f"TOML invalide : {exc}")], source) from None
    problems: list[tuple[str, str]] = []
    secrets = _Secrets()
    data = secrets.substitute(raw, "", os.environ if environ is None else environ, problems)
    registry = registry or default_registry()
    config = Config(base_dir=base_dir or Path.cwd(), source=source)

    unknown = sorted(set(data) - {"hub", "organisations", "connectors"})
    problems += [(key, "section inconnue (attendu : hub, organisations, connectors)") for key in unknown]
    hub = _validate(HubSettings, data.get("hub", {}), "hub", problems)
    if hub is not None:
        config.hub = hub
    config.organisations = _organisations(data.get("organisations", []), problems)
    config.connectors = _connectors(data.get("connectors", {}), registry, problems)
    org_ids = {org.id for org in config.organisations}
    for entry in config.connectors.values():
        if entry.settings.organisation and entry.settings.organisation not in org_ids:
            where = f"connectors.{entry.kind}.{entry.name}.organisation"
            problems.append((where, f"organisation inconnue « {entry.settings.organisation} »"))
    if problems:
        raise ConfigError(problems, source)
    config.secret_paths = frozenset(secrets.paths)
    config.secret_values = frozenset(secrets.values)
    return config


class _Secrets:
    """Replaces ``${VAR}`` and remembers where and what, so that it is never shown."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.values: set[str] = set()

    def substitute(
        self, node: Any, path: str, env: Mapping[str, str], problems: list[tuple[str, str]]
    ) -> Any:
        if isinstance(node, dict):
            return {k: self.substitute(v, _join(path, k), env, problems) for k, v in node.items()}
        if isinstance(node, list):
            return [self.substitute(v, f"{path}[{i}]", env, problems) for i, v in enumerate(node)]
        if not isinstance(node, str) or "${" not in node:
            return node

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                problems.append((path, f"variable d'environnement {name} absente"))
                return ""
            if env[name]:
                self.values.add(env[name])
            return env[name]

        self.paths.add(path)
        return _VAR.sub(repl, node)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _validate(model: type[M], data: Any, path: str, problems: list[tuple[str, str]]) -> M | None:
    if not isinstance(data, dict):
        problems.append((path, "table attendue"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            where = ".".join([path, *(str(p) for p in err["loc"])])
            problems.append((where, _message(err)))
        return None


def _message(err: Any) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "clé inconnue"
    if kind == "missing":
        return "clé obligatoire absente"
    return str(msg).removeprefix("Value error, ")


def _organisations(data: Any, problems: list[tuple[str, str]]) -> list[OrganisationConfig]:
    if not isinstance(data, list):
        problems.append(("organisations", "liste attendue : [[organisations]]"))
        return []
    result: list[OrganisationConfig] = []
    seen: dict[tuple[str, str], str] = {}
    for i, item in enumerate(data):
        org = _validate(OrganisationConfig, item, f"organisations[{i}]", problems)
        if org is None:
            continue
        for key, value in (("id", org.id), ("insee", org.insee), ("siret", org.siret)):
            if value is None:
                continue
            if (key, value) in seen:
                problems.append(
                    (f"organisations[{i}].{key}", f"« {value} » déjà utilisé par {seen[key, value]}")
                )
            else:
                seen[key, value] = f"organisations[{i}]"
        result.append(org)
    return result


def _connectors(data: Any, registry: Registry, problems: list[tuple[str, str]]) -> dict[str, ConnectorEntry]:
    if not isinstance(data, dict):
        problems.append(("connectors", "table attendue : [connectors.<type>.<nom>]"))
        return {}
    result: dict[str, ConnectorEntry] = {}
    for kind, section in data.items():
        info = registry.info(kind)
        if info is None:
            known = ", ".join(registry.kinds()) or "aucun installé"
            problems.append(
                (f"connectors.{kind}", f"type de connecteur inconnu « {kind} » (connus : {known})")
            )
            continue
        if not isinstance(section, dict):
            problems.append((f"connectors.{kind}", "table attendue : [connectors.<type>.<nom>]"))
            continue
        for name, body in section.items():
            path = f"connectors.{kind}.{name}"
            if not re.match(_NAME, name):
                problems.append((path, "nom invalide : minuscules, chiffres, « - », « _ » ou « . »"))
                continue
            if name in result:
                problems.append((path, f"nom déjà utilisé par un connecteur {result[name].kind}"))
                continue
            settings = _validate(info.config_model, body, path, problems)
            if settings is not None:
                result[name] = ConnectorEntry(kind, name, settings)
    return result
