"""The application itself: probes, metrics, OpenAPI and the problem details of framework errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aiguilleur.api.app import create_app
from aiguilleur.config import Config
from aiguilleur.connectors.registry import Registry
from aiguilleur.engine.hub import Hub
from aiguilleur.errors import ConfigError
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.repository import Store
from tests.api.conftest import Auth, assert_problem


@pytest.fixture
def broken_hub(tmp_path: Path) -> Hub:
    """A hub whose database cannot be opened (its file is a directory)."""
    (tmp_path / "db").mkdir()
    store = Store(f"sqlite:///{tmp_path / 'db'}")
    return Hub(config=Config(), store=store, blobs=BlobStore(tmp_path / "blobs"), registry=Registry())


def test_healthz_reports_database_and_version(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["version"] == client.app.version  # type: ignore[attr-defined]
    assert body["version"]


def test_healthz_unreachable_database_is_503_problem(broken_hub: Hub) -> None:
    with TestClient(create_app(broken_hub)) as client:
        body = assert_problem(client.get("/healthz"), 503)
    assert "sqlite" not in body["detail"].lower()


def test_metrics_unreachable_database_reports_down(broken_hub: Hub) -> None:
    with TestClient(create_app(broken_hub)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert "aiguilleur_database_up 0.0" in response.text


def test_metrics_exposes_store_gauges(client: TestClient, hub: Hub, dossiers: dict[str, str]) -> None:
    run = hub.store.runs.start("msp-nice")
    hub.store.runs.finish(run, outcome="ok", counts={"created": 3}, errors=[])
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "aiguilleur_database_up 1.0" in text
    assert 'aiguilleur_dossiers{channel="mdel",status="14"} 3.0' in text
    assert 'aiguilleur_dossiers{channel="hubee",status="14"} 1.0' in text
    assert 'aiguilleur_outbox_items{state="pending"} 4.0' in text
    assert 'aiguilleur_outbox_items{state="dead"} 0.0' in text
    assert 'aiguilleur_connector_last_run_timestamp_seconds{connector="msp-nice",outcome="ok"}' in text


def test_metrics_count_requests_by_route_template(client: TestClient, auth: Auth) -> None:
    client.get("/api/v1/dossiers/11111111-1111-1111-1111-111111111111", headers=auth.admin)
    client.get("/api/v1/dossiers/22222222-2222-2222-2222-222222222222", headers=auth.admin)
    client.get("/no/such/page")
    text = client.get("/metrics").text
    line = (
        'aiguilleur_http_requests_total{method="GET",route="/api/v1/dossiers/{dossier_id}",status="404"} 2.0'
    )
    assert line in text
    assert 'route="<unmatched>",status="404"} 1.0' in text
    assert "11111111" not in text


def test_create_app_twice_keeps_separate_metrics(hub: Hub) -> None:
    first, second = TestClient(create_app(hub)), TestClient(create_app(hub))
    first.get("/healthz")
    assert 'route="/healthz"' in first.get("/metrics").text
    assert 'route="/healthz"' not in second.get("/metrics").text


def test_openapi_lists_routes_and_bearer_scheme(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["title"] == "aiguilleur"
    assert spec["info"]["version"]
    assert {
        "/healthz",
        "/metrics",
        "/api/v1/organisations",
        "/api/v1/dossiers",
        "/api/v1/dossiers/{dossier_id}",
        "/api/v1/dossiers/{dossier_id}/status",
        "/api/v1/dossiers/{dossier_id}/status/undo",
        "/api/v1/dossiers/{dossier_id}/documents",
        "/api/v1/dossiers/{dossier_id}/documents/{document_id}",
        "/api/v1/outbox",
        "/api/v1/outbox/{item_id}/retry",
        "/api/v1/outbox/{item_id}/discard",
        "/api/v1/connectors",
    } <= set(spec["paths"])
    assert any(s.get("scheme") == "bearer" for s in spec["components"]["securitySchemes"].values())
    upload = spec["paths"]["/api/v1/dossiers/{dossier_id}/documents"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "Problem" in spec["components"]["schemas"]


def test_docs_page_is_served(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


def test_unknown_route_and_wrong_method_are_problems(client: TestClient, auth: Auth) -> None:
    assert_problem(client.get("/api/v1/nothing-here", headers=auth.admin), 404)
    response = client.delete("/api/v1/dossiers", headers=auth.admin)
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]


def test_unexpected_exception_is_a_generic_logged_500(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(hub)

    def boom() -> None:
        raise RuntimeError("password=hunter2 leaked in a message")

    app.add_api_route("/boom", boom)
    with caplog.at_level(logging.ERROR), TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    body = assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "RuntimeError" not in body["detail"]
    assert any(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in caplog.records)


def test_unmapped_aiguilleur_error_is_a_generic_500(hub: Hub) -> None:
    app = create_app(hub)

    def bad_config() -> None:
        raise ConfigError([("hub.database", "secret=abc")])

    app.add_api_route("/bad", bad_config)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/bad")
    assert_problem(response, 500)
    assert "secret=abc" not in response.text
