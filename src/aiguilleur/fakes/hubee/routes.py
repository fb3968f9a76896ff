"""The Folder API 1.2.7 operations of the fake HubEE: route table and handlers.

Paths, methods, status codes, messages and JSON names are those of ``api_folder_v1.2.7.yaml``; each
handler gets an authenticated `Call` and answers through `HubState`, whose `Refusal` carries the
platform's error answer. POST with ``X-HTTP-Method-Override: PATCH`` is PATCH where the spec says so.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import httpx

from aiguilleur.fakes.hubee import responses
from aiguilleur.fakes.hubee.body import (
    attachment_declarations,
    json_body,
    optional_date_time,
    optional_string,
    organization,
    require,
    required_bool,
    required_string,
)
from aiguilleur.fakes.hubee.model import (
    ACTION_TYPES,
    RECEIVED,
    Applicant,
    Attachment,
    Blob,
    Case,
    Event,
    Folder,
    PartnerInfo,
    sha256_b64,
)
from aiguilleur.fakes.hubee.state import NewEvent, Refusal

if TYPE_CHECKING:
    from aiguilleur.fakes.hubee.model import Subscription
    from aiguilleur.fakes.hubee.world import FakeHubee

API_ROOT = "/teledossiers/v1"
DEFAULT_MAX_RESULT = 25  # SFD and DINUM decks: "merci de ne pas toucher à cette valeur sans raison"

_ALL = frozenset({"OSL", "SI", "ADMIN"})
_OSL = frozenset({"OSL", "ADMIN"})


@dataclass(frozen=True, slots=True)
class Call:
    """An authenticated request: who calls (subscription, token scope) and the path parameters."""

    request: httpx.Request
    path: str
    subscription: Subscription
    scope: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.request.method


Handler = Callable[["FakeHubee", Call], httpx.Response]


def partner_info_of(request: httpx.Request) -> PartnerInfo:
    h = request.headers
    return PartnerInfo(h.get("editorName"), h.get("applicationName"), h.get("softwareVersion"))


# --- helpers -------------------------------------------------------------------------------------------


def _case(world: FakeHubee, call: Call) -> Case:
    case = world.state.cases.get(call.params["caseId"])
    if case is None:
        raise Refusal(responses.not_found("Case is not found"))
    if not world.state.can_see_case(call.subscription, case):
        raise Refusal(responses.forbidden())
    world.state.refresh_attachments(case.attachments)
    return case


def _event(world: FakeHubee, call: Call, missing: str = "event is not found") -> tuple[Case, Event]:
    case = _case(world, call)
    event = next((e for e in case.events if e.id == call.params["eventId"]), None)
    if event is None:
        raise Refusal(responses.not_found(missing))
    world.state.refresh_attachments(event.attachments)
    return case, event


def _folder(world: FakeHubee, call: Call) -> Folder:
    folder = world.state.folders.get(call.params["folderId"])
    if folder is None:
        raise Refusal(responses.not_found("Folder is not found"))
    sub = call.subscription
    if sub.role != "ADMIN" and (
        folder.transmitter != sub.organisation or not sub.covers(folder.process_code)
    ):
        raise Refusal(responses.forbidden())
    return folder


def _flip_first(chunks: Iterator[bytes]) -> Iterator[bytes]:
    first = True
    for chunk in chunks:
        if first and chunk:
            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
            first = False
        yield chunk


def _truncate(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks:
        chunk = chunk[: max(0, limit - sent)]
        sent += len(chunk)
        if chunk:
            yield chunk


def _binary(world: FakeHubee, att: Attachment, missing: str) -> httpx.Response:
    """200 octet-stream with ``digest`` (base64 SHA-256, spec 1.2.3) and Content-Length; only a RECEIVED
    binary can be downloaded, a purged one is "File is not found" (the spec has no 410)."""
    if world.state.attachment_status(att) != RECEIVED or att.blob is None:
        raise Refusal(responses.not_found(missing))
    blob = att.blob
    size, digest = blob.size, blob.digest
    content: bytes | Iterator[bytes] = blob.data if blob.data is not None else blob.chunks()
    kind = world.faults.take_corruption(att.id)
    if kind == "digest":
        digest = sha256_b64(b"not the announced binary")
    elif kind == "flip":
        content = _flip_first(iter([content]) if isinstance(content, bytes) else content)
    elif kind == "truncate":
        size = max(0, size - 1)
        content = _truncate(iter([content]) if isinstance(content, bytes) else content, size)
    if not isinstance(content, bytes) and blob.data is not None:
        content = b"".join(content)  # in-memory blobs stay plain bytes (usable by async clients too)
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size), "digest": digest}
    return httpx.Response(200, headers=headers, content=content)


def _uploaded(request: httpx.Request) -> Blob:
    """The binary of a PUT, read from the request's stream chunk by chunk (the world does not read
    upload bodies beforehand), so that a large upload is never whole in memory."""
    stream = request.stream
    if not isinstance(stream, httpx.SyncByteStream):
        return Blob.of(request.content)
    return Blob.receive(stream)


def _list_param(params: httpx.QueryParams, name: str) -> list[str]:
    return [v for value in params.get_list(name) for v in value.split(",") if v]


# --- notifications -----------------------------------------------------------------------------------


def list_notifications(world: FakeHubee, call: Call) -> httpx.Response:
    """listNotification, GET /notifications: the caller's queue, oldest first, `maxResult` (25)
    at most; `processCode` filters, `processPriority` comes first, `eventDetails=true` adds the event's
    action type and status. Nothing is removed: a notification comes back until it is deleted."""
    query = call.request.url.params
    raw = query.get("maxResult")
    max_result = DEFAULT_MAX_RESULT
    if raw is not None:
        try:
            max_result = int(float(raw))
        except ValueError:
            detail = 'Instance type (string) does not match any allowed primitive type (allowed: ["integer","number"])'  # noqa: E501
            return responses.validation_error(call.method, call.path, "query.maxResult", detail)
        if max_result < 1:
            return responses.bad_request("maxResult must be at least 1")
    codes = set(_list_param(query, "processCode"))
    priority = set(_list_param(query, "processPriority"))
    details = query.get("eventDetails", "").lower() == "true"
    queue = world.state.queue(lambda n: world.notification_visible(call.subscription, n))
    if codes:
        queue = [n for n in queue if n.process_code in codes]
    if world.faults.shuffle_notifications:
        world.shuffle_rng.shuffle(queue)
    if priority:
        queue.sort(key=lambda n: n.process_code not in priority)  # stable: priority codes first
    batch = queue[:max_result]
    if world.faults.duplicate_notifications:
        batch = [n for n in batch for _ in (0, 1)][:max_result]
    body = [n.to_json(world.state.event_of(n), details=details) for n in batch]
    return responses.json_response(200, body)


def delete_notification(world: FakeHubee, call: Call) -> httpx.Response:
    """deleteNotification, DELETE /notifications/{id}: 204, physical deletion (the acknowledgement)."""
    notification = world.state.notifications.get(call.params["notificationId"])
    if notification is None:
        return responses.not_found("Notification is not found")
    if not world.notification_visible(call.subscription, notification):
        return responses.forbidden()
    world.state.delete_notification(notification.id)
    return responses.no_content()


# --- cases and events --------------------------------------------------------------------------------


def get_case(world: FakeHubee, call: Call) -> httpx.Response:
    """getCaseById, GET /cases/{id}: the case with its attachments and events (`lite=true`: without)."""
    lite = call.request.url.params.get("lite", "").lower() == "true"
    return responses.json_response(200, _case(world, call).to_json(lite=lite))


def patch_case(world: FakeHubee, call: Call) -> httpx.Response:
    """updateCase, PATCH /cases/{id} ``{"status"}``: 204; the legacy way, an event should follow."""
    case = _case(world, call)
    body = json_body(call.method, call.path, call.request.content)
    status = required_string(call.method, call.path, body, "status", 50)
    world.state.change_status(case, status, call.subscription.role)
    return responses.no_content()


def download_case_attachment(world: FakeHubee, call: Call) -> httpx.Response:
    """downloadCaseAttachmentById, GET /cases/{id}/attachments/{id}: the binary."""
    case = _case(world, call)
    att = next((a for a in case.attachments if a.id == call.params["attachmentId"]), None)
    if att is None:
        return responses.not_found("File is not found")
    return _binary(world, att, "File is not found")


def create_event(world: FakeHubee, call: Call) -> httpx.Response:
    """createEvent, POST /cases/{id}/events: 201 with the event (ids, status SENT, or IN_PROGRESS
    for an ATTACH_DEPOSIT until its binaries are uploaded and it is PATCHed SENT)."""
    case = _case(world, call)
    m, p = call.method, call.path
    body = json_body(m, p, call.request.content)
    action_type = required_string(m, p, body, "actionType", 100)
    if action_type not in ACTION_TYPES:
        return responses.bad_request(f"unknown actionType {action_type}")
    new = NewEvent(
        action_type=action_type,
        notification=required_bool(m, p, body, "notification"),
        message=optional_string(m, p, body, "message", 1000),
        comment=optional_string(m, p, body, "comment", 1000),
        author=optional_string(m, p, body, "author", 255),
        case_current_status=optional_string(m, p, body, "caseCurrentStatus", 15),
        case_new_status=optional_string(m, p, body, "caseNewStatus", 15),
        partner_attributes=optional_string(m, p, body, "partnerAttributes", 1024),
        attachments=attachment_declarations(m, p, body, "attachments", with_recipients=False),
    )
    sub = call.subscription
    event = world.state.add_event(case, sub.organisation, sub.role, new, partner_info_of(call.request))
    return responses.json_response(201, event.to_json())


def get_event(world: FakeHubee, call: Call) -> httpx.Response:
    """getEventById, GET /cases/{id}/events/{id}."""
    return responses.json_response(200, _event(world, call)[1].to_json())


def patch_event(world: FakeHubee, call: Call) -> httpx.Response:
    """updateEvent, PATCH /cases/{id}/events/{id} ``{"status": "RECEIVED"|"SENT"}``: 204."""
    case, event = _event(world, call)
    body = json_body(call.method, call.path, call.request.content)
    status = required_string(call.method, call.path, body, "status", 12)
    world.state.update_event(case, event, status, call.subscription.organisation)
    return responses.no_content()


def delete_event(world: FakeHubee, call: Call) -> httpx.Response:
    """deleteEvent, DELETE /cases/{id}/events/{id}: 204 for its author's ATTACH_DEPOSIT IN_PROGRESS."""
    case, event = _event(world, call, "Event is not found")
    world.state.delete_event(case, event, call.subscription.organisation)
    return responses.no_content()


