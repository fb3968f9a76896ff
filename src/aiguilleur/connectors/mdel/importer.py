"""Importing one demand zip (seed 002 §II, import diagram): work (2), checks, store, done (5) or error (4).

The original is first moved from the input directory to the work directory by an atomic rename, so
that a crash never leaves it half-processed in the input. The zip is read once, without extracting it:
its members are checked as they stream (`stream_zip`) straight into a batch of the blob store, the XML
files to parse being kept in memory as they pass (capped). Nothing is published in the blob store
until every check of the zip and its XML has passed, and the blobs are durable before the receipt
that refers to them is committed; the receipt is idempotent by MessageId, so a file found in the work
directory at the start of a run (left by a crash) is simply imported again.

An import is two halves: `prepare` (files only, no database, no sync) and `import_group` (the blobs
made durable, the receipt, then the move to done or error), so that the channel reads the next zips
while it receives the previous ones, by groups (see `pipeline`).
"""

from __future__ import annotations

import logging
import mimetypes
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiguilleur.connectors.base import HubContext
from aiguilleur.connectors.mdel.flows import read_business_xml
from aiguilleur.connectors.mdel.members import MESSAGE_NAME, Members
from aiguilleur.connectors.mdel.names import parse_demand_name
from aiguilleur.connectors.mdel.pipeline import DoneMoves
from aiguilleur.connectors.mdel.wire import (
    Demand,
    Entete,
    check_consistency,
    read_entete,
    read_message,
    redact_secrets,
)
from aiguilleur.domain.dossier import DocumentIn, DossierIn, ExternalRef
from aiguilleur.errors import RejectedItemError
from aiguilleur.store.blobs import BlobBatch
from aiguilleur.store.dossiers import Received
from aiguilleur.transport.archives import ArchiveLimits, stream_zip
from aiguilleur.transport.files import (
    atomic_move,
    atomic_write,
    atomic_write_stream,
    safe_filename,
)
from aiguilleur.transport.xml import parse_xml

logger = logging.getLogger(__name__)

REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Directories:
    """The resolved directories of one MDEL channel."""

    input: Path
    work: Path
    output: Path
    error: Path
    done: Path
    log: Path
    attachments: Path | None = None  # (7): a copy of the citizen's attachments outside the database

    def all(self) -> tuple[Path, ...]:
        extra = () if self.attachments is None else (self.attachments,)
        return (self.input, self.work, self.output, self.error, self.done, self.log, *extra)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """A file's fate: outcome "created", "updated", "duplicate" or "rejected" (``reason`` says why)."""

    name: str
    outcome: str
    final_path: Path
    dossier_id: str | None = None
    version: int | None = None
    reason: str | None = None

    @property
    def is_rejected(self) -> bool:
        return self.outcome == REJECTED


