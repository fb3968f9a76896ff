"""Rejected imports: the files a channel put in its error directory, with the reason from their ``.log``.

Channels with files (MDEL today) declare ``input_dir`` and ``error_dir``; a rejected original sits in the
error directory with ``<name>.log`` beside it, whose « Motif : » line says why. From the error queue an
operator may put the file back into the input directory for a new import (*retry*) or move it, with its
log, into ``<error_dir>/discarded/`` (*discard*); both are journaled. Files are moved by atomic rename and
an existing file is never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiguilleur.engine.hub import Hub
from aiguilleur.errors import Conflict, NotFound
from aiguilleur.transport.files import atomic_move, atomic_write

DISCARDED = "discarded"
LOG_SUFFIX = ".log"
MAX_LOG_BYTES = 64 * 1024
REASON_PREFIX = "Motif :"


@dataclass(frozen=True, slots=True)
class RejectedImport:
    connector: str
    name: str
    size_bytes: int
    rejected_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class FileChannel:
    """Where one connector takes its files and puts the rejected ones."""

    connector: str
    input_dir: Path
    error_dir: Path
    marker_suffix: str | None


def file_channels(hub: Hub) -> dict[str, FileChannel]:
    """The configured connectors that have an input and an error directory, by name."""
    found = {}
    for name, entry in sorted(hub.config.connectors.items()):
        settings = entry.settings
        input_dir, error_dir = getattr(settings, "input_dir", None), getattr(settings, "error_dir", None)
        if isinstance(input_dir, str) and isinstance(error_dir, str):
            marker = getattr(settings, "marker_suffix", None)
            found[name] = FileChannel(
                name,
                hub.config.resolve(input_dir),
                hub.config.resolve(error_dir),
                marker if isinstance(marker, str) else None,
            )
    return found


def list_rejected(hub: Hub) -> list[RejectedImport]:
    """Every rejected file waiting in an error directory, newest first."""
    result = []
    for channel in file_channels(hub).values():
        if not channel.error_dir.is_dir():
            continue
        for path in channel.error_dir.iterdir():
            if not _is_rejected_file(path):
                continue
            log = path.with_name(path.name + LOG_SUFFIX)
            stat = (log if log.is_file() else path).stat()  # the log is written at the rejection
            result.append(
                RejectedImport(
                    connector=channel.connector,
                    name=path.name,
                    size_bytes=path.stat().st_size,
                    rejected_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                    reason=_reason(log),
                )
            )
    return sorted(result, key=lambda r: (r.rejected_at, r.name), reverse=True)


def retry(hub: Hub, connector: str, name: str, actor: str) -> Path:
    """Put a rejected file back into the input directory; its log is removed. Returns the new path.

    Raises ``NotFound`` for an unknown connector or file, ``Conflict`` when the input directory already
    holds a file of that name.
    """
    channel, path = _find(hub, connector, name)
    if (channel.input_dir / name).exists():
        raise Conflict(f"« {name} » est déjà dans le dossier d'entrée de {connector}")
    final = atomic_move(path, channel.input_dir)
    if channel.marker_suffix is not None:
        atomic_write(final.with_name(final.name + channel.marker_suffix), b"")
    path.with_name(name + LOG_SUFFIX).unlink(missing_ok=True)
    hub.store.journal.write(
        "rejected-retry",
        f"Fichier refusé « {name} » remis en entrée pour un nouvel import",
        connector=connector,
        actor=actor,
    )
    return final


def discard(hub: Hub, connector: str, name: str, actor: str) -> Path:
    """Move a rejected file and its log to ``<error_dir>/discarded/``; returns the new path.

    Raises ``NotFound`` for an unknown connector or file.
    """
    channel, path = _find(hub, connector, name)
    target = channel.error_dir / DISCARDED
    final = atomic_move(path, target)
    log = path.with_name(name + LOG_SUFFIX)
    if log.is_file():
        atomic_move(log, target, final.name + LOG_SUFFIX)
    hub.store.journal.write(
        "rejected-discard", f"Fichier refusé « {name} » écarté", connector=connector, actor=actor
    )
    return final


def _find(hub: Hub, connector: str, name: str) -> tuple[FileChannel, Path]:
    channel = file_channels(hub).get(connector)
    if channel is None:
        raise NotFound(f"connecteur « {connector} » sans dossier d'erreurs")
    # the name comes from a form: only a file actually listed in the error directory is accepted
    path = channel.error_dir / name
    if "/" in name or "\0" in name or name in ("", ".", "..") or not _is_rejected_file(path):
        raise NotFound(f"fichier refusé « {name} » introuvable dans {connector}")
    return channel, path


def _is_rejected_file(path: Path) -> bool:
    return (
        not path.name.startswith(".")
        and not path.name.endswith(LOG_SUFFIX)
        and not path.is_symlink()
        and path.is_file()
    )


def _reason(log: Path) -> str:
    try:
        with log.open("rb") as fh:
            text = fh.read(MAX_LOG_BYTES).decode("utf-8", "replace")
    except FileNotFoundError:
        return "motif inconnu (pas de fichier .log)"
    for line in text.splitlines():
        if line.startswith(REASON_PREFIX):
            return line.removeprefix(REASON_PREFIX).strip()
    return " ".join(text.split())[:500] or "motif inconnu"
