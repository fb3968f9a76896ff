"""The fake HubEE's state: organisations, subscriptions, tokens, folders, cases, attachments, events,
notifications, and their JSON form as the Folder API 1.2.7 names it.

Field names, lengths and statuses come from ``api_folder_v1.2.7.yaml`` and the SFD summarised in
``research/hubee.md`` §5-§7; nothing here is shared with the hub's HubEE connector.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

JsonObject = dict[str, Any]

CHUNK_BYTES = 256 * 1024  # a file-backed binary is read and sent by pieces of this size
SPILL_BYTES = 1024 * 1024  # an uploaded binary larger than this is kept in a temporary file

# Case statuses (Folder.globalStatus description, SFD annex; ARCHIVED is internal).
HUBEE_RECEIVED = "HUBEE_RECEIVED"
HUBEE_COMPLETED = "HUBEE_COMPLETED"
HUBEE_NOTIFIED = "HUBEE_NOTIFIED"
SENT = "SENT"
SI_RECEIVED = "SI_RECEIVED"
IN_PROGRESS = "IN_PROGRESS"
ADD_AWAITING = "ADD_AWAITING"
REFUSED = "REFUSED"
DONE = "DONE"
CLOSED = "CLOSED"
SI_INTG_ERROR = "SI_INTG_ERROR"
CASE_STATUSES = frozenset(
    {
        HUBEE_RECEIVED,
        HUBEE_COMPLETED,
        HUBEE_NOTIFIED,
        SENT,
        SI_RECEIVED,
        IN_PROGRESS,
        ADD_AWAITING,
        REFUSED,
        DONE,
        CLOSED,
        SI_INTG_ERROR,
    }
)

# How far a case has gone, for the binary purge rule ("once all cases reach statusBeforeFileDeletion").
STATUS_RANK = {
    HUBEE_RECEIVED: 0,
    HUBEE_COMPLETED: 1,
    HUBEE_NOTIFIED: 2,
    SENT: 3,
    SI_RECEIVED: 4,
    IN_PROGRESS: 5,
    ADD_AWAITING: 6,
    SI_INTG_ERROR: 7,
    REFUSED: 8,
    DONE: 8,
    CLOSED: 9,
}

# Strict transitions an SI may make (research §6.1-6.2: the official table, plus the skips the démarche
# workflow sheet allows; DONE never straight from HUBEE_NOTIFIED). Setting the current status again is
# accepted (an ATTACH_DEPOSIT may keep the status; legacy clients PATCH the case then post the event).
SI_TRANSITIONS: dict[str, frozenset[str]] = {
    SENT: frozenset({HUBEE_NOTIFIED}),
    SI_RECEIVED: frozenset({HUBEE_NOTIFIED, SENT}),
    IN_PROGRESS: frozenset({HUBEE_NOTIFIED, SENT, SI_RECEIVED}),
    ADD_AWAITING: frozenset({IN_PROGRESS}),
    DONE: frozenset({SENT, SI_RECEIVED, IN_PROGRESS, ADD_AWAITING}),
    REFUSED: frozenset({HUBEE_NOTIFIED, SENT, SI_RECEIVED, IN_PROGRESS, ADD_AWAITING}),
    SI_INTG_ERROR: frozenset({HUBEE_NOTIFIED, SENT, SI_RECEIVED, IN_PROGRESS, ADD_AWAITING, DONE}),
}
# The OSL closes (citizen informed) or reopens from any status (research §6.1).
OSL_TRANSITIONS: dict[str, frozenset[str]] = {
    CLOSED: frozenset({SI_RECEIVED, IN_PROGRESS, ADD_AWAITING, DONE, REFUSED, SI_INTG_ERROR}),
    HUBEE_NOTIFIED: frozenset(CASE_STATUSES),
}
# Démarches whose workflow allows ADD_AWAITING (research §6.2, "authorizedAwaiting" of the Process API).
AWAITING_ALLOWED = frozenset({"recensementCitoyen", "arnaqueInternet", "INSRegistreFR"})

# Event action types and statuses (Event.actionType example, SFD §6.4).
STATUS_UPDATE = "STATUS_UPDATE"
ATTACH_DEPOSIT = "ATTACH_DEPOSIT"
SENDING_MESSAGE = "SENDING_MESSAGE"
ACTION_TYPES = frozenset(
    {STATUS_UPDATE, ATTACH_DEPOSIT, "ATTACH_DL", "ATTACH_DL_ALL", "COM_ADD", SENDING_MESSAGE}
)
EVENT_SENT = "SENT"
EVENT_RECEIVED = "RECEIVED"
EVENT_IN_PROGRESS = "IN_PROGRESS"

# Attachment statuses (Attachment.status description; DELETED after a purge per the SFD).
PENDING = "PENDING"
RECEIVED = "RECEIVED"
REJECTED = "REJECTED"
DELETED = "DELETED"


def iso(moment: datetime | None) -> str | None:
    """``2024-07-04T08:54:15.438+00:00``: milliseconds and an offset, as in the platform's answers."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def sha256_b64(data: bytes) -> str:
    """The ``digest`` header value: base64 of the SHA-256, no ``SHA-256=`` prefix (spec example)."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


@dataclass(frozen=True, slots=True)
class OrgId:
    """OrganizationIdentifier: type (SI, OSL, ADMIN), SIRET (14 digits), branch code (≤10)."""

    type: str
    company_register: str
    branch_code: str

    def to_json(self) -> JsonObject:
        return {"type": self.type, "companyRegister": self.company_register, "branchCode": self.branch_code}


@dataclass(frozen=True, slots=True)
class Applicant:
    first_name: str
    last_name: str
    email: str | None = None

    def to_json(self) -> JsonObject:
        return {"firstName": self.first_name, "lastName": self.last_name, "email": self.email}


@dataclass(frozen=True, slots=True)
class Subscription:
    """One credential pair: an organisation subscribed to démarches with one role (scope).

    An SI subscription covers one process code (one pair per démarche and organisation, research §2);
    an OSL client may send several (``process_codes`` empty = every démarche).
    """

    client_id: str
    client_secret: str
    organisation: OrgId
    process_codes: frozenset[str]
    role: str = "SI"

    def covers(self, process_code: str) -> bool:
        return not self.process_codes or process_code in self.process_codes


@dataclass(slots=True)
class Token:
    value: str
    subscription: Subscription
    scope: str
    issued_at: datetime
    expires_at: datetime
    generation: int


@dataclass(slots=True)
class Blob:
    """A binary kept in memory or, for big ones, in a file read by chunks when served: a seeded `path`,
    or the anonymous temporary `file` an upload was streamed into."""

    data: bytes | None = None
    path: Path | None = None
    size: int = 0
    digest: str = ""
    file: IO[bytes] | None = None

    @classmethod
    def of(cls, content: bytes | Path) -> Blob:
        if isinstance(content, Path):
            sha = hashlib.sha256()
            size = 0
            with content.open("rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    sha.update(chunk)
                    size += len(chunk)
            return cls(path=content, size=size, digest=base64.b64encode(sha.digest()).decode("ascii"))
        return cls(data=content, size=len(content), digest=sha256_b64(content))

    @classmethod
    def receive(cls, chunks: Iterable[bytes]) -> Blob:
        """An uploaded body, read chunk by chunk: in memory while small, else in a temporary file
        (deleted with the blob), so that a 1 GB deposit does not sit in the platform's memory."""
        sha = hashlib.sha256()
        head = bytearray()
        spill: IO[bytes] | None = None
        size = 0
        for chunk in chunks:
            sha.update(chunk)
            size += len(chunk)
            if spill is None and len(head) + len(chunk) > SPILL_BYTES:
                spill = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the blob, closed with it
                spill.write(head)
                head.clear()
            if spill is not None:
                spill.write(chunk)
            else:
                head += chunk
        digest = base64.b64encode(sha.digest()).decode("ascii")
        if spill is None:
            return cls(data=bytes(head), size=size, digest=digest)
        spill.flush()
        return cls(size=size, digest=digest, file=spill)

    def chunks(self) -> Iterator[bytes]:
        if self.data is not None:
            yield self.data
        elif self.path is not None:
            with self.path.open("rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    yield chunk
        elif self.file is not None:
            offset = 0  # positional reads: several downloads of one blob may run at once
            while chunk := os.pread(self.file.fileno(), CHUNK_BYTES, offset):
                offset += len(chunk)
                yield chunk

    def read(self) -> bytes:
        return b"".join(self.chunks())


@dataclass(slots=True)
class Attachment:
    id: str
    file_name: str
    type: str
    size: int
    mime_type: str
    status: str = PENDING
    blob: Blob | None = None
    recipients: list[str] = field(default_factory=list)  # case externalIds (folder attachments only)

    def to_json(self, *, with_recipients: bool = False) -> JsonObject:
        body: JsonObject = {
            "id": self.id,
            "status": self.status,
            "fileName": self.file_name,
            "type": self.type,
            "size": self.size,
            "mimeType": self.mime_type,
        }
        if with_recipients:
            body["recipients"] = list(self.recipients)
        return body


@dataclass(frozen=True, slots=True)
class PartnerInfo:
    editor_name: str | None = None
    application_name: str | None = None
    software_version: str | None = None

    def to_json(self) -> JsonObject:
        return {
            "editorName": self.editor_name,
            "applicationName": self.application_name,
            "softwareVersion": self.software_version,
        }


@dataclass(slots=True)
class Event:
    id: str
    case_id: str
    transmitter: OrgId
    action_type: str
    notification: bool
    status: str
    create_date_time: datetime
    update_date_time: datetime | None = None
    message: str | None = None
    comment: str | None = None
    author: str | None = None
    case_current_status: str | None = None
    case_new_status: str | None = None
    partner_attributes: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    partner_info: PartnerInfo | None = None

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "transmitter": self.transmitter.to_json(),
            "message": self.message,
            "comment": self.comment,
            "actionType": self.action_type,
            "author": self.author,
            "notification": self.notification,
            "createDateTime": iso(self.create_date_time),
            "updateDateTime": iso(self.update_date_time),
            "status": self.status,
            "caseCurrentStatus": self.case_current_status,
            "caseNewStatus": self.case_new_status,
            "partnerAttributes": self.partner_attributes,
            "attachments": [a.to_json() for a in self.attachments],
            "partnerInfo": self.partner_info.to_json() if self.partner_info else None,
        }


