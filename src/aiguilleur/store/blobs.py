"""Content-addressed blob store: each blob is a read-only file named by the SHA-256 of its content.

Layout under the root: ``<sha[:2]>/<sha[2:4]>/<sha>`` for blobs, ``tmp/`` for writes in progress. A blob
is written to ``tmp/``, fsynced, then renamed into place, so a reader never sees a partial blob and storing
the same content twice keeps one file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from aiguilleur.errors import NotFound, RejectedItemError

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TMP_PREFIX = "put-"


@dataclass(frozen=True)
class BlobRef:
    """A stored blob: its lowercase hex SHA-256 and its size."""

    sha256: str
    size_bytes: int


class BlobStore:
    """Blobs under ``root``, addressed by SHA-256. Safe for concurrent writers of the same content."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def put_stream(
        self,
        chunks: Iterable[bytes] | BinaryIO,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        max_bytes: int | None = None,
    ) -> BlobRef:
        """Store the content of ``chunks`` (an iterable of bytes or a binary file object) in constant memory.

        Returns the blob's ref; storing content already present returns the same ref and keeps one file.
        Raises RejectedItemError, storing nothing, when the content exceeds ``max_bytes`` or does not match
        ``expected_size`` / ``expected_sha256`` (case-insensitive hex). Errors raised by ``chunks`` propagate,
        also storing nothing.
        """
        expected = expected_sha256.lower() if expected_sha256 is not None else None
        limit = min((n for n in (max_bytes, expected_size) if n is not None), default=None)
        digest = hashlib.sha256()
        size = 0
        fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=self._tmp)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _read_chunks(chunks):
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise RejectedItemError(_too_big(size, max_bytes, expected_size))
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            if expected_size is not None and size != expected_size:
                raise RejectedItemError(f"blob rejected: {size} bytes received, {expected_size} expected")
            if expected is not None and sha != expected:
                raise RejectedItemError(f"blob rejected: sha256 {sha} received, {expected} expected")
            final = self._location(sha)
            if final.exists():
                tmp.unlink()
            else:
                _make_dirs(final.parent)
                tmp.chmod(0o444)
                os.replace(tmp, final)  # a concurrent writer of the same content renames identical bytes
                _fsync_dir(final.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return BlobRef(sha256=sha, size_bytes=size)

    def put_bytes(self, data: bytes) -> BlobRef:
        """Store ``data``; see put_stream."""
        return self.put_stream([data])

    def put_file(self, path: Path) -> BlobRef:
        """Store a copy of the file at ``path``; see put_stream. Raises OSError if it cannot be read."""
        with open(path, "rb") as f:
            return self.put_stream(f)

    def exists(self, sha: str) -> bool:
        """Whether the blob is stored; False for an id that is not 64 lowercase hex digits."""
        return _SHA256.fullmatch(sha) is not None and self._location(sha).is_file()

    def path(self, sha: str) -> Path:
        """The blob's file (read-only). Raises NotFound for an invalid or unknown id."""
        location = self._location(_checked(sha))
        if not location.is_file():
            raise NotFound(f"blob {sha}: not found")
        return location

    def open(self, sha: str) -> BinaryIO:
        """Open the blob for reading; the caller closes it. Raises NotFound for an invalid or unknown id."""
        try:
            return open(self._location(_checked(sha)), "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"blob {sha}: not found") from exc

    def iter_chunks(self, sha: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Iterate over the blob's content. Raises NotFound at the call, not at the first chunk."""
        f = self.open(sha)

        def chunks() -> Iterator[bytes]:
            with f:
                while chunk := f.read(chunk_size):
                    yield chunk

        return chunks()

    def size(self, sha: str) -> int:
        """The blob's size in bytes. Raises NotFound for an invalid or unknown id."""
        try:
            return self._location(_checked(sha)).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"blob {sha}: not found") from exc

    def cleanup_tmp(self, max_age_s: float = 3600) -> int:
        """Remove temporary files older than ``max_age_s`` (left by a crash); returns how many were removed.

        Younger files are left alone: they may belong to a write in progress.
        """
        cutoff = time.time() - max_age_s
        removed = 0
        for entry in self._tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):  # another cleaner or the writer got there first
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
        if removed:
            logger.info("blob store %s: removed %d stale temporary file(s)", self.root, removed)
        return removed

    def _location(self, sha: str) -> Path:
        return self.root / sha[:2] / sha[2:4] / sha


def _checked(sha: str) -> str:
    # Checked before any path is built: the id may come from a URL ("../../etc/passwd").
    if _SHA256.fullmatch(sha) is None:
        raise NotFound(f"blob {sha!r}: not a sha256")
    return sha


def _read_chunks(source: Iterable[bytes] | BinaryIO) -> Iterator[bytes]:
    read = getattr(source, "read", None)
    if read is None:
        yield from source
        return
    while chunk := read(CHUNK_SIZE):
        yield chunk


def _too_big(size: int, max_bytes: int | None, expected_size: int | None) -> str:
    if max_bytes is not None and size > max_bytes:
        return f"blob rejected: more than {max_bytes} bytes (limit)"
    return f"blob rejected: more than the {expected_size} bytes expected"


def _make_dirs(directory: Path) -> None:
    """Create ``directory`` and missing parents, fsyncing each parent that gained an entry."""
    if directory.is_dir():
        return
    _make_dirs(directory.parent)
    with contextlib.suppress(FileExistsError):
        directory.mkdir()
        _fsync_dir(directory.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
