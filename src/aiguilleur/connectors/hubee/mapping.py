"""Pure functions between HubEE's payloads and the hub's dossiers: no I/O, no clock.

- routing: the case's ``recipient`` (SIRET + branch code) to one of the configured organisations;
- the business file: the attachment holding the démarche's data, chosen by type and MIME type, never
  by position (research §11: "référez-vous au paramètre Type");
- statuses: the canonical codes to HubEE's (14→SI_RECEIVED, 16→IN_PROGRESS, 17→ADD_AWAITING,
  19→DONE, 15/20→REFUSED), and the STATUS_UPDATE events carrying them, marked so that a retry finds the
  event an earlier attempt created; a return with documents is an ATTACH_DEPOSIT event declaring them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

from aiguilleur.config import OrganisationConfig
from aiguilleur.connectors.hubee import wire
from aiguilleur.domain.dossier import DocumentIn, DossierIn, ExternalRef
from aiguilleur.domain.statuses import Status
from aiguilleur.store.blobs import BlobRef
from aiguilleur.transport.files import safe_filename

CHANNEL = "hubee"
MESSAGE_MAX = 1000  # Event.message, Event.comment (OpenAPI maxLength)
AUTHOR_MAX = 255
TYPE_MAX = 100  # Attachment.type
RETURN_TYPE = "DocumentSI"  # business type of a returned document the agent gave no role
DEPOSIT_MESSAGE = "Un document relatif à votre demande vous a été transmis."
MARKER_PREFIX = "aiguilleur:"
MINIMAL_MARKER = "aiguilleur:statut-minimal"
MAXIMAL_MARKER = "aiguilleur:statut-maximal"
INTEGRATION_MARKER = "aiguilleur:erreur-integration"

#: Canonical status code -> HubEE case status (seed 002 codes, research §6).
STATUS_BY_CODE: dict[int, str] = {
    Status.IMPORTED: wire.SI_RECEIVED,
    Status.INADMISSIBLE: wire.REFUSED,
    Status.IN_PROGRESS: wire.IN_PROGRESS,
    Status.WAITING: wire.ADD_AWAITING,
    Status.DONE: wire.DONE,
    Status.REFUSED: wire.REFUSED,
}
#: HubEE statuses that follow the minimal status at reception: a return of 14 is then already told.
RECEIVED_OR_LATER = frozenset({wire.SI_RECEIVED, wire.IN_PROGRESS})
#: What the citizen reads when the agent wrote no comment (the OSL forwards ``message``).
DEFAULT_MESSAGES: dict[str, str] = {
    wire.SENT: "Votre demande a été transmise au service instructeur.",
    wire.SI_RECEIVED: "Votre demande a été reçue par le service instructeur.",
    wire.IN_PROGRESS: "Votre demande est en cours de traitement.",
    wire.ADD_AWAITING: "Des informations complémentaires sont nécessaires pour traiter votre demande.",
    wire.DONE: "Votre demande a été traitée.",
    wire.REFUSED: "Votre demande a été refusée.",
    wire.SI_INTG_ERROR: "Votre demande n'a pas pu être intégrée par le service instructeur.",
}
#: Short labels of the démarches seen in research §10, for dossier titles.
PROCEDURE_LABELS: dict[str, str] = {
    "EtatCivil": "demande d'acte d'état civil",
    "recensementCitoyen": "recensement citoyen",
    "depotDossierPACS": "dépôt de dossier de PACS",
    "JeChangeDeCoordonnees": "changement de coordonnées",
    "certificat-non-pacs": "certificat de non-PACS",
    "CERTDC": "certificat de décès",
    "HebergementTourisme": "déclaration de meublé de tourisme",
    "SNATED": "enfance en danger",
    "FormulaireQF": "quotient familial",
}
_XML_TYPES = ("application/xml", "text/xml")
_JSON_TYPES = ("application/json", "text/json")


# -- routing ---------------------------------------------------------------------------------------------


def organisation_for(
    recipient: wire.OrgId, organisations: Sequence[OrganisationConfig], default: str | None = None
) -> str | None:
    """The organisation a case is addressed to, or `default` when none matches, None if no default.

    By SIRET first; when several organisations share the SIRET (services of one body), the one whose
    branch codes (or INSEE code, the usual branch code of a commune) include the case's branch code;
    without a SIRET match, by branch code alone.
    """
    siret, branch = recipient.company_register.strip(), recipient.branch_code.strip()

    def has_branch(org: OrganisationConfig) -> bool:
        return bool(branch) and (branch in org.branch_codes or branch == org.insee)

    by_siret = [o for o in organisations if siret and o.siret == siret]
    if len(by_siret) == 1:
        return by_siret[0].id
    pool = by_siret or list(organisations)
    by_branch = [o for o in pool if has_branch(o)]
    if len(by_branch) == 1:
        return by_branch[0].id
    return default


# -- the télédossier -------------------------------------------------------------------------------------


def external_id(case: wire.Case) -> str:
    """The dossier's number: the OSL's case number (``DILA-AEC-…-01``), the case id if it has none."""
    return case.external_id.strip() or case.id


def ref_of(connector: str, case: wire.Case) -> ExternalRef:
    return ExternalRef(CHANNEL, connector, external_id(case))


def is_xml(att: wire.Attachment) -> bool:
    mime = att.mime_type.split(";")[0].strip().lower()
    return mime in _XML_TYPES or mime.endswith("+xml") or att.file_name.lower().endswith(".xml")


def is_json(att: wire.Attachment) -> bool:
    mime = att.mime_type.split(";")[0].strip().lower()
    return mime in _JSON_TYPES or mime.endswith("+json") or att.file_name.lower().endswith(".json")


def business_attachment(
    attachments: Iterable[wire.Attachment], business_types: Sequence[str] = ()
) -> wire.Attachment | None:
    """The attachment holding the démarche's data: one of `business_types` when configured, else an
    XML one, preferring a type that says so (``ActeEtatCivil-XML``, ``10870-XML``, ``flux-pacs``),
    else a JSON one. Never chosen by position: the order of attachments means nothing."""
    atts = list(attachments)
    if business_types:
        wanted = {t.casefold() for t in business_types}
        chosen = [a for a in atts if a.type.casefold() in wanted]
        return next((a for a in chosen if is_xml(a) or is_json(a)), chosen[0] if chosen else None)
    xml = [a for a in atts if is_xml(a)]
    if xml:
        return min(xml, key=lambda a: (not _says_data(a), a.type.casefold(), a.file_name))
    return next((a for a in atts if is_json(a)), None)


def _says_data(att: wire.Attachment) -> bool:
    kind = att.type.casefold()
    return "xml" in kind or "flux" in kind or "doc" in kind


def to_document(att: wire.Attachment, blob: BlobRef) -> DocumentIn:
    """A downloaded attachment as a document of the dossier (the blob store checked size and digest)."""
    return DocumentIn(
        name=safe_filename(att.file_name),
        sha256=blob.sha256,
        size_bytes=blob.size_bytes,
        media_type=att.mime_type or "application/octet-stream",
        role=att.type,
    )


def case_data(case: wire.Case) -> dict[str, Any]:
    """What HubEE says about the case, kept in the dossier's data under ``hubee``."""
    applicant = case.applicant or wire.Applicant()
    return {
        "case_id": case.id,
        "external_id": case.external_id,
        "process_code": case.process_code,
        "status": case.status,
        "recipient": {
            "type": case.recipient.type,
            "company_register": case.recipient.company_register,
            "branch_code": case.recipient.branch_code,
        },
        "applicant": {"first_name": applicant.first_name, "last_name": applicant.last_name},
        "applicant_email": applicant.email,
        "partner_attributes": case.partner_attributes,
        "created_at": _iso(case.create_date_time),
        "transmitted_at": _iso(case.transmission_date_time),
        "attachments": [
            {"id": a.id, "file": a.file_name, "type": a.type, "mime_type": a.mime_type, "size": a.size}
            for a in case.attachments
        ],
    }


