"""The platform's payloads as pydantic models (Folder API 1.2.7, ``api_folder_v1.2.7.yaml``).

The peer's JSON names are the aliases; unknown fields are ignored, so that a newer API version adding
fields does not break us. Identifiers stay strings: the OpenAPI's own examples are not all valid UUIDs.
Fields the OpenAPI marks required but that the platform omits in practice (``recipient`` of a
notification, research §5.1) are optional here.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

# Case statuses (research §6.1) and event statuses (§6.4).
HUBEE_NOTIFIED = "HUBEE_NOTIFIED"
SENT = "SENT"
SI_RECEIVED = "SI_RECEIVED"
IN_PROGRESS = "IN_PROGRESS"
ADD_AWAITING = "ADD_AWAITING"
DONE = "DONE"
REFUSED = "REFUSED"
CLOSED = "CLOSED"
SI_INTG_ERROR = "SI_INTG_ERROR"
EVENT_SENT = "SENT"
EVENT_RECEIVED = "RECEIVED"
EVENT_IN_PROGRESS = "IN_PROGRESS"

# Event action types (Event.actionType).
STATUS_UPDATE = "STATUS_UPDATE"
ATTACH_DEPOSIT = "ATTACH_DEPOSIT"
SENDING_MESSAGE = "SENDING_MESSAGE"

# Attachment statuses: only a RECEIVED binary can be downloaded; DELETED once purged (SFD).
ATTACHMENT_RECEIVED = "RECEIVED"


class Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class OrgId(Wire):
    """OrganizationIdentifier: ``SI-<companyRegister>-<branchCode>``."""

    type: str = ""
    company_register: str = Field("", alias="companyRegister")
    branch_code: str = Field("", alias="branchCode")

    def __str__(self) -> str:
        return f"{self.type}-{self.company_register}-{self.branch_code}"


class Notification(Wire):
    """One entry of the queue; ``eventId`` null means a new télédossier (research §5.1)."""

    id: str
    process_code: str = Field(alias="processCode")
    case_id: str | None = Field(None, alias="caseId")
    event_id: str | None = Field(None, alias="eventId")
    event_action_type: str | None = Field(None, alias="eventActionType")  # with eventDetails=true
    event_status: str | None = Field(None, alias="eventStatus")  # with eventDetails=true
    date_time: datetime | None = Field(None, alias="dateTime")
    recipient: OrgId | None = None
    transmitter: OrgId | None = None

    @property
    def is_new_case(self) -> bool:
        return self.event_id is None


class Attachment(Wire):
    id: str
    status: str = ""
    file_name: str = Field(alias="fileName")
    type: str = ""
    size: int = Field(ge=0)
    mime_type: str = Field("application/octet-stream", alias="mimeType")


class Applicant(Wire):
    first_name: str = Field("", alias="firstName")
    last_name: str = Field("", alias="lastName")
    email: str | None = None


class Event(Wire):
    id: str
    transmitter: OrgId | None = None
    message: str | None = None
    comment: str | None = None
    action_type: str | None = Field(None, alias="actionType")
    author: str | None = None
    notification: bool | None = None
    status: str = ""
    case_current_status: str | None = Field(None, alias="caseCurrentStatus")
    case_new_status: str | None = Field(None, alias="caseNewStatus")
    partner_attributes: str | None = Field(None, alias="partnerAttributes")
    attachments: tuple[Attachment, ...] = ()
    create_date_time: datetime | None = Field(None, alias="createDateTime")


class Case(Wire):
    """A télédossier as one recipient sees it: metadata, attachments and event history."""

    id: str
    status: str
    recipient: OrgId
    external_id: str = Field(alias="externalId")
    process_code: str = Field(alias="processCode")
    create_date_time: datetime | None = Field(None, alias="createDateTime")
    update_date_time: datetime | None = Field(None, alias="updateDateTime")
    transmission_date_time: datetime | None = Field(None, alias="transmissionDateTime")
    close_date_time: datetime | None = Field(None, alias="closeDateTime")
    partner_attributes: str | None = Field(None, alias="partnerAttributes")
    applicant: Applicant | None = None
    attachments: tuple[Attachment, ...] = ()
    events: tuple[Event, ...] = ()


class Token(Wire):
    """The token endpoint's answer (RFC 6749 §5.1); only ``access_token`` is certain (research §2)."""

    access_token: str = Field(min_length=1)
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int = Field(3600, ge=0)
    scope: str | None = None
