"""What one notification of the queue does, at least once and idempotently (research §7, seed 001).

A new télédossier (``eventId`` null): read the case, download every attachment into the blob store
(size and ``digest`` checked), store the dossier (or deposit the files), send the minimal status, and
only then delete the notification. Binaries may be purged once the case reaches some status (research
§6.5): nothing changes the status before every file is safe.

An event: the sender's message goes to the dossier's journal, its deposited files join the dossier as
a new version, its status changes (CLOSED, a reopening) are journaled; each is acknowledged (PATCH
RECEIVED) and its notification deleted. The echo of an event of ours that the sender acknowledged is
simply deleted.

Crash safety: the dossier is keyed by the case (``message_id``), events by their id, and every event we
post carries a marker found again after a crash, so replaying a notification creates nothing twice.
A télédossier that cannot be integrated (attachment corrupted after retries or purged, unreadable
business file) is reported to the sender (SI_INTG_ERROR with the reason), journaled as "rejected" for
the error queue, and its notification deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiguilleur.connectors.base import HubContext
from aiguilleur.connectors.hubee import mapping, wire
from aiguilleur.connectors.hubee.attachments import Attachments, IntegrationFailure
from aiguilleur.connectors.hubee.client import HubeeClient
from aiguilleur.connectors.hubee.config import HubeeConfig
from aiguilleur.connectors.hubee.deposit import Deposit
from aiguilleur.connectors.hubee.errors import (
    HubeeAuthRefused,
    HubeeNotFound,
    HubeeProtocolError,
    HubeeRejected,
)
from aiguilleur.domain.dossier import DossierIn
from aiguilleur.errors import RejectedItemError

logger = logging.getLogger(__name__)

# Outcomes of a notification. Those in LEFT stay in the queue for a later run.
IMPORTED, DUPLICATE, UPDATED = "imported", "duplicate", "updated"
EVENT, ECHO, GONE, REJECTED, HELD = "events", "echoes", "gone", "rejected", "held"
LEFT = frozenset({HELD})
_FINAL = frozenset({wire.DONE, wire.REFUSED, wire.CLOSED, wire.SI_INTG_ERROR})


class Held(Exception):
    """The notification must wait in the queue (our configuration is missing something)."""


@dataclass(slots=True)
class Handled:
    """What became of one notification; `errors` go to the run's report."""

    notification_id: str
    outcome: str
    errors: list[str] = field(default_factory=list)
    reason: str = ""  # why it was held or rejected


