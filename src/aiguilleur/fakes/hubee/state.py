"""What the platform does to its data: folders completed into notified cases, status changes, events and
their acknowledgements, the notification queue, binary purges.

Rules from research/hubee.md: §6 (case statuses and transitions, binary retention), §6.4 (event status
machine and who gets notified), §7 (queue semantics). Operations raise `Refusal` carrying the answer the
platform gives; the HTTP layer returns it as is.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx

from aiguilleur.fakes.hubee import responses
from aiguilleur.fakes.hubee.faults import HubeeFaults
from aiguilleur.fakes.hubee.model import (
    ADD_AWAITING,
    ATTACH_DEPOSIT,
    CASE_STATUSES,
    CLOSED,
    DELETED,
    EVENT_IN_PROGRESS,
    EVENT_RECEIVED,
    EVENT_SENT,
    HUBEE_COMPLETED,
    HUBEE_NOTIFIED,
    HUBEE_RECEIVED,
    OSL_TRANSITIONS,
    PENDING,
    RECEIVED,
    REJECTED,
    SI_TRANSITIONS,
    STATUS_RANK,
    Applicant,
    Attachment,
    Blob,
    Case,
    Event,
    Folder,
    Notification,
    OrgId,
    PartnerInfo,
    Subscription,
)


class Refusal(Exception):
    """An operation the platform refuses; `response` is its answer."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass(frozen=True, slots=True)
class NewAttachment:
    """An attachment declared before its binary is sent (POST /folders, POST …/events)."""

    file_name: str
    type: str
    size: int
    mime_type: str
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewEvent:
    action_type: str
    notification: bool
    message: str | None = None
    comment: str | None = None
    author: str | None = None
    case_current_status: str | None = None
    case_new_status: str | None = None
    partner_attributes: str | None = None
    attachments: tuple[NewAttachment, ...] = ()


def _other_party(case: Case, folder: Folder, author: OrgId) -> OrgId:
    return folder.transmitter if author == case.recipient else case.recipient


