"""HubeeChannel: télédossiers from HubEE's notification queue into dossiers, statuses back as events.

One synchronisation reads the queue of the connector's démarche by batches of `notifications_batch`
until nothing new comes (research §7: a queue, not a list), handling the télédossiers of a batch in
parallel (`workers`) and the notifications of one télédossier in order, the new case first (`intake`).
Notifications of other démarches sharing the queue are never touched. Returns are STATUS_UPDATE events,
or ATTACH_DEPOSIT events when they carry documents (`send_return`, `returns`), found again by their
marker when a retry follows a lost answer.

The connector keeps a small state in its cursor: notifications held for a configuration problem (so
that each is journaled once) and consecutive failed runs; after `down_after` of them it is "down":
`check()` says why and the journal says when it went down and when it came back.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import httpx

from aiguilleur.connectors.base import Capability, ConnectorInfo, Health, HubContext, RunContext
from aiguilleur.connectors.hubee import mapping, returns, wire
from aiguilleur.connectors.hubee.client import HubeeClient
from aiguilleur.connectors.hubee.config import HubeeConfig
from aiguilleur.connectors.hubee.deposit import Deposit
from aiguilleur.connectors.hubee.errors import HubeeRejected
from aiguilleur.connectors.hubee.intake import HELD, LEFT, REJECTED, Handled, Intake
from aiguilleur.domain.statuses import Status
from aiguilleur.errors import AiguilleurError, AuthError, NotFound, PermanentError
from aiguilleur.store.outbox import OutboxItem
from aiguilleur.store.views import DocumentView

logger = logging.getLogger(__name__)

MAX_RESULT = 1000  # however many notifications are held, one GET stays reasonable
FOREIGN = "foreign"


def _nothing(_stored: str) -> None:
    """The default `on_stored` hook."""


class HubeeChannel:
    """The HubEE channel of seed 001: see the module docstring."""

    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="hubee",
        title="HubEE (télédossiers des services de l'État)",
        config_model=HubeeConfig,
        capabilities=frozenset({Capability.POLL, Capability.ACK, Capability.STATUS_RETURN}),
    )

    def __init__(
        self,
        name: str,
        settings: HubeeConfig,
        context: HubContext,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.settings = settings
        self.context = context
        self.client = HubeeClient(settings, transport=transport, sleep=sleep, clock=clock)
        self.deposit = (
            Deposit(context.resolve(settings.deposit_dir), context.blobs, name)
            if settings.deposit_dir is not None
            else None
        )
        # Called once a télédossier is stored, before its notification is deleted (crash tests).
        self.on_stored: Callable[[str], None] = _nothing
        self.intake = Intake(name, settings, context, self.client, self.deposit, self._stored)

    def _stored(self, stored: str) -> None:
        self.on_stored(stored)

    def close(self) -> None:
        self.client.close()

    # -- health --------------------------------------------------------------------------------------

    def check(self) -> Health:
        """Whether the deposit folder can be written and the connector is not down (and why)."""
        problems = []
        if self.deposit is not None and (problem := self.deposit.check()) is not None:
            problems.append(problem)
        state = self.context.store.cursors.get(self.name)
        if state.get("down"):
            problems.append(f"en panne depuis {state.get('down_since')} : {state['down']}")
        elif state.get("failures"):
            detail = f"{state['failures']} synchronisation(s) en échec d'affilée : {state.get('last_error')}"
            return Health(is_ok=not problems, detail="; ".join([*problems, detail]))
        return Health(is_ok=not problems, detail="; ".join(problems))

    def _record_failure(self, reason: str) -> None:
        cursors, journal = self.context.store.cursors, self.context.store.journal
        state = cursors.get(self.name)
        state["failures"] = int(state.get("failures", 0)) + 1
        state["last_error"] = reason[:500]
        if state["failures"] >= self.settings.down_after and not state.get("down"):
            state["down"], state["down_since"] = reason[:500], self.context.now().isoformat()
            journal.write(
                "connector-down",
                f"Connecteur {self.name} en panne après {state['failures']} synchronisations en échec : "
                f"{reason}",
                connector=self.name,
            )
            logger.error("hubee %s: down after %d failed runs: %s", self.name, state["failures"], reason)
        cursors.save(self.name, state)

    def _record_success(self) -> None:
        cursors = self.context.store.cursors
        state = cursors.get(self.name)
        if not state.get("failures") and not state.get("down"):
            return
        if state.get("down"):
            self.context.store.journal.write(
                "connector-up", f"Connecteur {self.name} rétabli", connector=self.name
            )
            logger.info("hubee %s: back up", self.name)
        for key in ("failures", "last_error", "down", "down_since"):
            state.pop(key, None)
        cursors.save(self.name, state)

    # -- poll ----------------------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> None:
        """One synchronisation: the démarche's queue until nothing new comes (see the module docstring).

        Raises AuthError (credentials or token refused) and TransientError (HubEE unreachable after
        the retries); the notifications not handled yet stay in the queue for the next run.
        """
        if self.deposit is not None:
            self.deposit.root.mkdir(parents=True, exist_ok=True)
        try:
            self._poll(ctx)
        except (AiguilleurError, OSError) as exc:
            self._record_failure(str(exc) or type(exc).__name__)
            raise
        self._record_success()

    def _poll(self, ctx: RunContext) -> None:
        cfg = self.settings
        seen: set[str] = set()
        left: set[str] = set()  # handled or foreign, but staying in the queue
        held: dict[str, str] = {}
        finished = False
        try:
            while not ctx.stopping.is_set():
                batch = self.client.list_notifications(
                    max_result=min(cfg.notifications_batch + len(left), MAX_RESULT),
                    process_codes=[cfg.process_code],
                )
                fresh: dict[str, wire.Notification] = {}
                for note in batch:
                    if note.id in seen or note.id in fresh:
                        continue  # listed twice, or left in the queue on purpose earlier in this run
                    if note.process_code != cfg.process_code:
                        seen.add(note.id)
                        left.add(note.id)  # another démarche's: never ours to delete
                        ctx.report.count(FOREIGN)
                        continue
                    fresh[note.id] = note
                if not fresh:
                    break
                seen.update(fresh)
                for result in self._handle_batch(list(fresh.values()), ctx):
                    self._report(result, ctx)
                    if result.outcome in LEFT:
                        left.add(result.notification_id)
                        if result.outcome == HELD:
                            held[result.notification_id] = result.reason
            finished = True
        finally:
            self._journal_held(held, complete=finished)

    def _handle_batch(self, notes: list[wire.Notification], ctx: RunContext) -> list[Handled]:
        """Télédossiers in parallel, the notifications of each in order: its new case, then its events
        by date. Raises the first AuthError or TransientError once the others are done."""
        groups: dict[str, list[wire.Notification]] = defaultdict(list)
        for note in notes:
            groups[note.case_id or note.id].append(note)
        ordered = [
            sorted(group, key=lambda n: (not n.is_new_case, n.date_time is None, n.date_time or 0))
            for group in groups.values()
        ]

        def work(group: list[wire.Notification]) -> list[Handled]:
            done = []
            for note in group:
                if ctx.stopping.is_set():
                    break
                done.append(self.intake.handle(note))
            return done

        results: list[Handled] = []
        failure: BaseException | None = None
        if self.settings.workers == 1 or len(ordered) == 1:
            for group in ordered:
                results += work(group)
            return results
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix=f"hubee-{self.name}") as pool:
            for future in [pool.submit(work, group) for group in ordered]:
                try:
                    results += future.result()
                except AuthError as exc:
                    failure = exc  # credentials first: that is what the run must report
                except AiguilleurError as exc:
                    if failure is None:
                        failure = exc
        if failure is not None:
            raise failure
        return results

    def _report(self, result: Handled, ctx: RunContext) -> None:
        ctx.report.count(result.outcome)
        for error in result.errors:
            ctx.report.error(error)
        if result.outcome == HELD and not result.errors:
            ctx.report.error(f"notification {result.notification_id} laissée en attente : {result.reason}")

    def _journal_held(self, held: dict[str, str], *, complete: bool) -> None:
        """Journal each held notification once ("rejected", the error queue), not at every run.

        A run that went through the whole queue forgets the notifications no longer held; an
        interrupted one only adds.
        """
        cursors = self.context.store.cursors
        state = cursors.get(self.name)
        before: dict[str, Any] = state.get("held", {})
        if not complete:
            held = {**before, **held}
        for note_id, reason in held.items():
            if note_id not in before:
                self.context.store.journal.write(
                    REJECTED,
                    f"Notification HubEE {note_id} en attente : {reason}",
                    connector=self.name,
                    data={"notification_id": note_id},
                )
        if held != before:
            state["held"] = held
            cursors.save(self.name, state)

    # -- returns -------------------------------------------------------------------------------------

    def send_return(self, item: OutboxItem) -> None:
        """Tell HubEE a status change: a STATUS_UPDATE event with the mapped status and the comment,
        or, when the return carries documents, an ATTACH_DEPOSIT event with them (`returns`).

        Idempotent: the event carries a marker of this return, so a retry after a lost answer finds the
        event already there and sends nothing (or finishes the deposit). Status 14 is told at reception
        by the minimal status. Raises PermanentError when HubEE refuses the change or the documents (a
        transition its workflow forbids, files the démarche does not accept, a case gone), AuthError
        when it refuses our credentials, TransientError when it cannot be reached.
        """
        payload = item.payload
        status = mapping.status_for_return(
            item.code, payload.get("previous_code"), payload.get("is_automatic", False)
        )
        if status is None and not item.document_ids:
            logger.info(
                "hubee %s: return %d (status %d) has nothing to tell HubEE", self.name, item.id, item.code
            )
            return
        told = item.code == Status.IMPORTED and item.dossier_id in self.intake.told_imported
        if told:
            self.intake.told_imported.discard(item.dossier_id)  # told at reception, moments ago
            if not item.document_ids:
                return
        dossier = self.context.store.dossiers.get(item.dossier_id, None)
        hubee = dossier.data.get("hubee")
        case_id = hubee.get("case_id") if isinstance(hubee, dict) else None
        if not isinstance(case_id, str):
            raise PermanentError(f"hubee {self.name}: dossier {item.external_id} has no HubEE case id")
        files = self._outgoing(item, dossier.documents)
        what = f"statut {status} pour le télédossier {item.external_id}"
        try:
            case = self.client.get_case(case_id)
            marker = mapping.return_marker(item.id, item.status_change_id)
            if item.code == Status.IMPORTED and (told or mapping.minimal_covers_imported(case)):
                status = None  # already told: the documents go without a status change
            if files:
                what = f"dépôt de {', '.join(f.file_name for f in files)} ({what})"
                self._deposit(case, marker, files, status, item.comment)
            elif mapping.has_marked_event(case, marker):
                logger.info("hubee %s: return %d was sent already (event found)", self.name, item.id)
                return
            elif status is not None:
                body = mapping.status_event(
                    status,
                    author=self.settings.event_author,
                    message=item.comment,
                    marker=marker,
                    current=case.status,
                )
                self.client.create_event(case_id, body)
        except AuthError as exc:
            self._record_failure(str(exc))
            raise
        except HubeeRejected as exc:
            raise HubeeRejected(f"{exc} ({what})", status=exc.status) from exc
        logger.info("hubee %s: case %s -> %s (return %d)", self.name, item.external_id, status, item.id)

    def _outgoing(self, item: OutboxItem, documents: Sequence[DocumentView]) -> list[mapping.OutgoingFile]:
        """The return's documents as files to declare, sized from the blob store (what is uploaded)."""
        wanted = set(item.document_ids)
        found = [d for d in documents if d.id in wanted]
        if len(found) != len(wanted):
            raise PermanentError(f"hubee {self.name}: documents du retour {item.id} introuvables")
        try:
            sizes = [self.context.blobs.size(d.sha256) for d in found]
        except NotFound as exc:
            raise PermanentError(
                f"hubee {self.name}: un document du retour {item.id} est absent du stockage"
            ) from exc
        return mapping.outgoing_files(
            (d.name, d.role, d.media_type, size, d.sha256) for d, size in zip(found, sizes, strict=True)
        )

    def _deposit(
        self,
        case: wire.Case,
        marker: str,
        files: list[mapping.OutgoingFile],
        status: str | None,
        comment: str,
    ) -> None:
        def body_of(current: str) -> dict[str, Any]:
            new = None if status == current else status  # a deposit made again: the status is there
            return mapping.deposit_event(
                new, files, author=self.settings.event_author, message=comment, marker=marker, current=current
            )

        returns.send_documents(self.client, self.context.blobs, case, marker, files, body_of)
