"""Documents of a dossier: streaming download, and upload of a document to send with the next return."""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.types import Message

from aiguilleur.api.deps import HubDep, OperatorDep, ReaderDep
from aiguilleur.api.problems import PayloadTooLarge, problem_responses
from aiguilleur.engine.hub import Hub
from aiguilleur.errors import NotFound, RejectedItemError, StoreError
from aiguilleur.store.views import DocumentView
from aiguilleur.transport.files import safe_filename

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/dossiers", tags=["documents"], responses=problem_responses(401, 403, 404))

DossierId = Annotated[str, Path(max_length=64, description="Identifiant du dossier (UUID)")]
MULTIPART_SLACK_BYTES = 64 * 1024
"""Room for the multipart envelope (boundaries, part headers, the ``role`` field) above the file limit."""

_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]*/[\w!#$&^.+-]+(\s*;\s*[\w.-]+=(\"[\w .-]*\"|[\w.-]+))*")
_OCTET_STREAM = "application/octet-stream"
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "Le document"},
                        "role": {"type": "string", "maxLength": 100, "description": "Type du document"},
                    },
                }
            }
        },
    }
}


def media_type(value: str | None) -> str:
    """A declared MIME type when it is well formed (it becomes a header), else application/octet-stream."""
    if value and len(value) <= 127 and _MEDIA_TYPE.fullmatch(value.strip()):
        return value.strip()
    return _OCTET_STREAM


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name in RFC 5987 ``filename*``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = re.sub(r'[^\x20-\x7e]|["\\%;]', "_", ascii_name).strip() or "document"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.get(
    "/{dossier_id}/documents/{document_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {_OCTET_STREAM: {}}, "description": "Le contenu du document"}},
)
def download_document(
    dossier_id: DossierId, document_id: int, hub: HubDep, principal: ReaderDep
) -> StreamingResponse:
    """The document's bytes, streamed; 404 as well for a dossier of another organisation."""
    doc = hub.store.dossiers.document(dossier_id, document_id, principal.scope)
    try:
        size = hub.blobs.size(doc.sha256)
        chunks = hub.blobs.iter_chunks(doc.sha256)
    except NotFound as exc:  # the store knows the document but its content is gone: our fault, a 500
        raise StoreError(f"document {document_id} of dossier {dossier_id}: content missing") from exc
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": content_disposition(doc.name),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",  # documents carry personal data
    }
    return StreamingResponse(chunks, media_type=media_type(doc.media_type), headers=headers)


@router.post(
    "/{dossier_id}/documents",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD_BODY,
    responses=problem_responses(400, 413, 422),
)
async def upload_document(
    dossier_id: DossierId, request: Request, hub: HubDep, principal: OperatorDep
) -> DocumentView:
    """Add a document (multipart field ``file``, optional ``role``) to send with the next return.

    The body is parsed only once the caller and the dossier are checked, and the file is streamed to the
    blob store; a file over the limit (50 MB by default) is refused with 413.
    """
    max_bytes: int = request.app.state.max_upload_bytes
    await run_in_threadpool(check_visible, hub, dossier_id, principal.scope)
    limited = limited_body(request, max_bytes)
    async with limited.form(max_files=1, max_fields=4, max_part_size=4096) as form:
        upload = form.get("file")
        role = form.get("role", "")
        if not isinstance(upload, UploadFile):
            raise _invalid("file", "missing", "Field required")
        if not isinstance(role, str) or len(role) > 100:
            raise _invalid("role", "string_too_long", "String should have at most 100 characters")
        try:
            blob = await run_in_threadpool(partial(hub.blobs.put_stream, upload.file, max_bytes=max_bytes))
        except RejectedItemError as exc:
            raise PayloadTooLarge(f"document refusé : plus de {max_bytes} octets") from exc
        attach = partial(
            hub.store.dossiers.attach_outgoing,
            dossier_id,
            principal.scope,
            name=safe_filename(upload.filename or ""),
            sha256=blob.sha256,
            size_bytes=blob.size_bytes,
            media_type=media_type(upload.content_type),
            role=role.strip(),
            actor=principal.name,
        )
    doc = await run_in_threadpool(attach)
    logger.info("dossier %s: document %d uploaded by %s", dossier_id, doc.id, principal.name)
    return doc


def limited_body(request: Request, max_bytes: int) -> Request:
    """The request, whose body raises ``PayloadTooLarge`` once past the limit (before it is spooled)."""
    limit = max_bytes + MULTIPART_SLACK_BYTES
    too_large = PayloadTooLarge(f"document refusé : plus de {max_bytes} octets")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:  # a chunked body announces no length
                raise too_large
        return message

    return Request(request.scope, receive)


def check_visible(hub: Hub, dossier_id: str, scope: frozenset[str] | None) -> None:
    """Raise NotFound unless the dossier exists within `scope` (before an upload is read)."""
    with hub.store.read() as s:
        hub.store.dossiers.get_row(s, dossier_id, scope)  # NotFound outside the scope


def _invalid(field: str, kind: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": ("body", field), "msg": message, "input": None}])