def dossier_data(
    case: wire.Case, business: dict[str, Any] | None, business_file: wire.Attachment | None
) -> dict[str, Any]:
    """The dossier's data: the case's metadata, and the business file parsed to JSON."""
    data: dict[str, Any] = {"hubee": case_data(case), "document": business}
    if business_file is not None:
        data["document_file"] = {"file": business_file.file_name, "type": business_file.type}
    return data


def title(case: wire.Case) -> str:
    """``Camille MARTIN — demande d'acte d'état civil``, as MDEL titles read."""
    applicant = case.applicant
    who = " ".join(p for p in (applicant.first_name, applicant.last_name) if p) if applicant else ""
    what = PROCEDURE_LABELS.get(case.process_code, case.process_code)
    return f"{who} — {what}" if who else what[:1].upper() + what[1:]


def dossier_in(
    connector: str,
    case: wire.Case,
    organisation_id: str,
    documents: Sequence[DocumentIn],
    data: dict[str, Any],
    *,
    origin: str,
    received_at: datetime | None = None,
) -> DossierIn:
    """A new télédossier for the store; replaying it (same case) is a duplicate, not a new version."""
    return DossierIn(
        ref=ref_of(connector, case),
        organisation_id=organisation_id,
        procedure=case.process_code,
        data=data,
        documents=tuple(documents),
        origin=origin,
        message_id=f"hubee-case:{case.id}",
        received_at=received_at,
        title=title(case),
    )


# -- statuses and events ---------------------------------------------------------------------------------


def status_for_return(code: int, previous_code: int | None, is_automatic: bool) -> str | None:
    """The HubEE status a canonical change becomes, or None when there is nothing to tell.

    100 (closed) after 15, 19 or 20, or automatic, tells nothing: CLOSED is the sender's to set
    (research §6.1). Closed straight from another status, the télédossier still needs a final status on
    HubEE ("il est obligatoire de fermer le télédossier", research §6.3): DONE.
    """
    if code in STATUS_BY_CODE:
        return STATUS_BY_CODE[code]
    if code == Status.CLOSED:
        if is_automatic or previous_code in (Status.INADMISSIBLE, Status.DONE, Status.REFUSED):
            return None
        return wire.DONE
    return None


