"""Document download (streamed, safe headers) and upload of documents sent with the next return."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from aiguilleur.api.app import create_app
from aiguilleur.engine.hub import Hub
from tests.api.conftest import ACCENTED_NAME, PDF, Auth, assert_problem


def first_document_id(hub: Hub, dossier_id: str) -> int:
    return hub.store.dossiers.get(dossier_id, None).documents[0].id


def test_download_streams_the_stored_bytes_with_safe_headers(
    client: TestClient, auth: Auth, hub: Hub, dossiers: dict[str, str]
) -> None:
    dossier_id = dossiers["A-1-X"]
    url = f"/api/v1/dossiers/{dossier_id}/documents/{first_document_id(hub, dossier_id)}"
    response = client.get(url, headers=auth.reader)
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(PDF))
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Acte%20de%20naissance%20%C3%A9t%C3%A9.pdf" in disposition
    assert f"filename*=UTF-8''{quote(ACCENTED_NAME, safe='')}" in disposition
    assert 'filename="Acte de naissance ete.pdf"' in disposition


def test_download_unknown_document_is_404_problem(
    client: TestClient, auth: Auth, dossiers: dict[str, str]
) -> None:
    response = client.get(f"/api/v1/dossiers/{dossiers['A-1-X']}/documents/999999", headers=auth.reader)
    assert_problem(response, 404)


def test_download_document_of_another_dossier_is_404(
    client: TestClient, auth: Auth, hub: Hub, dossiers: dict[str, str]
) -> None:
    doc_id = first_document_id(hub, dossiers["A-1-X"])
    response = client.get(f"/api/v1/dossiers/{dossiers['A-2-X']}/documents/{doc_id}", headers=auth.reader)
    assert_problem(response, 404)


def test_upload_then_status_change_carries_the_document(
    client: TestClient, auth: Auth, hub: Hub, dossiers: dict[str, str]
) -> None:
    dossier_id = dossiers["A-2-X"]
    content = b"%PDF-1.7 attestation de recensement"
    response = client.post(
        f"/api/v1/dossiers/{dossier_id}/documents",
        files={"file": ("attestation recensement.pdf", content, "application/pdf")},
        data={"role": "attestation"},
        headers=auth.operator,
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    assert (doc["direction"], doc["name"], doc["role"]) == (
        "out",
        "attestation recensement.pdf",
        "attestation",
    )
    assert (doc["media_type"], doc["size_bytes"]) == ("application/pdf", len(content))
    assert hub.blobs.path(doc["sha256"]).read_bytes() == content

    changed = client.post(f"/api/v1/dossiers/{dossier_id}/status", json={"code": 16}, headers=auth.operator)
    assert changed.status_code == 201, changed.text
    returns = [r for r in hub.store.outbox.list(scope=None) if r.dossier_id == dossier_id]
    sixteen = next(r for r in returns if r.payload["code"] == 16)
    assert sixteen.payload["documents"] == [doc["id"]]

    download = client.get(f"/api/v1/dossiers/{dossier_id}/documents/{doc['id']}", headers=auth.reader)
    assert download.content == content


def test_upload_keeps_only_a_safe_base_name(client: TestClient, auth: Auth, dossiers: dict[str, str]) -> None:
    response = client.post(
        f"/api/v1/dossiers/{dossiers['A-2-X']}/documents",
        files={"file": ("../../etc/passwd", b"root:x:0:0", "pdf please")},
        headers=auth.operator,
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "passwd"
    assert response.json()["media_type"] == "application/octet-stream"


def test_upload_without_file_is_422_problem(client: TestClient, auth: Auth, dossiers: dict[str, str]) -> None:
    response = client.post(
        f"/api/v1/dossiers/{dossiers['A-2-X']}/documents", data={"role": "attestation"}, headers=auth.operator
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["body", "file"]


def test_upload_unknown_dossier_is_404_problem(client: TestClient, auth: Auth) -> None:
    response = client.post(
        "/api/v1/dossiers/nope/documents",
        files={"file": ("a.pdf", b"x", "application/pdf")},
        headers=auth.admin,
    )
    assert_problem(response, 404)


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(1001, id="file-over-limit"),
        pytest.param(200_000, id="body-over-limit"),
    ],
)
def test_upload_over_the_limit_is_413_problem(
    hub: Hub, auth: Auth, dossiers: dict[str, str], size: int
) -> None:
    with TestClient(create_app(hub, max_upload_bytes=1000)) as client:
        response = client.post(
            f"/api/v1/dossiers/{dossiers['A-2-X']}/documents",
            files={"file": ("big.bin", b"x" * size, "application/octet-stream")},
            headers=auth.operator,
        )
        assert_problem(response, 413)
        ok = client.post(
            f"/api/v1/dossiers/{dossiers['A-2-X']}/documents",
            files={"file": ("small.bin", b"x" * 1000, "application/octet-stream")},
            headers=auth.operator,
        )
        assert ok.status_code == 201
    assert [d.name for d in hub.store.dossiers.get(dossiers["A-2-X"], None).documents] == ["small.bin"]


def test_upload_chunked_body_over_the_limit_is_413_problem(
    hub: Hub, auth: Auth, dossiers: dict[str, str]
) -> None:
    def body() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
        yield b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        for _ in range(100):
            yield b"x" * 1000
        yield b"\r\n--XyZ--\r\n"

    with TestClient(create_app(hub, max_upload_bytes=1000)) as client:
        response = client.post(
            f"/api/v1/dossiers/{dossiers['A-2-X']}/documents",
            content=body(),
            headers={**auth.operator, "Content-Type": "multipart/form-data; boundary=XyZ"},
        )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert hub.store.dossiers.get(dossiers["A-2-X"], None).documents == []
