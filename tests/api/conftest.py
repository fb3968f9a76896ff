"""Fixtures of the API tests: a hub over the conftest store, its app, tokens and seeded dossiers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from aiguilleur.api.app import create_app
from aiguilleur.config import Config, ConnectorEntry
from aiguilleur.connectors.base import ConnectorInfo, ConnectorSettings
from aiguilleur.connectors.registry import Registry
from aiguilleur.domain.access import Role
from aiguilleur.domain.dossier import DocumentIn, DossierIn, ExternalRef
from aiguilleur.engine.hub import Hub
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.repository import Store
from tests.conftest import ORGANISATIONS

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ACCENTED_NAME = "Acte de naissance été.pdf"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
SECRET = "s3cret-do-not-show"


class DemoSettings(ConnectorSettings):
    password: SecretStr
    input_dir: str = "var/mdel/in"


class DemoMdel:
    """Just enough of a connector class for the registry: its ``info``."""

    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="mdel", title="Ma démarche en ligne", config_model=DemoSettings, capabilities=frozenset()
    )


@pytest.fixture
def hub(store: Store, tmp_path: Path) -> Hub:
    registry = Registry()
    registry.register(DemoMdel)
    settings = DemoSettings(organisation="nice", password=SecretStr(SECRET))
    config = Config(
        organisations=list(ORGANISATIONS),
        connectors={"msp-nice": ConnectorEntry("mdel", "msp-nice", settings)},
    )
    return Hub(config=config, store=store, blobs=BlobStore(tmp_path / "blobs"), registry=registry)


@pytest.fixture
def app(hub: Hub) -> FastAPI:
    return create_app(hub)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Auth:
    """Authorization headers of one token per kind of caller."""

    admin: dict[str, str]
    reader: dict[str, str]  # nice
    operator: dict[str, str]  # nice
    cannes: dict[str, str]  # operator of cannes


@pytest.fixture
def auth(store: Store) -> Auth:
    return Auth(
        admin=bearer(store.tokens.create("admin", Role.ADMIN, ["*"])),
        reader=bearer(store.tokens.create("lecture-nice", Role.READER, ["nice"])),
        operator=bearer(store.tokens.create("agent-nice", Role.OPERATOR, ["nice"])),
        cannes=bearer(store.tokens.create("agent-cannes", Role.OPERATOR, ["cannes"])),
    )


def receive(
    hub: Hub,
    external_id: str,
    *,
    organisation: str = "nice",
    channel: str = "mdel",
    connector: str = "msp-nice",
    procedure: str = "RCO-LA",
    title: str = "",
    received_at: datetime = T0,
    documents: Sequence[tuple[str, bytes, str]] = (),
) -> str:
    """Store the documents' bytes, receive the dossier, return its id."""
    docs = []
    for name, content, media in documents:
        blob = hub.blobs.put_bytes(content)
        docs.append(DocumentIn(name=name, sha256=blob.sha256, size_bytes=blob.size_bytes, media_type=media))
    data: dict[str, Any] = {"NumeroTeledemarche": external_id}
    dossier = DossierIn(
        ref=ExternalRef(channel, connector, external_id),
        organisation_id=organisation,
        procedure=procedure,
        data=data,
        documents=tuple(docs),
        title=title,
        received_at=received_at,
    )
    return hub.store.dossiers.receive(dossier).dossier_id


@pytest.fixture
def dossiers(hub: Hub) -> dict[str, str]:
    """Four dossiers, newest last: three of nice (two channels), one of cannes. External id -> id."""
    day = timedelta(days=1)
    return {
        "A-1-X": receive(
            hub, "A-1-X", title="Naissance Dupont", documents=[(ACCENTED_NAME, PDF, "application/pdf")]
        ),
        "A-2-X": receive(hub, "A-2-X", procedure="AEC-LA", title="Recensement Martin", received_at=T0 + day),
        "H-3": receive(
            hub,
            "H-3",
            channel="hubee",
            connector="etatcivil-nice",
            procedure="EtatCivil",
            title="Mariage Bernard",
            received_at=T0 + 2 * day,
        ),
        "C-1-X": receive(
            hub, "C-1-X", organisation="cannes", title="Naissance Durand", received_at=T0 + 3 * day
        ),
    }


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is problem details with ``status``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert "Traceback" not in response.text
    return body