def _event_attachment(world: FakeHubee, call: Call, missing: str) -> tuple[Event, Attachment]:
    _, event = _event(world, call)
    att = next((a for a in event.attachments if a.id == call.params["attachmentId"]), None)
    if att is None:
        raise Refusal(responses.not_found(missing))
    return event, att


def download_event_attachment(world: FakeHubee, call: Call) -> httpx.Response:
    """downloadEventAttachmentById, GET /cases/{id}/events/{id}/attachments/{id}."""
    _, att = _event_attachment(world, call, "file is not found")
    return _binary(world, att, "file is not found")


def upload_event_attachment(world: FakeHubee, call: Call) -> httpx.Response:
    """uploadEventAttachment, PUT /cases/{id}/events/{id}/attachments/{id}: 204, by the
    event's author, the declared size (and ``digest`` when sent)."""
    event, att = _event_attachment(world, call, "Binary meta-data is not found")
    if event.transmitter != call.subscription.organisation:
        return responses.forbidden()
    world.state.store_binary(att, _uploaded(call.request), call.request.headers.get("digest"))
    return responses.no_content()


# --- folders (the sender's side) ---------------------------------------------------------------------


def create_folder(world: FakeHubee, call: Call) -> httpx.Response:
    """createFolder, POST /folders (sender): 201, folder HUBEE_RECEIVED, attachments PENDING."""
    m, p = call.method, call.path
    body = json_body(m, p, call.request.content)
    require(m, p, body, ("externalId", "cases", "attachments", "applicant", "processCode"))
    process_code = required_string(m, p, body, "processCode", 30)
    if not call.subscription.covers(process_code):
        return responses.forbidden()
    applicant: dict[str, Any] = body["applicant"] if isinstance(body["applicant"], dict) else {}
    require(m, p, applicant, ("firstName", "lastName"), "/applicant")
    cases_in = body["cases"]
    if not isinstance(cases_in, list) or not cases_in:
        return responses.validation_error(m, p, "body", "[Path '/cases'] cases must be a non-empty array")
    cases = []
    for i, item in enumerate(cases_in):
        where = f"/cases/{i}"
        entry = item if isinstance(item, dict) else {}
        require(m, p, entry, ("externalId", "recipient"), where)
        cases.append(
            (
                required_string(m, p, entry, "externalId", 100, where),
                organization(m, p, entry["recipient"], f"{where}/recipient"),
                optional_string(m, p, entry, "partnerAttributes", 1024, where),
            )
        )
    folder = world.state.create_folder(
        call.subscription.organisation,
        process_code,
        required_string(m, p, body, "externalId", 30),
        Applicant(
            required_string(m, p, applicant, "firstName", 255, "/applicant"),
            required_string(m, p, applicant, "lastName", 255, "/applicant"),
            optional_string(m, p, applicant, "email", 320, "/applicant"),
        ),
        cases,
        attachment_declarations(m, p, body, "attachments", with_recipients=True),
        partner_info_of(call.request),
    )
    return responses.json_response(201, folder.to_json())


