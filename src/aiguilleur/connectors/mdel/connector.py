"""MdelChannel: demand zips from the input directory into dossiers, returns as zips in the output directory.

One synchronisation (seed 002 §II): create the directories, resume what a crash left in the work
directory, import every ready file of the input directory, and write one log file in the log
directory. Returns are delivered by the engine through `send_return`.

With `sftp_pull`, each run first fetches the portal's demand zips into the input directory: a file is
removed from the server only once its local copy is complete, synced and of the remote size (a crash in
between fetches it again, and the import recognises it as already received). With `sftp_push`, each
return zip is also uploaded as ``<name>.part`` then renamed; it counts as transmitted only then.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from aiguilleur.connectors.base import Capability, ConnectorInfo, Health, HubContext, RunContext
from aiguilleur.connectors.mdel.config import MdelConfig, SftpEndpoint
from aiguilleur.connectors.mdel.importer import (
    REJECTED,
    Directories,
    ImportResult,
    Prepared,
    claim,
    import_group,
    prepare,
    remove_orphans,
)
from aiguilleur.connectors.mdel.names import return_zip_name
from aiguilleur.connectors.mdel.pipeline import DoneMoves, in_groups
from aiguilleur.connectors.mdel.returns import build_return_message, return_message_id, write_return_zip
from aiguilleur.errors import AuthError, NotFound, PermanentError, TransientError
from aiguilleur.store.outbox import OutboxItem, ReturnMaterial
from aiguilleur.transport.archives import ArchiveLimits
from aiguilleur.transport.files import Readiness, ReadinessTracker, atomic_write
from aiguilleur.transport.sftp import RemoteFile, SftpError, SftpRejected, SftpSession, SftpTarget

logger = logging.getLogger(__name__)

PULLED = "pulled"
PULL_FAILED = "pull_failed"


class MdelPushRefused(TransientError):
    """The portal refused the upload of a return (rights on its folder, folder missing).

    Transient for the engine: the account's setup is at fault, not the return, which stays pending
    and is sent once the portal side is fixed (or given up after the connector's `max_attempts`).
    """


class MdelChannel:
    """The MDEL channel of seed 002: see the module docstring."""

    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="mdel",
        title="Ma démarche en ligne (MDEL)",
        config_model=MdelConfig,
        capabilities=frozenset({Capability.POLL, Capability.STATUS_RETURN}),
    )

    def __init__(self, name: str, settings: MdelConfig, context: HubContext) -> None:
        self.name = name
        self.settings = settings
        self.context = context
        self.dirs = Directories(
            input=context.resolve(settings.input_dir),
            work=context.resolve(settings.work_dir),
            output=context.resolve(settings.output_dir),
            error=context.resolve(settings.error_dir),
            done=context.resolve(settings.done_dir),
            log=context.resolve(settings.log_dir),
            attachments=(
                context.resolve(settings.attachments_dir) if settings.attachments_dir is not None else None
            ),
        )
        self.limits = ArchiveLimits(
            max_members=settings.max_members, max_total_bytes=settings.max_total_bytes
        )
        # Kept between runs: a file seen growing at one scan is read only once it stopped changing.
        self.tracker = ReadinessTracker(
            Readiness(min_age_s=settings.min_age, marker_suffix=settings.marker_suffix)
        )
        self.pull_target = self._target(settings.sftp_pull)
        self.push_target = self._target(settings.sftp_push)

    def _target(self, endpoint: SftpEndpoint | None) -> SftpTarget | None:
        if endpoint is None:
            return None
        return SftpTarget.from_url(
            endpoint.url,
            key_file=self.context.resolve(endpoint.key_file),
            known_hosts=self.context.resolve(endpoint.known_hosts),
            timeout_s=endpoint.timeout_s,
        )

    def check(self) -> Health:
        """Whether every directory exists and is writable, and the SFTP key files are readable."""
        problems = [
            f"{path} : {'absent' if not path.is_dir() else 'non accessible en écriture'}"
            for path in self.dirs.all()
            if not (path.is_dir() and os.access(path, os.W_OK | os.X_OK))
        ]
        targets = [target for target in (self.pull_target, self.push_target) if target is not None]
        key_files = dict.fromkeys(
            path for target in targets for path in (target.key_file, target.known_hosts)
        )
        problems += [
            f"{path} : {'absent' if not path.is_file() else 'illisible'}"
            for path in key_files
            if not (path.is_file() and os.access(path, os.R_OK))
        ]
        return Health(is_ok=not problems, detail="; ".join(problems))

    # -- import ----------------------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> None:
        """One synchronisation: resume the work directory, import the ready input files, write the log."""
        for path in self.dirs.all():
            path.mkdir(parents=True, exist_ok=True)
        started = self.context.now()
        results: list[ImportResult] = []
        failure: str | None = None
        moves = DoneMoves(self.dirs.done)
        try:
            if self.pull_target is not None and not ctx.stopping.is_set():
                self._pull(self.pull_target, ctx)
            remove_orphans(self.dirs.work)

            def receive(group: list[Prepared]) -> None:
                results.extend(self._import(group, ctx, moves))
                moves.flush()

            leftovers = sorted(p for p in self.dirs.work.iterdir() if _is_leftover(p))
            in_groups(leftovers, self._resume, receive, stopping=ctx.stopping, name=f"mdel-{self.name}")
            now = self.context.now().timestamp()
            ready = self.tracker.ready_files(self.dirs.input, now=now)
            in_groups(ready, self._claim, receive, stopping=ctx.stopping, name=f"mdel-{self.name}")
        except BaseException as exc:
            failure = f"{type(exc).__name__}: {exc}"
            with suppress(OSError):  # what is left in work too is resumed, as a duplicate, next time
                moves.flush()
            raise
        finally:
            self._write_sync_log(ctx, started, results, failure)

    # -- SFTP pull -------------------------------------------------------------------------------------

    def _pull(self, target: SftpTarget, ctx: RunContext) -> None:
        """Fetch the demand zips of the portal's folder into the input directory (1).

        A file that fails is reported and left on the server for the next run; the others go on. A server
        out of reach is reported and the run goes on with what the input directory holds. Raises the
        AuthError (key, host key or key file refused): the run fails, nothing can be fetched.
        """
        try:
            with SftpSession(target, source=f"mdel {self.name} sftp_pull") as session:
                for remote in session.list_files():
                    if ctx.stopping.is_set():
                        break
                    if not _is_demand_name(remote.name):
                        continue
                    self._pull_one(session, remote, ctx)
                    if not session.is_connected:
                        ctx.report.error(
                            "connexion SFTP perdue : la suite sera récupérée au prochain passage"
                        )
                        break
        except AuthError:
            raise
        except SftpError as exc:
            ctx.report.error(
                f"récupération SFTP impossible ({exc}) : les demandes attendront le prochain passage"
            )

    def _pull_one(self, session: SftpSession, remote: RemoteFile, ctx: RunContext) -> None:
        path = session.target.remote(remote.name)
        local = self.dirs.input / remote.name
        # The copy is complete once renamed into place: date it so that the readiness check does not
        # make it wait `min_age` (the remote date when older, as it tells when the portal deposited it).
        ready_at = self.context.now().timestamp() - self.settings.min_age
        mtime = min(remote.mtime, ready_at) if remote.mtime > 0 else ready_at
        try:
            session.download(path, local, mtime=mtime)
        except AuthError:
            raise
        except SftpError as exc:
            ctx.report.count(PULL_FAILED)
            ctx.report.error(f"{remote.name} : récupération SFTP en échec, laissé sur le serveur ({exc})")
            return
        if self.settings.marker_suffix is not None:
            atomic_write(Path(f"{local}{self.settings.marker_suffix}"), b"")
        ctx.report.count(PULLED)
        try:
            session.remove(path)
        except AuthError:
            raise
        except SftpError as exc:
            ctx.report.error(
                f"{remote.name} : récupéré mais pas supprimé du serveur ({exc}) ; il sera récupéré de "
                "nouveau et reconnu comme déjà reçu"
            )

    # -- import ----------------------------------------------------------------------------------------

    # The first half of an import, in a worker thread (see pipeline.in_groups): no database access.

    def _claim(self, path: Path) -> Prepared:
        work_path = claim(path, self.dirs)
        if self.settings.marker_suffix is not None:
            Path(f"{path}{self.settings.marker_suffix}").unlink(missing_ok=True)
        return self._read(work_path)

    def _resume(self, work_path: Path) -> Prepared:
        logger.info("mdel %s: resuming %s left in the work directory", self.name, work_path.name)
        return self._read(work_path)

    def _read(self, work_path: Path) -> Prepared:
        if not work_path.name.lower().endswith(".zip"):
            reason = f"{work_path.name} : ce n'est pas un zip de demande (<Numéro>-<Flux>-<n>.zip attendu)"
            return Prepared(work_path, None, reason)
        return prepare(work_path, connector=self.name, context=self.context, limits=self.limits)

    # The second half, in the run's thread, in the order of the files.

    def _import(self, group: list[Prepared], ctx: RunContext, moves: DoneMoves) -> list[ImportResult]:
        results = import_group(group, connector=self.name, context=self.context, dirs=self.dirs, moves=moves)
        for result in results:
            if result.is_rejected:
                ctx.report.count(REJECTED)
                ctx.report.error(result.reason or result.name)
            else:
                ctx.report.count("imported" if result.outcome == "created" else result.outcome)
        return results

    def _write_sync_log(
        self, ctx: RunContext, started: datetime, results: list[ImportResult], failure: str | None
    ) -> None:
        """One log file per synchronisation (seed 002 §II, directory 6), published atomically."""
        started = started.astimezone(UTC)
        lines = [
            f"Synchronisation {ctx.run_id} du connecteur {self.name} ({started.isoformat()})",
            "",
            "Fichiers :",
        ]
        lines += [f"  {r.name} : {_fate(r)}" for r in results] or ["  aucun fichier à traiter"]
        lines += ["", "Bilan :"]
        lines += [f"  {k} : {v}" for k, v in sorted(ctx.report.counts.items())] or ["  rien"]
        if ctx.report.errors:
            lines += ["", "Erreurs :"] + [f"  {e}" for e in ctx.report.errors]
        if failure is not None:
            lines += ["", f"Synchronisation interrompue par une erreur : {failure}"]
        if ctx.stopping.is_set():
            lines += ["", "Synchronisation arrêtée avant la fin (arrêt demandé)."]
        name = f"sync-{started.strftime('%Y%m%dT%H%M%SZ')}-{ctx.run_id}.log"
        try:
            atomic_write(self.dirs.log / name, ("\n".join(lines) + "\n").encode())
        except OSError:
            logger.exception("mdel %s: could not write the synchronisation log %s", self.name, name)

    # -- returns ---------------------------------------------------------------------------------------

    def send_return(self, item: OutboxItem) -> None:
        """Write the return zip ``<Numero>-<FlowType>-<increment>.zip`` into the output directory (3).

        With `sftp_push`, upload it too (``.part`` then renamed): the return is transmitted only once
        this succeeded. Raises PermanentError when the dossier is not an MDEL demand we can answer
        (unknown flow or number), an AuthError when the portal refuses our key or its host key is not
        the pinned one (the run fails, the return stays pending), a TransientError when the portal is
        out of reach or refuses the upload; an OSError (disk full…) is retried by the engine. A retry
        sends the same file name: the increment is only taken once a return is sent.
        """
        (outcome,) = self.send_returns([item])
        if outcome is not None:
            raise outcome

    def send_returns(self, items: Sequence[OutboxItem]) -> list[Exception | None]:
        """`send_return` for several returns (each of another dossier), with two syncs in all (`GroupSync`).

        Every zip is written under a temporary name, the contents synced, each renamed into place,
        the names synced; then, with `sftp_push`, they are uploaded in one SFTP session. Returns each
        one's outcome: None when sent, else the error `send_return` would raise.
        """
        outcomes: list[Exception | None] = [None] * len(items)
        staged: list[tuple[int, Path, Path]] = []  # index, temporary file, final path
        self.dirs.output.mkdir(parents=True, exist_ok=True)
        materials = self.context.store.outbox.material_many(items)
        for index, (item, material) in enumerate(zip(items, materials, strict=True)):
            try:
                if isinstance(material, NotFound):
                    raise material
                staged.append((index, *self._write_return(item, material)))
            except Exception as exc:  # noqa: BLE001 - the item's outcome, judged by the engine
                outcomes[index] = exc
        written: list[tuple[int, Path]] = []
        sync = self.context.sync
        try:
            if staged:
                sync.contents(self.dirs.output, [tmp for _, tmp, _ in staged])
            for index, tmp, final in staged:
                # Replace, never a new name: a file already there is this very return, written by an
                # attempt that crashed before the outbox recorded it as sent (same increment, same bytes).
                os.replace(tmp, final)
                written.append((index, final))
                logger.info(
                    "mdel %s: return %s written (status %d)", self.name, final.name, items[index].code
                )
            if written:
                sync.names(self.dirs.output, [self.dirs.output])
        except OSError as exc:
            for index, tmp, _ in staged:
                tmp.unlink(missing_ok=True)
                outcomes[index] = exc
            return outcomes
        if self.push_target is not None and written:
            self._push(self.push_target, written, outcomes)
        return outcomes

    def _write_return(self, item: OutboxItem, material: ReturnMaterial) -> tuple[Path, Path]:
        """Write an item's return zip under a fixed temporary name; returns it and the final path."""
        numero, flow_type = item.external_id, item.procedure
        increment = self._increment(material.sent_before)
        try:
            zip_name = return_zip_name(numero, flow_type, increment)
            message = build_return_message(
                material.data.get("header_xml"),
                numero,
                flow_type,
                item.code,
                item.comment,
                return_message_id(numero, flow_type, increment),
            )
        except ValueError as exc:
            raise PermanentError(f"mdel {self.name}: return {item.id} of {numero}: {exc}") from exc
        documents = [(name, self.context.blobs.path(sha)) for name, sha in material.documents]
        # a fixed temporary name: an attempt killed mid-write leaves a file the retry overwrites
        tmp = self.dirs.output / f".{zip_name}.part"
        # dated by the status change, not the attempt, so that a retry writes the very same bytes
        at = item.payload.get("at")
        changed_at = datetime.fromisoformat(at) if at else self.context.now()
        write_return_zip(tmp, message, documents, modified_at=changed_at)  # removes `tmp` if it fails
        return tmp, self.dirs.output / zip_name

    def _push(
        self, target: SftpTarget, written: list[tuple[int, Path]], outcomes: list[Exception | None]
    ) -> None:
        """Upload return zips into the portal's folder, in one session (see `send_return` for the errors).

        Once the session fails (connection lost, key refused), the zips not uploaded yet get its error.
        """
        source = f"mdel {self.name} sftp_push"
        pending = list(written)
        try:
            with SftpSession(target, source=source) as session:
                while pending:
                    index, path = pending[0]
                    try:
                        session.upload(path, target.path, path.name)
                    except SftpError as exc:  # this file only, while the session lives on
                        if isinstance(exc, AuthError) or not session.is_connected:
                            raise
                        outcomes[index] = _refused(exc, source) if isinstance(exc, SftpRejected) else exc
                    pending.pop(0)
        except SftpRejected as exc:
            failure: Exception = exc if isinstance(exc, AuthError) else _refused(exc, source)
            for index, _ in pending:
                outcomes[index] = failure
        except Exception as exc:  # noqa: BLE001 - the outcome of those not uploaded, judged by the engine
            for index, _ in pending:
                outcomes[index] = exc

    def _increment(self, sent_before: int) -> int:
        """The increment of a return: 1 + the number of returns of the dossier already sent.

        Why derived rather than stored: the outbox hands out at most one return per dossier at a time
        and never lets a later one overtake an earlier one, and a return is marked sent only after
        `send_return` published its file. So this count is the same at every retry of an item, even
        after a crash between publishing and marking sent (the file is then replaced by identical
        bytes): increments never repeat. A return given up (dead) never published a file and is not
        counted, so the next one takes its number: increments never skip. A counter kept in a cursor
        would have to be pruned and updated in its own transaction, and would skip a number for
        every return given up.
        """
        return sent_before + 1


def _is_demand_name(name: str) -> bool:
    """A remote name worth fetching: a visible ``.zip`` that is a plain file name (no temporary suffix)."""
    return name.lower().endswith(".zip") and not name.startswith(".") and not any(c in name for c in "/\\\0")


def _is_leftover(path: Path) -> bool:
    """A file the previous run moved into the work directory but did not finish with."""
    return not path.name.startswith(".") and path.is_file() and not path.is_symlink()


def _fate(result: ImportResult) -> str:
    if result.is_rejected:
        return f"refusé, déplacé dans {result.final_path.parent} ({result.reason})"
    words = {
        "created": "importé, nouveau dossier",
        "updated": f"importé, version {result.version} du dossier",
        "duplicate": "déjà reçu, rien de nouveau",
    }
    return f"{words.get(result.outcome, result.outcome)}, déplacé dans {result.final_path.parent}"


def _refused(exc: SftpRejected, source: str) -> MdelPushRefused:
    return MdelPushRefused(f"{exc} (le retour reste en attente)", peer=exc.peer, source=source)