def claim(zip_path: Path, dirs: Directories) -> Path:
    """Move an input file into the work directory (2) and return its path there.

    When a crash left the same file (same inode) in both places, the input copy is dropped. The input
    directory is not synced after the unlink (one sync less per file): if a crash undoes it, the file is
    found again in the input, as the same file as the one moved on, and its import is a duplicate that
    the move to done (`DoneMoves`) resolves to the link already there (or `reject` to the one in error).
    """
    return atomic_move(zip_path, dirs.work, sync_source=False)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A demand zip of the work directory read and checked, its files staged as blobs.

    What `prepare` hands to `import_group`: the dossier to receive with its blobs (staged, published
    by `import_group` before the receipt), or why the file is refused (then nothing was kept).
    """

    work_path: Path
    dossier: DossierIn | None
    reason: str | None = None
    blobs: BlobBatch | None = None


def prepare(work_path: Path, *, connector: str, context: HubContext, limits: ArchiveLimits) -> Prepared:
    """Read and check the demand zip `work_path` and stage its files in the blob store.

    The first half of an import, with no database access and no sync: it may run ahead of the
    receipts, in another thread, while `import_group` receives the demands read before (the staged
    blobs of a demand never received, after a crash, are temporary files the blob store cleans up).
    A RejectedItemError becomes a Prepared with its reason, nothing kept; any other error propagates.
    """
    _remove_tree(work_path.with_name(f"{work_path.name}.d"))  # left by a version that extracted zips
    batch = context.blobs.stage()
    try:
        dossier = _read_demand(work_path, connector, context, limits, batch)
    except RejectedItemError as exc:
        batch.discard()
        return Prepared(work_path, None, str(exc))
    except BaseException:
        batch.discard()
        raise
    return Prepared(work_path, dossier, blobs=batch)


def import_group(
    group: Sequence[Prepared], *, connector: str, context: HubContext, dirs: Directories, moves: DoneMoves
) -> list[ImportResult]:
    """Receive demands read by `prepare`, together: their blobs published, one transaction, then moves.

    The blobs are durable before the receipts that refer to them are committed, and the receipts
    before any file leaves the work directory. Each good demand goes to done (5) through `moves`,
    completed by its next flush; an unusable one (RejectedItemError from the checks, the zip or XML
    layers, or the store's refusal) goes to error (4) with ``<name>.log`` beside it, nothing stored in
    the database. Any other error (store unavailable, disk full) propagates and leaves the originals
    in the work directory, to be resumed at the next run.
    """
    accepted = [p for p in group if p.dossier is not None]
    try:
        context.blobs.publish_all([p.blobs for p in accepted if p.blobs is not None])
    except BaseException:
        for p in group:
            if p.blobs is not None:
                p.blobs.discard()
        raise
    receipts = iter(context.store.dossiers.receive_many([p.dossier for p in accepted if p.dossier]))
    results = []
    for prepared in group:
        received = next(receipts) if prepared.dossier is not None else None
        results.append(
            _conclude(prepared, received, connector=connector, context=context, dirs=dirs, moves=moves)
        )
    return results


def _conclude(
    prepared: Prepared,
    received: Received | RejectedItemError | None,
    *,
    connector: str,
    context: HubContext,
    dirs: Directories,
    moves: DoneMoves,
) -> ImportResult:
    work_path, dossier = prepared.work_path, prepared.dossier
    name = work_path.name
    if dossier is None or not isinstance(received, Received):
        reason = str(received) if received is not None else (prepared.reason or name)
        final = reject(work_path, dirs, reason)
        logger.warning("mdel %s: %s rejected", connector, name)
        return ImportResult(name, REJECTED, final, reason=reason)
    if dirs.attachments is not None:
        export_attachments(context, dossier, dirs.attachments)
    final = moves.move(work_path)
    logger.info(
        "mdel %s: %s imported as %s (%s, version %d)",
        connector,
        name,
        dossier.ref,
        received.outcome,
        received.version,
    )
    return ImportResult(name, received.outcome, final, received.dossier_id, received.version)


def export_attachments(context: HubContext, dossier: DossierIn, directory: Path) -> list[Path]:
    """Copy the citizen's attachments (PieceJointe) to ``directory/<Numero>/`` (seed 002, directory 7).

    Files are published atomically and replaced when a later version or a resumed import brings them
    again. Returns the paths written.
    """
    wanted = {a["file"] for a in dossier.data["message"]["attachments"]}
    target = directory / dossier.ref.external_id
    written: list[Path] = []
    for doc in dossier.documents:
        if doc.name in wanted:
            path = target / safe_filename(doc.name)
            target.mkdir(parents=True, exist_ok=True)
            atomic_write_stream(path, context.blobs.iter_chunks(doc.sha256))
            written.append(path)
    return written


def remove_orphans(work: Path) -> None:
    """Remove extraction folders whose zip is no longer in the work directory (crash after the move)."""
    for path in work.glob("*.d"):
        if path.is_dir() and not path.is_symlink() and not (work / path.name[:-2]).exists():
            shutil.rmtree(path)


def reject(path: Path, dirs: Directories, reason: str) -> Path:
    """Move `path` to the error directory (4) with ``<name>.log`` beside it; returns the new path.

    The log is written once the file is linked into error and before it leaves work: a crash in
    between leaves it in work, and the next run rejects it again and completes the log.
    """
    text = (
        f"Fichier « {path.name} » refusé.\n"
        f"Motif : {reason}\n"
        "Le fichier n'a pas été importé : aucun dossier n'a été créé ni modifié. "
        "Corriger la demande ou la faire renvoyer par le portail, puis la redéposer.\n"
    )

    def write_log(final: Path) -> None:
        atomic_write(final.with_name(final.name + ".log"), text.encode())

    return atomic_move(path, dirs.error, on_linked=write_log)


def _read_demand(
    zip_path: Path, connector: str, context: HubContext, limits: ArchiveLimits, batch: BlobBatch
) -> DossierIn:
    """Check one demand zip and stage its files as blobs in `batch`; returns what to receive.

    Raises RejectedItemError, storing nothing in the database, when anything is wrong.
    """
    name = parse_demand_name(zip_path.name)
    members = Members(entete_prefix=f"{name.numero}-{name.flow_type}-ent-")
    stream_zip(zip_path, members.sink(batch), limits)
    message_bytes = members.kept.get(MESSAGE_NAME)
    if message_bytes is None:
        raise RejectedItemError(f"{zip_path.name} : message.xml absent de l'archive")
    # parsed once: read here, redacted in place when stored (`_store_files`)
    source = f"{zip_path.name} / {MESSAGE_NAME}"
    members.roots[MESSAGE_NAME] = parse_xml(message_bytes, source=source)
    demand = read_message(members.roots[MESSAGE_NAME], source)
    entete_name = members.entete_name
    entete: Entete | None = None
    if entete_name is not None:
        source = f"{zip_path.name} / {entete_name}"
        members.roots[entete_name] = parse_xml(members.kept[entete_name], source=source)
        entete = read_entete(members.roots[entete_name], source)
    check_consistency(name, demand, entete, frozenset(members.order))
    organisation_id = context.organisations_by_insee.get(demand.code_insee)
    if organisation_id is None:
        raise RejectedItemError(
            f"{zip_path.name} : la commune de code INSEE {demand.code_insee} n'est pas une collectivité "
            "configurée dans aiguilleur, la demande ne peut être attribuée à personne"
        )
    documents: dict[str, dict[str, Any]] = {}
    fields: dict[str, str] = {}
    title = ""
    for doc in demand.xml_documents:
        data = members.xml(doc.file_name, batch)
        business = read_business_xml(data, f"{zip_path.name} / {doc.file_name}", demand.flow_type)
        documents[doc.code or doc.file_name] = business.data
        for label, value in business.fields.items():
            fields.setdefault(label, value)
        title = title or business.title
    stored = _store_files(batch, demand, members, zip_path.name)
    return DossierIn(
        ref=ExternalRef("mdel", connector, demand.numero),
        organisation_id=organisation_id,
        procedure=demand.flow_type,
        data={
            "message": _message_data(demand),
            "documents": documents,
            "fields": fields,
            "header_xml": demand.header_xml,
        },
        documents=stored,
        origin=zip_path.name,
        message_id=demand.message_id,
        title=title,
    )


def _message_data(demand: Demand) -> dict[str, Any]:
    tele = demand.teledemarche
    return {
        "message_id": demand.message_id,
        "flow_type": demand.flow_type,
        "numero": demand.numero,
        "numero_demarche": demand.numero_demarche,
        "date": tele.date,
        "platform_id": tele.platform_id,
        "code_insee": demand.code_insee,
        "routage": [{"id": k, "valeur": v} for k, v in demand.routage],
        "attachments": [{"file": a.file_name, "code": a.code, "title": a.title} for a in demand.attachments],
        "documents": [{"file": d.file_name, "code": d.code, "name": d.name} for d in demand.documents],
    }


def _store_files(batch: BlobBatch, demand: Demand, members: Members, source: str) -> tuple[DocumentIn, ...]:
    """Every member as a document, in archive order; message.xml and -ent.xml without the password."""
    roles = {a.file_name: a.code or "pj" for a in demand.attachments}
    roles.update({d.file_name: d.code or "doc" for d in demand.documents})
    stored: list[DocumentIn] = []
    for member in members.order:
        kept = members.kept.get(member)
        if kept is not None:
            ref = batch.put_bytes(redact_secrets(members.roots.get(member, kept), f"{source} / {member}"))
            role = "message" if member == MESSAGE_NAME else "entete"
        else:
            ref = members.staged[member]
            role = roles.get(member, "")
        media_type = mimetypes.guess_type(member)[0] or "application/octet-stream"
        stored.append(
            DocumentIn(
                name=Path(member).name,
                sha256=ref.sha256,
                size_bytes=ref.size_bytes,
                media_type=media_type,
                role=role,
            )
        )
    return tuple(stored)


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