def get_folder(world: FakeHubee, call: Call) -> httpx.Response:
    """getFolderById, GET /folders/{id} (sender)."""
    return responses.json_response(200, _folder(world, call).to_json())


def patch_folder(world: FakeHubee, call: Call) -> httpx.Response:
    """updateFolder, PATCH /folders/{id} ``{"globalStatus", "closeDateTime"}`` (sender): 204;
    HUBEE_COMPLETED notifies every case's recipient."""
    folder = _folder(world, call)
    body = json_body(call.method, call.path, call.request.content)
    status = required_string(call.method, call.path, body, "globalStatus", 50)
    closed_at = optional_date_time(call.method, call.path, body, "closeDateTime")
    world.state.complete_folder(folder, status, closed_at)
    return responses.no_content()


def delete_folder(world: FakeHubee, call: Call) -> httpx.Response:
    """deleteFolder, DELETE /folders/{id} (sender): 204 while HUBEE_RECEIVED."""
    world.state.delete_folder(_folder(world, call))
    return responses.no_content()


def upload_folder_attachment(world: FakeHubee, call: Call) -> httpx.Response:
    """uploadFolderAttachment, PUT /folders/{id}/attachments/{id} (sender): 204."""
    folder = _folder(world, call)
    att = next((a for a in folder.attachments if a.id == call.params["attachmentId"]), None)
    if att is None:
        return responses.not_found("Binary meta-data is not found")
    world.state.store_binary(att, _uploaded(call.request), call.request.headers.get("digest"))
    return responses.no_content()


