"""Documents of a dossier: download, inline preview, and upload of a document for the next return.

The inline preview shows only what a browser cannot mistake for one of our pages: a PDF or a raster
image recognised by its first bytes (whatever type the peer declared), served with the type found and
a policy that lets only our own pages frame it; an XML document is shown as it came inside a CSP
sandbox. Anything else is offered for download only. A document of a dossier outside the agent's
organisations answers 404, as the dossier does.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response, StreamingResponse

from aiguilleur.api.problems import PayloadTooLarge
from aiguilleur.api.routes.documents import check_visible, content_disposition, limited_body, media_type
from aiguilleur.engine.hub import Hub
from aiguilleur.errors import NotFound, RejectedItemError, StoreError
from aiguilleur.store.views import DocumentView
from aiguilleur.transport.files import safe_filename
from aiguilleur.web.deps import HubDep, OperatorDep, ReaderDep, check_csrf, flash
from aiguilleur.web.security import PREVIEW_CSP, SANDBOXED_CSP

logger = logging.getLogger(__name__)
router = APIRouter()

DossierId = Annotated[str, Path(max_length=64)]
SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff(head: bytes) -> str | None:
    """The previewable type of a file from its first bytes: PDF, PNG, JPEG, GIF or WebP; else None."""
    for signature, kind in SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def is_xml(doc: DocumentView) -> bool:
    return doc.name.lower().endswith(".xml") or doc.media_type in ("application/xml", "text/xml")


def _probe(hub: Hub, doc: DocumentView, dossier_id: str) -> tuple[int, bytes]:
    try:
        with hub.blobs.open(doc.sha256) as fh:
            head = fh.read(16)
        return hub.blobs.size(doc.sha256), head
    except (NotFound, FileNotFoundError) as exc:  # known to the store, gone from the blobs: our fault
        raise StoreError(f"document {doc.id} of dossier {dossier_id}: content missing") from exc


@router.get("/dossiers/{dossier_id}/documents/{document_id}")
def download(dossier_id: DossierId, document_id: int, hub: HubDep, user: ReaderDep) -> Response:
    doc = hub.store.dossiers.document(dossier_id, document_id, user.principal.scope)
    size, _head = _probe(hub, doc, dossier_id)
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": content_disposition(doc.name),
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(
        hub.blobs.iter_chunks(doc.sha256), media_type=media_type(doc.media_type), headers=headers
    )


@router.get("/dossiers/{dossier_id}/documents/{document_id}/apercu")
def preview(dossier_id: DossierId, document_id: int, hub: HubDep, user: ReaderDep) -> Response:
    doc = hub.store.dossiers.document(dossier_id, document_id, user.principal.scope)
    size, head = _probe(hub, doc, dossier_id)
    kind = sniff(head)
    if kind is not None:
        csp = PREVIEW_CSP
    elif is_xml(doc):
        kind, csp = "application/xml", SANDBOXED_CSP
    else:
        raise NotFound(f"document {document_id} : pas d'aperçu pour ce type de fichier")
    inline = content_disposition(doc.name).replace("attachment;", "inline;", 1)
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": inline,
        "Content-Security-Policy": csp,
        "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(hub.blobs.iter_chunks(doc.sha256), media_type=kind, headers=headers)


@router.post("/dossiers/{dossier_id}/documents")
async def upload(dossier_id: DossierId, request: Request, hub: HubDep, user: OperatorDep) -> Response:
    """A document (field ``fichier``, optional ``type``) attached to the dossier's next return."""
    max_bytes: int = request.app.state.max_upload_bytes
    scope = user.principal.scope
    await run_in_threadpool(check_visible, hub, dossier_id, scope)
    limited = limited_body(request, max_bytes)
    async with limited.form(max_files=1, max_fields=4, max_part_size=4096) as form:
        token = form.get("csrf")
        check_csrf(request, token if isinstance(token, str) else "")
        upload = form.get("fichier")
        role = form.get("type", "")
        if not isinstance(upload, UploadFile) or not upload.filename:
            flash(request, "Choisir un fichier à joindre.", "error")
            return RedirectResponse(f"/dossiers/{dossier_id}#documents-envoyes", status_code=303)
        try:
            blob = await run_in_threadpool(partial(hub.blobs.put_stream, upload.file, max_bytes=max_bytes))
        except RejectedItemError as exc:
            raise PayloadTooLarge(f"document refusé : plus de {max_bytes} octets") from exc
        attach = partial(
            hub.store.dossiers.attach_outgoing,
            dossier_id,
            scope,
            name=safe_filename(upload.filename),
            sha256=blob.sha256,
            size_bytes=blob.size_bytes,
            media_type=media_type(upload.content_type),
            role=(role if isinstance(role, str) else "").strip()[:100],
            actor=user.principal.name,
        )
    doc = await run_in_threadpool(attach)
    logger.info("dossier %s: document %d uploaded by %s from the dashboard", dossier_id, doc.id, user.login)
    flash(request, f"Document « {doc.name} » ajouté : il partira avec le prochain statut.")
    return RedirectResponse(f"/dossiers/{dossier_id}#documents-envoyes", status_code=303)
