"""Dossiers: the filtered list, one dossier's page, and what an agent does on it.

The list is one page of ``Dossiers.search`` (a count and a page query on indexed columns, whatever the
number of dossiers). A dossier outside the agent's organisations answers 404, like one that does not
exist. Changes (status, undo, document upload) need the operator role and the form's CSRF token.
"""

from __future__ import annotations

import logging
import math
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from aiguilleur.domain.access import Role
from aiguilleur.domain.statuses import Status
from aiguilleur.store.dossiers import DossierFilter
from aiguilleur.store.views import DocumentView, DossierDetail
from aiguilleur.web.business import readable_value, sections
from aiguilleur.web.deps import CsrfDep, HubDep, OperatorDep, ReaderDep, flash
from aiguilleur.web.queries import facets, outgoing_links
from aiguilleur.web.render import PARIS, render

logger = logging.getLogger(__name__)
router = APIRouter()

PAGE_SIZE = 50
DossierId = Annotated[str, Path(max_length=64)]


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), PARIS)


@router.get("/dossiers")
def list_dossiers(
    request: Request,
    hub: HubDep,
    user: ReaderDep,
    q: Annotated[str, Query(max_length=200)] = "",
    organisation: Annotated[str, Query(max_length=63)] = "",
    channel: Annotated[str, Query(max_length=32)] = "",
    procedure: Annotated[str, Query(max_length=100)] = "",
    status: Annotated[str, Query(max_length=3)] = "",
    du: Annotated[str, Query(max_length=10)] = "",
    au: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    scope = user.principal.scope
    start, end = _day(du), _day(au)
    f = DossierFilter(
        organisation=organisation or None,
        channel=channel or None,
        procedure=procedure or None,
        status=int(status) if status.isdigit() else None,
        received_from=_start_of(start) if start else None,
        received_to=_start_of(end + timedelta(days=1)) if end else None,
        search=q.strip() or None,
    )
    result = hub.store.dossiers.search(f, scope, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    organisations = hub.store.organisations.list(scope)
    return render(
        request,
        "dossiers.html",
        nav="dossiers",
        result=result,
        page=page,
        pages=max(1, math.ceil(result.total / PAGE_SIZE)),
        filters={
            "q": q,
            "organisation": organisation,
            "channel": channel,
            "procedure": procedure,
            "status": status,
            "du": start.isoformat() if start else "",
            "au": end.isoformat() if end else "",
        },
        is_filtered=any((q, organisation, channel, procedure, status, du, au)),
        organisations=organisations,
        names={o.id: o.name for o in organisations},
        facets=facets(hub.store, scope),
    )


@router.get("/dossiers/{dossier_id}")
def show_dossier(request: Request, dossier_id: DossierId, hub: HubDep, user: ReaderDep) -> Response:
    scope = user.principal.scope
    dossier = hub.store.dossiers.get(dossier_id, scope)  # NotFound outside the scope: 404
    organisation = hub.store.organisations.get(dossier.organisation_id, None)
    return render(
        request,
        "dossier.html",
        nav="dossiers",
        d=dossier,
        organisation=organisation,
        sections=sections(dossier.data, _raw_xml_ids(dossier)),
        fields=_fields(dossier.data),
        message=_message(dossier.data),
        incoming=_incoming(dossier),
        outgoing=[doc for doc in dossier.documents if doc.direction == "out"],
        titles=_attachment_titles(dossier.data),
        previewable=PREVIEWABLE,
        can_act=user.principal.role.allows(Role.OPERATOR),
        status_labels_allowed=[(code, Status(code).label) for code in dossier.allowed],
        sent_with={c.id: c for c in dossier.history},
        links=outgoing_links(hub.store, dossier.id),
    )


@router.post("/dossiers/{dossier_id}/statut")
def set_status(
    request: Request,
    dossier_id: DossierId,
    hub: HubDep,
    user: OperatorDep,
    _csrf: CsrfDep,
    code: Annotated[int, Form(ge=0, le=999)],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    change = hub.store.statuses.set(dossier_id, code, comment, user.principal.name, user.principal.scope)
    flash(request, f"Statut {change.code} « {change.label} » enregistré ; il partira au prochain envoi.")
    return RedirectResponse(f"/dossiers/{dossier_id}#statut", status_code=303)


@router.post("/dossiers/{dossier_id}/annuler")
def undo_status(
    request: Request, dossier_id: DossierId, hub: HubDep, user: OperatorDep, _csrf: CsrfDep
) -> Response:
    current = hub.store.statuses.undo(dossier_id, user.principal.name, user.principal.scope)
    flash(
        request, f"Dernier statut annulé : le dossier revient au statut {current.code} « {current.label} »."
    )
    return RedirectResponse(f"/dossiers/{dossier_id}#statut", status_code=303)


PREVIEWABLE = ("application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp")


def _incoming(dossier: DossierDetail) -> list[tuple[int, list[DocumentView]]]:
    """Received documents grouped by version, newest version first."""
    groups: dict[int, list[DocumentView]] = {}
    for doc in dossier.documents:
        if doc.direction == "in":
            groups.setdefault(doc.version, []).append(doc)
    return sorted(groups.items(), reverse=True)


def _raw_xml_ids(dossier: DossierDetail) -> dict[str, int]:
    """For each business document key (MDEL: its code), the id of its original XML, latest version."""
    message = dossier.data.get("message")
    listed = message.get("documents", []) if isinstance(message, dict) else []
    latest = {doc.name: doc.id for doc in dossier.documents if doc.direction == "in"}  # later ids win
    found = {}
    for entry in listed:
        if isinstance(entry, dict) and str(entry.get("file", "")).lower().endswith(".xml"):
            key = entry.get("code") or entry.get("file")
            if entry["file"] in latest:
                found[str(key)] = latest[entry["file"]]
    return found


def _fields(data: dict[str, Any]) -> dict[str, str]:
    fields = data.get("fields")
    return {str(k): readable_value(str(v)) for k, v in fields.items()} if isinstance(fields, dict) else {}


def _message(data: dict[str, Any]) -> dict[str, str]:
    """What the channel says of the transmission itself (MDEL message.xml), labelled."""
    message = data.get("message")
    if not isinstance(message, dict):
        return {}
    shown = {
        "Numéro de télédémarche": message.get("numero"),
        "Démarche": message.get("flow_type"),
        "Numéro de démarche": message.get("numero_demarche"),
        "Date de la demande": message.get("date"),
        "Code INSEE de la commune": message.get("code_insee"),
        "Identifiant du message": message.get("message_id"),
    }
    return {k: readable_value(str(v)) for k, v in shown.items() if v}


def _attachment_titles(data: dict[str, Any]) -> dict[str, str]:
    """File name → title given by the channel (« Justificatif d'identité »…)."""
    message = data.get("message")
    if not isinstance(message, dict):
        return {}
    titles = {}
    for key in ("attachments", "documents"):
        for entry in message.get(key, []) or []:
            if isinstance(entry, dict) and entry.get("file"):
                title = entry.get("title") or entry.get("name")
                if title:
                    titles[str(entry["file"])] = str(title)
    return titles