# --- routing -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Route:
    template: str
    methods: dict[str, tuple[Handler, frozenset[str]]]
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        object.__setattr__(self, "pattern", re.compile(regex))


ROUTES = (
    _Route("/notifications", {"GET": (list_notifications, _ALL)}),
    _Route("/notifications/{notificationId}", {"DELETE": (delete_notification, _ALL)}),
    _Route("/folders", {"POST": (create_folder, _OSL)}),
    _Route(
        "/folders/{folderId}",
        {"GET": (get_folder, _OSL), "PATCH": (patch_folder, _OSL), "DELETE": (delete_folder, _OSL)},
    ),
    _Route("/folders/{folderId}/attachments/{attachmentId}", {"PUT": (upload_folder_attachment, _OSL)}),
    _Route("/cases/{caseId}", {"GET": (get_case, _ALL), "PATCH": (patch_case, _ALL)}),
    _Route("/cases/{caseId}/attachments/{attachmentId}", {"GET": (download_case_attachment, _ALL)}),
    _Route("/cases/{caseId}/events", {"POST": (create_event, _ALL)}),
    _Route(
        "/cases/{caseId}/events/{eventId}",
        {"GET": (get_event, _ALL), "PATCH": (patch_event, _ALL), "DELETE": (delete_event, _ALL)},
    ),
    _Route(
        "/cases/{caseId}/events/{eventId}/attachments/{attachmentId}",
        {"GET": (download_event_attachment, _ALL), "PUT": (upload_event_attachment, _ALL)},
    ),
)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def dispatch(world: FakeHubee, call: Call) -> httpx.Response:
    """Route an authenticated API call; unknown paths get the gateway's 404."""
    relative = call.path.removeprefix(API_ROOT)
    for route in ROUTES:
        match = route.pattern.fullmatch(relative)
        if match is None:
            continue
        method = call.method
        if method == "POST" and "POST" not in route.methods and "PATCH" in route.methods:
            if call.request.headers.get("X-HTTP-Method-Override", "").upper() != "PATCH":
                return responses.method_not_allowed(sorted(route.methods))
            method = "PATCH"
        entry = route.methods.get(method)
        if entry is None:
            return responses.method_not_allowed(sorted(route.methods))
        handler, roles = entry
        if call.subscription.role not in roles:
            return responses.forbidden()
        params = match.groupdict()
        for name, value in params.items():
            if not _is_uuid(value):
                detail = f'Input string "{value}" is not a valid UUID'
                return responses.validation_error(call.method, call.path, f"path.{name}", detail)
        try:
            return handler(world, replace(call, params=params))
        except Refusal as refusal:
            return refusal.response
    return responses.gateway_fault(
        404, 404, "Runtime Error", "No matching resource found for given API Request"
    )