@dataclass(slots=True)
class Case:
    id: str
    folder_id: str
    external_id: str
    recipient: OrgId
    process_code: str
    status: str
    create_date_time: datetime
    applicant: Applicant
    update_date_time: datetime | None = None
    transmission_date_time: datetime | None = None
    close_date_time: datetime | None = None
    partner_attributes: str | None = None
    attachments: list[Attachment] = field(default_factory=list)  # shared with the folder's
    events: list[Event] = field(default_factory=list)

    def to_json(self, *, lite: bool = False) -> JsonObject:
        body: JsonObject = {
            "id": self.id,
            "status": self.status,
            "recipient": self.recipient.to_json(),
            "externalId": self.external_id,
            "processCode": self.process_code,
            "createDateTime": iso(self.create_date_time),
            "updateDateTime": iso(self.update_date_time),
            "transmissionDateTime": iso(self.transmission_date_time),
            "closeDateTime": iso(self.close_date_time),
            "partnerAttributes": self.partner_attributes,
            "applicant": self.applicant.to_json(),
        }
        if not lite:
            body["attachments"] = [a.to_json() for a in self.attachments]
            body["events"] = [e.to_json() for e in self.events]
        return body

    def to_folder_json(self) -> JsonObject:
        return {
            "id": self.id,
            "status": self.status,
            "recipient": self.recipient.to_json(),
            "externalId": self.external_id,
            "updateDateTime": iso(self.update_date_time),
            "transmissionDateTime": iso(self.transmission_date_time),
            "partnerAttributes": self.partner_attributes,
        }


