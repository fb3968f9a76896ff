"""Shared fixtures: a fixed clock, a clean environment, a migrated store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiguilleur.config import OrganisationConfig
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.repository import Store

pytest_plugins = ["tests.pg", "tests.sshd", "tests.ci_guard"]

ORGANISATIONS = [
    OrganisationConfig(id="nice", name="Ville de Nice", siret="21060088800015", insee="06088"),
    OrganisationConfig(id="cannes", name="Ville de Cannes", siret="21060029200012", insee="06029"),
]


class Clock:
    """A clock tests move by hand: no sleeps."""

    def __init__(self, start: datetime) -> None:
        self.value = start

    def __call__(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIGUILLEUR_CONFIG", raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Store]:
    """A migrated store with the organisations nice and cannes, on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = request.getfixturevalue("pg_dsn").replace("postgresql://", "postgresql+psycopg://", 1)
    s = Store(url, now=clock)
    s.migrate()
    s.organisations.sync(ORGANISATIONS)
    yield s
    s.close()


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")