class Intake:
    """Handles notifications of one démarche; safe to call from several threads for different cases."""

    def __init__(
        self,
        name: str,
        config: HubeeConfig,
        context: HubContext,
        client: HubeeClient,
        deposit: Deposit | None,
        on_stored: Callable[[str], None],
    ) -> None:
        self.name = name
        self.config = config
        self.context = context
        self.client = client
        self.deposit = deposit
        self.on_stored = on_stored
        self.files = Attachments(name, config, context, client)
        # Dossiers whose reception this process told HubEE: their return of 14 needs no call at all.
        self.told_imported: set[str] = set()

    # -- entry point ---------------------------------------------------------------------------------

    def handle(self, note: wire.Notification) -> Handled:
        """Handle one notification. Raises AuthError and TransientError (the run stops, the
        notification stays); everything else ends in a `Handled`."""
        result = Handled(note.id, "")
        try:
            if note.case_id is None:
                raise Held("notification sans télédossier (caseId absent)")
            if note.is_new_case:
                case = self._get_case(note.case_id)
                if case is None:
                    result.outcome = self._gone(note)
                else:
                    result.outcome = self._new_case(note, case, result)
            else:
                result.outcome = self._event(note, note.case_id, note.event_id or "", result)
        except RejectedItemError as exc:
            failure = exc if isinstance(exc, IntegrationFailure) else IntegrationFailure(str(exc))
            result.outcome, result.reason = REJECTED, failure.reason
            self._reject(note, failure, result)
        except Held as held:
            result.outcome, result.reason = HELD, str(held)
        except HubeeAuthRefused:
            raise
        except (HubeeRejected, HubeeProtocolError) as exc:  # the platform will answer the same: wait
            result.outcome, result.reason = HELD, str(exc)
            result.errors.append(f"notification {note.id} laissée en attente : {exc}")
        return result

    # -- new télédossier -----------------------------------------------------------------------------

    def _new_case(self, note: wire.Notification, case: wire.Case, result: Handled) -> str:
        outcome, dossier_id = self._store_case(case, origin=f"HubEE, notification {note.id}")
        if self._post_progress(case, result) and dossier_id is not None:
            self.told_imported.add(dossier_id)
        self.client.delete_notification(note.id)
        logger.info("hubee %s: case %s %s", self.name, mapping.external_id(case), outcome)
        return outcome

    def _store_case(self, case: wire.Case, *, origin: str) -> tuple[str, str | None]:
        """Download and store (or deposit) a télédossier; returns (outcome, dossier id)."""
        store = self.context.store
        if self.config.files_only:
            assert self.deposit is not None
            if self.deposit.has_case(case):
                return DUPLICATE, None
            files = self.files.download_all(case.id, case.attachments)
            self.deposit.write_case(case, files, received_at=self.context.now())
            self.on_stored(case.id)
            return IMPORTED, None
        ref = mapping.ref_of(self.name, case)
        existing = store.dossiers.find(ref)
        if existing is not None and _case_id(store.dossiers.get(existing, None).data) == case.id:
            return DUPLICATE, existing  # a replay: the files were stored, they may be purged by now
        organisation = mapping.organisation_for(
            case.recipient, self.context.organisations, self.config.organisation
        )
        if organisation is None:
            raise Held(
                f"télédossier {ref.external_id} adressé à {case.recipient} : aucune organisation configurée "
                "n'a ce SIRET ou ce code guichet (clés siret, insee, branch_codes de [[organisations]], "
                "ou organisation du connecteur)"
            )
        files = self.files.download_all(case.id, case.attachments)
        business, business_file = self.files.business(case.attachments, files)
        if self.deposit is not None:
            self.deposit.write_case(case, files, received_at=self.context.now())
        dossier = mapping.dossier_in(
            self.name,
            case,
            organisation,
            [mapping.to_document(att, blob) for att, blob in files],
            mapping.dossier_data(case, business, business_file),
            origin=origin,
        )
        received = store.dossiers.receive(dossier, has_returns=True)
        self.on_stored(received.dossier_id)
        return (IMPORTED if received.outcome == "created" else received.outcome), received.dossier_id

    def _post_progress(self, case: wire.Case, result: Handled) -> bool:
        """The minimal status (and, files only, the maximal one), each once (seed 001 "statuts").

        Returns True when HubEE now knows the télédossier was received (SI_RECEIVED or IN_PROGRESS
        posted by us), which is what the return of status 14 would tell.
        """
        told = mapping.minimal_covers_imported(case)
        steps: list[tuple[str | None, str]] = [(self.config.status_minimal, mapping.MINIMAL_MARKER)]
        if self.config.files_only:
            steps.append((self.config.status_maximal, mapping.MAXIMAL_MARKER))
        current = case.status
        for status, marker in steps:
            if status is None or mapping.has_marked_event(case, marker):
                continue
            if marker == mapping.MINIMAL_MARKER and case.status not in (wire.HUBEE_NOTIFIED, wire.SENT):
                continue  # already further on (a replay, or a reopened case)
            if current in _FINAL:
                continue
            if not self._post_status(case.id, status, marker, current, "", result):
                return told
            told = told or (marker == mapping.MINIMAL_MARKER and status in mapping.RECEIVED_OR_LATER)
            current = status
        return told

    def _post_status(
        self, case_id: str, status: str, marker: str, current: str | None, message: str, result: Handled
    ) -> bool:
        body = mapping.status_event(
            status, author=self.config.event_author, message=message, marker=marker, current=current
        )
        try:
            self.client.create_event(case_id, body)
        except HubeeAuthRefused:
            raise
        except HubeeRejected as exc:
            result.errors.append(f"statut {status} refusé par HubEE pour le télédossier {case_id} : {exc}")
            logger.warning("hubee %s: status %s refused on case %s: %s", self.name, status, case_id, exc)
            return False
        return True

    # -- events --------------------------------------------------------------------------------------

    def _event(self, note: wire.Notification, case_id: str, event_id: str, result: Handled) -> str:
        if note.event_status == wire.EVENT_RECEIVED:
            return self._echo(note)  # already acknowledged: ours by the sender, or theirs by us
        case = self._get_case(case_id, lite=True)
        event = self._get_event(case_id, event_id) if case is not None else None
        if case is None or event is None:
            return self._gone(note)
        if event.status == wire.EVENT_RECEIVED or mapping.is_own_event(event, case.recipient):
            return self._echo(note)
        if event.status == wire.EVENT_IN_PROGRESS:
            raise Held(f"dépôt {event.id} encore en cours d'envoi par l'émetteur")
        folder, dossier_id = self._known(case)
        if (folder if self.config.files_only else dossier_id) is None:
            # the event came before its télédossier (the queue has no order, research §7): take it now
            full = self._get_case(case_id)
            if full is None:
                return self._gone(note)
            self._store_case(full, origin=f"HubEE, événement {event.id}")
            self._post_progress(full, result)
            folder, dossier_id = self._known(case)
        try:
            if event.action_type == wire.ATTACH_DEPOSIT:
                self._deposit(case, event, folder, dossier_id)
            self._journal_event(event, folder, dossier_id)
        except IntegrationFailure as failure:
            failure.dossier_id = failure.dossier_id or dossier_id
            raise
        self._acknowledge(case_id, event, result)
        self.client.delete_notification(note.id)
        logger.info("hubee %s: event %s (%s) on case %s", self.name, event.id, event.action_type, case_id)
        return UPDATED if event.action_type == wire.ATTACH_DEPOSIT else EVENT

    def _known(self, case: wire.Case) -> tuple[Path | None, str | None]:
        """Where the télédossier already is: its deposit folder, its dossier id."""
        folder = self.deposit.find(case.id, case.external_id) if self.deposit is not None else None
        if self.config.files_only:
            return folder, None
        dossier_id = self.context.store.dossiers.find(mapping.ref_of(self.name, case))
        return folder, dossier_id

    def _deposit(
        self, case: wire.Case, event: wire.Event, folder: Path | None, dossier_id: str | None
    ) -> None:
        """ATTACH_DEPOSIT: the sender's new files join the dossier as a new version (data kept)."""
        files = self.files.download_all(case.id, event.attachments, event_id=event.id)
        if folder is not None and self.deposit is not None:
            self.deposit.add_files(folder, event, files)
        if dossier_id is None:
            return
        store = self.context.store
        detail = store.dossiers.get(dossier_id, None)
        store.dossiers.receive(
            DossierIn(
                ref=mapping.ref_of(self.name, case),
                organisation_id=detail.organisation_id,
                procedure=detail.procedure,
                data=detail.data,
                documents=tuple(mapping.to_document(att, blob) for att, blob in files),
                origin=f"dépôt de pièces HubEE {event.id}",
                message_id=f"hubee-event:{event.id}",
                title=detail.title,
            ),
            has_returns=True,
        )

    def _journal_event(self, event: wire.Event, folder: Path | None, dossier_id: str | None) -> None:
        summary = mapping.event_summary(event)
        if folder is not None and self.deposit is not None:
            self.deposit.add_event(folder, event, summary)
        if dossier_id is None:
            return
        store = self.context.store
        if any(j.data.get("hubee_event") == event.id for j in store.dossiers.get(dossier_id, None).journal):
            return  # journaled before a crash
        kind = "message" if event.action_type == wire.SENDING_MESSAGE else "peer-event"
        data = {"hubee_event": event.id, "action_type": event.action_type, "status": event.case_new_status}
        store.journal.write(
            kind, summary, dossier_id=dossier_id, connector=self.name, actor="HubEE", data=data
        )

    def _acknowledge(self, case_id: str, event: wire.Event, result: Handled) -> None:
        try:
            self.client.acknowledge_event(case_id, event.id)
        except HubeeAuthRefused:
            raise
        except HubeeRejected as exc:  # e.g. acknowledged already: the notification can go anyway
            result.errors.append(f"accusé de réception de l'événement {event.id} refusé : {exc}")

    def _echo(self, note: wire.Notification) -> str:
        self.client.delete_notification(note.id)
        return ECHO

    def _gone(self, note: wire.Notification) -> str:
        logger.warning("hubee %s: notification %s points to nothing any more", self.name, note.id)
        self.client.delete_notification(note.id)
        return GONE

    # -- HubEE reads ----------------------------------------------------------------------------------

    def _get_case(self, case_id: str, *, lite: bool = False) -> wire.Case | None:
        try:
            return self.client.get_case(case_id, lite=lite)
        except HubeeNotFound:
            return None

    def _get_event(self, case_id: str, event_id: str) -> wire.Event | None:
        try:
            return self.client.get_event(case_id, event_id)
        except HubeeNotFound:
            return None

    # -- integration failures ------------------------------------------------------------------------

    def _reject(self, note: wire.Notification, failure: IntegrationFailure, result: Handled) -> None:
        """Tell the sender (SI_INTG_ERROR with the reason), journal for the error queue, let it go."""
        reason, dossier_id = failure.reason, failure.dossier_id
        case = self._get_case(note.case_id or "") if note.case_id else None
        external = mapping.external_id(case) if case is not None else (note.case_id or "?")
        if case is not None:
            marker = f"{mapping.INTEGRATION_MARKER}:{note.id}"
            if not mapping.has_marked_event(case, marker) and case.status != wire.CLOSED:
                self._post_status(case.id, wire.SI_INTG_ERROR, marker, case.status, reason, result)
        self.context.store.journal.write(
            "rejected",
            f"Télédossier HubEE {external} non intégré : {reason}",
            dossier_id=dossier_id,
            connector=self.name,
            data={"case_id": note.case_id, "event_id": note.event_id, "notification_id": note.id},
        )
        if case is not None and note.event_id is not None:
            event = self._get_event(case.id, note.event_id)
            if event is not None and event.status == wire.EVENT_SENT:
                self._acknowledge(case.id, event, result)
        self.client.delete_notification(note.id)
        result.errors.append(f"télédossier {external} non intégré : {reason}")
        logger.warning("hubee %s: case %s rejected: %s", self.name, external, reason)


def _case_id(data: dict[str, Any]) -> str | None:
    hubee = data.get("hubee")
    return hubee.get("case_id") if isinstance(hubee, dict) else None