def return_marker(outbox_id: int, status_change_id: int) -> str:
    """The ``partnerAttributes`` of the event carrying one return: a retry looks for it first."""
    return f"{MARKER_PREFIX}retour={outbox_id};changement={status_change_id}"


def status_event(
    status: str, *, author: str, message: str, marker: str, current: str | None = None
) -> dict[str, Any]:
    """The body of a STATUS_UPDATE event (research §5.6), notifying the sender."""
    return _event(wire.STATUS_UPDATE, status, author=author, message=message, marker=marker, current=current)


def _event(
    action_type: str, status: str | None, *, author: str, message: str, marker: str, current: str | None
) -> dict[str, Any]:
    default = DEFAULT_MESSAGES.get(status, status) if status else DEPOSIT_MESSAGE
    body: dict[str, Any] = {
        "actionType": action_type,
        "author": author[:AUTHOR_MAX],
        "notification": True,
        "message": _clip(message.strip() or default),
        "partnerAttributes": marker,
    }
    if status:
        body["caseNewStatus"] = status
    if current:
        body["caseCurrentStatus"] = current
    return body


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    """A document of a return as an ATTACH_DEPOSIT declares it, and the blob holding its bytes."""

    file_name: str  # sanitised, unique within the event
    type: str
    size: int
    mime_type: str
    sha256: str


def outgoing_files(documents: Iterable[tuple[str, str, str, int, str]]) -> list[OutgoingFile]:
    """(name, role, media type, size, sha256) of a return's documents as files to declare: names made
    safe as in the folder deposit and never twice the same; the role as business type, else `RETURN_TYPE`."""
    files: list[OutgoingFile] = []
    used: set[str] = set()
    for name, role, media_type, size, sha256 in documents:
        file_name = free_name(safe_filename(name), used)
        used.add(file_name.casefold())
        files.append(
            OutgoingFile(
                file_name=file_name,
                type=(role or RETURN_TYPE)[:TYPE_MAX],
                size=size,
                mime_type=media_type or "application/octet-stream",
                sha256=sha256,
            )
        )
    return files


def deposit_event(
    status: str | None,
    files: Sequence[OutgoingFile],
    *,
    author: str,
    message: str,
    marker: str,
    current: str | None = None,
) -> dict[str, Any]:
    """The body of an ATTACH_DEPOSIT event carrying a return's documents (research §5.6): the status
    change if any (None keeps the case's status), the comment as message, the files declared."""
    body = _event(wire.ATTACH_DEPOSIT, status, author=author, message=message, marker=marker, current=current)
    body["attachments"] = [
        {"fileName": f.file_name, "type": f.type, "size": f.size, "mimeType": f.mime_type} for f in files
    ]
    return body


def free_name(name: str, used: set[str]) -> str:
    """`name`, or ``name.1.ext``, ``name.2.ext``… the first whose case-folded form is not in `used`."""
    stem, ext = PurePath(name).stem, PurePath(name).suffix
    candidate, n = name, 0
    while candidate.casefold() in used:
        n += 1
        candidate = f"{stem}.{n}{ext}"
    return candidate


def has_marked_event(case: wire.Case, marker: str) -> bool:
    return any(e.partner_attributes == marker for e in case.events)


def minimal_covers_imported(case: wire.Case) -> bool:
    """True when the status sent at reception already told HubEE what status 14 says."""
    return any(
        e.partner_attributes == MINIMAL_MARKER and e.case_new_status in RECEIVED_OR_LATER for e in case.events
    )


def is_own_event(event: wire.Event, us: wire.OrgId | None) -> bool:
    """Whether `event` was posted by our organisation (its echo needs no acknowledgement)."""
    if us is None or event.transmitter is None:
        return False
    return (event.transmitter.company_register, event.transmitter.branch_code) == (
        us.company_register,
        us.branch_code,
    )


def event_summary(event: wire.Event) -> str:
    """A journal line for an event from the sender (no personal data beyond what the sender wrote)."""
    author = event.author or "l'émetteur"
    if event.action_type == wire.SENDING_MESSAGE:
        return f"Message de {author} via HubEE : {(event.message or '').strip() or '(vide)'}"
    if event.action_type == wire.STATUS_UPDATE:
        text = f"HubEE : statut {event.case_new_status or '?'} posé par {author}"
        if event.case_new_status == wire.CLOSED:
            text = f"HubEE : télédossier clos par {author} (usager informé)"
        elif event.case_new_status == wire.HUBEE_NOTIFIED:
            text = f"HubEE : télédossier rouvert par {author}"
        return text + (f" : {event.message.strip()}" if event.message and event.message.strip() else "")
    if event.action_type == wire.ATTACH_DEPOSIT:
        names = ", ".join(a.file_name for a in event.attachments) or "aucune pièce"
        return f"HubEE : pièces déposées par {author} ({names})"
    return f"HubEE : événement {event.action_type or '?'} de {author}"


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
