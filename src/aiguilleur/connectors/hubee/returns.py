"""Returns that carry documents: one ATTACH_DEPOSIT event (research §5.6, §6.4).

POST the event declaring the files (201: the event IN_PROGRESS, its attachments PENDING), PUT each
binary streamed from the blob store, then PATCH the event SENT, which notifies the sender. The event
carries the return's marker, so a retry after a crash or a lost answer finds it on the case: SENT, there
is nothing left to do; IN_PROGRESS, the binaries not RECEIVED yet are sent and the event released. An
unfinished event that cannot be resumed (the platform refuses, its declarations are not ours) is deleted
(the platform allows it for an ATTACH_DEPOSIT IN_PROGRESS) and the deposit made again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from aiguilleur.connectors.hubee import wire
from aiguilleur.connectors.hubee.client import HubeeClient
from aiguilleur.connectors.hubee.errors import HubeeAuthRefused, HubeeError, HubeeRejected
from aiguilleur.connectors.hubee.mapping import OutgoingFile
from aiguilleur.store.blobs import BlobStore

logger = logging.getLogger(__name__)

#: The event's body for the case's current status (it changes when a deposit is made again).
BodyOf = Callable[[str], dict[str, Any]]


class CannotResume(HubeeRejected):
    """Our unfinished event does not declare the return's files: it must be deleted."""


def send_documents(
    client: HubeeClient,
    blobs: BlobStore,
    case: wire.Case,
    marker: str,
    files: Sequence[OutgoingFile],
    body_of: BodyOf,
) -> None:
    """Deposit `files` on `case` as one ATTACH_DEPOSIT event marked `marker`, resuming an earlier try.

    Raises HubeeRejected when the platform refuses the deposit (a fresh event refused halfway is
    deleted first), HubeeAuthRefused, HubeeUnavailable once the client's retries are spent.
    """
    event = next((e for e in case.events if e.partner_attributes == marker), None)
    if event is not None and event.status != wire.EVENT_IN_PROGRESS:
        logger.info("hubee: deposit %s was sent already (event %s)", marker, event.id)
        return
    if event is not None:
        try:
            _complete(client, blobs, case.id, event, files)
            return
        except HubeeAuthRefused:
            raise
        except HubeeRejected as exc:
            logger.warning("hubee: event %s cannot be resumed, deposit made again: %s", event.id, exc)
            client.delete_event(case.id, event.id)
            case = client.get_case(case.id, lite=True)
    event = client.create_event(case.id, body_of(case.status))
    try:
        _complete(client, blobs, case.id, event, files)
    except HubeeAuthRefused:
        raise
    except HubeeRejected:
        _discard(client, case.id, event.id)
        raise


def _complete(
    client: HubeeClient, blobs: BlobStore, case_id: str, event: wire.Event, files: Sequence[OutgoingFile]
) -> None:
    """Upload the binaries of `event` not RECEIVED yet, then release it (SENT)."""
    for att, file in _pair(event, files):
        if att.status == wire.ATTACHMENT_RECEIVED:
            continue
        client.upload_event_attachment(
            case_id,
            event.id,
            att.id,
            partial(blobs.iter_chunks, file.sha256),
            size=file.size,
            sha256=file.sha256,
        )
        logger.info("hubee: %s uploaded (%d bytes) to event %s", att.id, file.size, event.id)
    client.finish_event(case_id, event.id)


def _pair(event: wire.Event, files: Sequence[OutgoingFile]) -> list[tuple[wire.Attachment, OutgoingFile]]:
    """Each declared attachment with its file, in declaration order, checked by size (the platform
    may rename a file, never resize it)."""
    attachments = event.attachments
    if len(attachments) != len(files) or any(
        a.size != f.size for a, f in zip(attachments, files, strict=True)
    ):
        raise CannotResume(
            f"HubEE événement {event.id} : {len(attachments)} pièce(s) déclarée(s) ne correspondant pas "
            f"aux {len(files)} document(s) du retour"
        )
    return list(zip(attachments, files, strict=True))


def _discard(client: HubeeClient, case_id: str, event_id: str) -> None:
    """Delete a refused deposit (best effort: a retry would find and resume it anyway)."""
    try:
        client.delete_event(case_id, event_id)
    except HubeeError as exc:
        logger.warning("hubee: refused deposit %s could not be deleted: %s", event_id, exc)
