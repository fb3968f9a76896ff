"""The folder deposit of télédossiers: ``<deposit_dir>/<externalId>/<fileName>`` and ``metadata.json``.

What the seed script wrote (research §8.2), made safe: names sanitised (`safe_filename`), never two
files under one name (``pièce.pdf``, ``pièce.1.pdf``, the comparison ignoring case for Windows shares),
every file published atomically (temporary name, fsync, rename), and ``metadata.json`` written last:
its presence says the folder is complete. It names each file with its HubEE attachment, type, size
and SHA-256, and lists the sender's events (messages, status changes, deposits). Writing the same
télédossier again (a redelivered notification) rewrites the same names with the same content.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from aiguilleur.connectors.hubee import mapping, wire
from aiguilleur.store.blobs import BlobRef, BlobStore
from aiguilleur.transport.files import atomic_write, atomic_write_stream, safe_filename

METADATA = "metadata.json"
FORMAT = "aiguilleur-hubee-depot/1"


class Deposit:
    """Télédossiers of one démarche under `root`, their files copied from the blob store."""

    def __init__(self, root: Path, blobs: BlobStore, connector: str) -> None:
        self.root = root
        self.blobs = blobs
        self.connector = connector

    def check(self) -> str | None:
        """Why the deposit cannot be written, or None."""
        if self.root.exists() and not self.root.is_dir():
            return f"{self.root} : n'est pas un dossier"
        probe = self.root
        while not probe.exists() and probe != probe.parent:  # created at the first run
            probe = probe.parent
        if not os.access(probe, os.W_OK | os.X_OK):
            return f"{probe} : non accessible en écriture"
        return None

    def folder_of(self, case: wire.Case) -> Path:
        """The case's folder: its sanitised external id, suffixed when another case holds that name."""
        base = _folder_name(mapping.external_id(case))
        n = 0
        while True:
            folder = self.root / (base if n == 0 else f"{base}.{n}")
            meta = _read(folder / METADATA)
            if meta is None or meta.get("hubee", {}).get("case_id") == case.id:
                return folder
            n += 1

    def has_case(self, case: wire.Case) -> bool:
        """Whether the télédossier was deposited completely already."""
        return (self.folder_of(case) / METADATA).is_file()

    def find(self, case_id: str, external_id: str) -> Path | None:
        """The folder of a deposited case, by its id (an event needs it, with only a lite case)."""
        base = _folder_name(external_id or case_id)
        n = 0
        while True:
            folder = self.root / (base if n == 0 else f"{base}.{n}")
            meta = _read(folder / METADATA)
            if meta is None:
                return None
            if meta.get("hubee", {}).get("case_id") == case_id:
                return folder
            n += 1

    def write_case(
        self, case: wire.Case, files: Sequence[tuple[wire.Attachment, BlobRef]], *, received_at: datetime
    ) -> Path:
        """Deposit a télédossier: its files, then ``metadata.json``. Returns the folder."""
        folder = self.folder_of(case)
        meta = _read(folder / METADATA) or {
            "format": FORMAT,
            "connector": self.connector,
            "received_at": received_at.isoformat(),
            "files": [],
            "events": [],
        }
        meta["hubee"] = mapping.case_data(case)
        self._add(folder, meta, files, event_id=None)
        return folder

    def add_files(
        self, folder: Path, event: wire.Event, files: Sequence[tuple[wire.Attachment, BlobRef]]
    ) -> None:
        """Files the sender deposited later (ATTACH_DEPOSIT), beside the first ones."""
        meta = _read(folder / METADATA)
        if meta is None:
            raise FileNotFoundError(f"{folder / METADATA} absent")
        self._add(folder, meta, files, event_id=event.id)

    def add_event(self, folder: Path, event: wire.Event, summary: str) -> None:
        """Record an event of the sender in ``metadata.json`` (once per event)."""
        meta = _read(folder / METADATA)
        if meta is None:
            raise FileNotFoundError(f"{folder / METADATA} absent")
        if any(e.get("id") == event.id for e in meta["events"]):
            return
        meta["events"].append(
            {
                "id": event.id,
                "action_type": event.action_type,
                "author": event.author,
                "message": event.message,
                "case_new_status": event.case_new_status,
                "at": event.create_date_time.isoformat() if event.create_date_time else None,
                "summary": summary,
            }
        )
        _write(folder / METADATA, meta)

    def _add(
        self,
        folder: Path,
        meta: dict[str, Any],
        files: Sequence[tuple[wire.Attachment, BlobRef]],
        *,
        event_id: str | None,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        entries: list[dict[str, Any]] = meta["files"]
        for att, blob in files:
            entry = next((e for e in entries if e["attachment_id"] == att.id), None)
            if entry is None:
                used = {e["name"].casefold() for e in entries} | {METADATA}
                entry = {
                    "name": mapping.free_name(safe_filename(att.file_name), used),
                    "file_name": att.file_name,
                    "type": att.type,
                    "mime_type": att.mime_type,
                    "size": blob.size_bytes,
                    "sha256": blob.sha256,
                    "attachment_id": att.id,
                    "event_id": event_id,
                }
                entries.append(entry)
            atomic_write_stream(folder / entry["name"], self.blobs.iter_chunks(blob.sha256))
        _write(folder / METADATA, meta)


def _folder_name(external_id: str) -> str:
    """A case number as one folder name: a slash becomes ``_`` rather than a path."""
    return safe_filename(external_id.replace("/", "_").replace("\\", "_"))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError:  # not ours (written atomically, ours is always whole): start it again
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, meta: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