@dataclass(slots=True)
class Folder:
    id: str
    external_id: str
    process_code: str
    transmitter: OrgId
    applicant: Applicant
    global_status: str
    create_date_time: datetime
    cases: list[Case] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    update_date_time: datetime | None = None
    close_date_time: datetime | None = None
    partner_info: PartnerInfo | None = None

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "globalStatus": self.global_status,
            "processCode": self.process_code,
            "createDateTime": iso(self.create_date_time),
            "closeDateTime": iso(self.close_date_time),
            "applicant": self.applicant.to_json(),
            "externalId": self.external_id,
            "updateDateTime": iso(self.update_date_time),
            "partnerInfo": self.partner_info.to_json() if self.partner_info else None,
            "cases": [c.to_folder_json() for c in self.cases],
            "attachments": [a.to_json(with_recipients=True) for a in self.attachments],
        }


@dataclass(slots=True)
class Notification:
    id: str
    recipient: OrgId
    transmitter: OrgId
    process_code: str
    case_id: str | None
    event_id: str | None
    date_time: datetime

    def to_json(self, event: Event | None = None, *, details: bool = False) -> JsonObject:
        body: JsonObject = {
            "id": self.id,
            "recipient": self.recipient.to_json(),
            "transmitter": self.transmitter.to_json(),
            "processCode": self.process_code,
            "caseId": self.case_id,
            "eventId": self.event_id,
            "dateTime": iso(self.date_time),
        }
        if details:
            # eventDetails=true (2024 contract, DINUM script; absent from OpenAPI 1.2.7): the event's
            # *current* action type and status, null for a new case.
            body["eventActionType"] = event.action_type if event else None
            body["eventStatus"] = event.status if event else None
        return body