class HubState:
    """The platform's data and rules; not thread-safe by itself (the world holds a lock)."""

    def __init__(
        self,
        now: Callable[[], datetime],
        faults: HubeeFaults,
        *,
        seed: int,
        strict_transitions: bool,
        awaiting_allowed: frozenset[str],
    ) -> None:
        self.now = now
        self.faults = faults
        self.rng = random.Random(seed)  # noqa: S311 - reproducible identifiers, no secret
        self.strict_transitions = strict_transitions
        self.awaiting_allowed = awaiting_allowed
        self.folders: dict[str, Folder] = {}
        self.cases: dict[str, Case] = {}
        self.events: dict[str, Event] = {}
        self.notifications: dict[str, Notification] = {}  # insertion order = creation order
        self.attachments: dict[str, Attachment] = {}
        self.deleted_notifications: list[Notification] = []

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # --- notifications -----------------------------------------------------------------------------

    def notify(
        self, recipient: OrgId, transmitter: OrgId, process_code: str, case_id: str, event_id: str | None
    ) -> Notification:
        notification = Notification(
            self.new_id(), recipient, transmitter, process_code, case_id, event_id, self.now()
        )
        self.notifications[notification.id] = notification
        return notification

    def queue(self, visible: Callable[[Notification], bool]) -> list[Notification]:
        return [n for n in self.notifications.values() if visible(n)]

    def delete_notification(self, notification_id: str) -> None:
        self.deleted_notifications.append(self.notifications.pop(notification_id))

    def event_of(self, notification: Notification) -> Event | None:
        return self.events.get(notification.event_id) if notification.event_id else None

    # --- the sender's side -------------------------------------------------------------------------

    def create_folder(
        self,
        transmitter: OrgId,
        process_code: str,
        external_id: str,
        applicant: Applicant,
        cases: Sequence[tuple[str, OrgId, str | None]],
        attachments: Sequence[NewAttachment],
        partner_info: PartnerInfo | None = None,
    ) -> Folder:
        """A folder HUBEE_RECEIVED with its cases and PENDING attachments (POST /folders)."""
        case_ids = [external for external, _, _ in cases]
        if len(set(case_ids)) != len(case_ids):
            raise Refusal(responses.bad_request("duplicate case externalId"))
        for new in attachments:
            unknown = set(new.recipients) - set(case_ids)
            if unknown:
                raise Refusal(responses.bad_request(f"unknown attachment recipients {sorted(unknown)}"))
        now = self.now()
        folder = Folder(
            self.new_id(), external_id, process_code, transmitter, applicant, HUBEE_RECEIVED, now,
            partner_info=partner_info,
        )  # fmt: skip
        for new in attachments:
            att = Attachment(
                self.new_id(), new.file_name, new.type, new.size, new.mime_type,
                recipients=list(new.recipients or case_ids),
            )  # fmt: skip
            folder.attachments.append(att)
            self.attachments[att.id] = att
        for external, recipient, partner_attributes in cases:
            case = Case(
                self.new_id(), folder.id, external, recipient, process_code, HUBEE_RECEIVED, now, applicant,
                partner_attributes=partner_attributes,
            )  # fmt: skip
            case.attachments = [a for a in folder.attachments if external in a.recipients]
            folder.cases.append(case)
            self.cases[case.id] = case
        self.folders[folder.id] = folder
        return folder

    def store_binary(self, att: Attachment, content: bytes | Blob, digest: str | None = None) -> None:
        """Keep a binary; a size or digest differing from the metadata rejects it (400, REJECTED)."""
        blob = content if isinstance(content, Blob) else Blob.of(content)
        if att.status not in (PENDING, REJECTED):
            raise Refusal(responses.bad_request(f"attachment {att.id} is {att.status}"))
        if blob.size != att.size:
            att.status = REJECTED
            raise Refusal(responses.bad_request(f"size {blob.size} differs from the declared {att.size}"))
        if digest and digest.removeprefix("SHA-256=").removeprefix("sha-256=") != blob.digest:
            att.status = REJECTED
            raise Refusal(responses.bad_request("digest does not match the binary"))
        att.blob = blob
        att.status = RECEIVED

    def complete_folder(self, folder: Folder, status: str, close: datetime | None = None) -> None:
        """PATCH /folders/{id}: HUBEE_COMPLETED notifies every case's recipient; other values only
        set the folder's globalStatus (the spec: cases are updated by the OSL first)."""
        now = self.now()
        if status == HUBEE_COMPLETED:
            if folder.global_status != HUBEE_RECEIVED:
                raise Refusal(responses.bad_request(f"folder is {folder.global_status}"))
            if any(a.status != RECEIVED for a in folder.attachments):
                raise Refusal(responses.bad_request("every attachment must be RECEIVED"))
            # The hub notifies at once: HUBEE_COMPLETED then HUBEE_NOTIFIED (research §6.1, §14).
            folder.global_status = HUBEE_NOTIFIED
            for case in folder.cases:
                case.status = HUBEE_NOTIFIED
                case.update_date_time = case.transmission_date_time = now
                self.notify(case.recipient, folder.transmitter, folder.process_code, case.id, None)
        elif status in CASE_STATUSES:
            folder.global_status = status
        else:
            raise Refusal(responses.bad_request(f"unknown globalStatus {status}"))
        folder.update_date_time = now
        if close is not None:
            folder.close_date_time = close

    def delete_folder(self, folder: Folder) -> None:
        if folder.global_status != HUBEE_RECEIVED:
            raise Refusal(responses.bad_request(f"folder is {folder.global_status}"))
        for case in folder.cases:
            del self.cases[case.id]
        for att in folder.attachments:
            self.attachments.pop(att.id, None)
        del self.folders[folder.id]

    # --- cases -------------------------------------------------------------------------------------

    def change_status(self, case: Case, new: str, role: str) -> None:
        """Apply a status change by an SI or an OSL, refused (400) when the workflow forbids it."""
        current = case.status
        if new not in CASE_STATUSES:
            raise Refusal(responses.bad_request(f"unknown status {new}"))
        if new != current:
            table = OSL_TRANSITIONS if role == "OSL" else SI_TRANSITIONS
            if role != "ADMIN" and new not in table:
                raise Refusal(responses.bad_request(f"status {new} cannot be set by {role}"))
            if self.strict_transitions and role != "ADMIN":
                if current not in table[new]:
                    raise Refusal(responses.bad_request(f"transition {current} -> {new} is not allowed"))
                if new == ADD_AWAITING and case.process_code not in self.awaiting_allowed:
                    raise Refusal(
                        responses.bad_request(f"{ADD_AWAITING} is not allowed for {case.process_code}")
                    )
        case.status = new
        case.update_date_time = self.now()
        if new == CLOSED:
            case.close_date_time = case.update_date_time
        self.apply_purge_rule(case)

    def apply_purge_rule(self, case: Case) -> None:
        target = self.faults.purge_on_status
        if target is None or target not in STATUS_RANK:
            return
        for att in case.attachments:
            holders = [c for c in self.cases.values() if any(a is att for a in c.attachments)]
            if all(STATUS_RANK.get(c.status, 0) >= STATUS_RANK[target] for c in holders):
                self.faults.purge(att.id)

    def attachment_status(self, att: Attachment) -> str:
        if att.id in self.faults.purged and att.status == RECEIVED:
            att.status = DELETED
            att.blob = None
        return att.status

    def refresh_attachments(self, attachments: Iterable[Attachment]) -> None:
        for att in attachments:
            self.attachment_status(att)

    # --- events ------------------------------------------------------------------------------------

    def add_event(
        self, case: Case, author: OrgId, role: str, new: NewEvent, partner_info: PartnerInfo | None
    ) -> Event:
        """POST /cases/{id}/events: checks §6.4, applies caseNewStatus, notifies the other party."""
        if new.action_type == ATTACH_DEPOSIT and not new.attachments:
            raise Refusal(responses.bad_request("an ATTACH_DEPOSIT event needs attachments"))
        if new.action_type != ATTACH_DEPOSIT and new.attachments:
            raise Refusal(responses.bad_request(f"a {new.action_type} event takes no attachment"))
        if (
            new.action_type == ATTACH_DEPOSIT
            and role == "SI"
            and case.process_code in self.faults.no_si_attachments
        ):
            raise Refusal(
                responses.bad_request(
                    f"SI attachment formats are not enabled for process {case.process_code}"
                )
            )
        before = case.status
        if new.case_new_status is not None:
            self.change_status(case, new.case_new_status, role)
        now = self.now()
        event = Event(
            self.new_id(), case.id, author, new.action_type, new.notification,
            EVENT_IN_PROGRESS if new.action_type == ATTACH_DEPOSIT else EVENT_SENT, now,
            message=new.message, comment=new.comment, author=new.author,
            case_current_status=new.case_current_status or before, case_new_status=new.case_new_status,
            partner_attributes=new.partner_attributes, partner_info=partner_info,
        )  # fmt: skip
        for declared in new.attachments:
            att = Attachment(
                self.new_id(), declared.file_name, declared.type, declared.size, declared.mime_type
            )
            event.attachments.append(att)
            self.attachments[att.id] = att
        case.events.append(event)
        self.events[event.id] = event
        if event.status == EVENT_SENT and event.notification:
            folder = self.folders[case.folder_id]
            self.notify(_other_party(case, folder, author), author, case.process_code, case.id, event.id)
        return event

    def update_event(self, case: Case, event: Event, status: str, by: OrgId) -> None:
        """PATCH …/events/{id}: the author finishes an ATTACH_DEPOSIT (SENT), the other party
        acknowledges (RECEIVED, which notifies the author back: SFD 4.1)."""
        folder = self.folders[case.folder_id]
        is_author = by == event.transmitter
        if status == EVENT_SENT:
            if not is_author or event.status != EVENT_IN_PROGRESS:
                raise Refusal(responses.bad_request(f"event is {event.status}"))
            if any(a.status != RECEIVED for a in event.attachments):
                raise Refusal(responses.bad_request("every attachment must be RECEIVED"))
            event.status = EVENT_SENT
            event.update_date_time = self.now()
            if event.notification:
                self.notify(_other_party(case, folder, by), by, case.process_code, case.id, event.id)
        elif status == EVENT_RECEIVED:
            if is_author or event.status not in (EVENT_SENT, EVENT_RECEIVED):
                raise Refusal(responses.bad_request(f"event is {event.status}"))
            if event.status == EVENT_SENT:  # acknowledging twice is harmless and notifies once
                event.status = EVENT_RECEIVED
                event.update_date_time = self.now()
                if event.notification:
                    self.notify(event.transmitter, by, case.process_code, case.id, event.id)
        else:
            raise Refusal(responses.bad_request(f"unknown event status {status}"))

    def delete_event(self, case: Case, event: Event, by: OrgId) -> None:
        if (
            by != event.transmitter
            or event.action_type != ATTACH_DEPOSIT
            or event.status != EVENT_IN_PROGRESS
        ):
            raise Refusal(
                responses.bad_request("only an ATTACH_DEPOSIT IN_PROGRESS can be deleted by its author")
            )
        case.events.remove(event)
        del self.events[event.id]
        for att in event.attachments:
            self.attachments.pop(att.id, None)

    # --- access ------------------------------------------------------------------------------------

    def can_see_case(self, sub: Subscription, case: Case) -> bool:
        if sub.role == "ADMIN":
            return True
        if not sub.covers(case.process_code):
            return False  # a token of another démarche: 403 (research §2, error guide)
        if sub.role == "OSL":
            return self.folders[case.folder_id].transmitter == sub.organisation
        return case.recipient == sub.organisation
