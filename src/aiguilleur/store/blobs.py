"""Content-addressed blob store: each blob is a read-only file named by the SHA-256 of its content.

Layout under the root: ``<sha[:2]>/<sha[2:4]>/<sha>`` for blobs, ``tmp/`` for writes in progress. A blob
is written to ``tmp/``, fsynced, then renamed into place, so a reader never sees a partial blob and storing
the same content twice keeps one file. Once a put returns (or a batch is published) the blob is durable:
its content and every directory entry leading to it are synced, so a database row committed afterwards
never references a blob a crash could lose.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from aiguilleur.errors import NotFound, RejectedItemError
from aiguilleur.transport.files import GroupSync, fsync_dir

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

    def __init__(self, root: Path, *, sync: GroupSync | None = None) -> None:
        self.root = Path(root)
        self.sync = sync or GroupSync()  # how `publish_all` makes a group durable
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        # fan-out directories ("ab", "ab/cd") known to exist with a durable entry: at most 65,792
        self._dirs: set[str] = set()  # shared by threads: set.update and `in` are atomic

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
        staged, ref = self._write_tmp(chunks, expected_sha256, expected_size, max_bytes)
        touched = _Touched()
        try:
            staged.sync()
            self._place(staged.tmp, ref.sha256, touched)
        except BaseException:
            staged.drop()
            raise
        self._sync_touched(touched)
        return ref

    @contextmanager
    def batch(self) -> Iterator[BlobBatch]:
        """Blobs written together and published together when the block ends without error.

        Each ``put_stream`` of the batch writes its content under ``tmp/``; at the end of the block the
        batch is published by `publish_all`, so that on leaving the block every blob is as durable as
        after `put_stream`. Nothing is visible before that. When the block raises, nothing is published
        and the temporary files are removed.
        """
        staged = self.stage()
        try:
            yield staged
        except BaseException:
            staged.discard()
            raise
        self.publish_all([staged])

    def stage(self) -> BlobBatch:
        """A batch written without syncs, to be published with others by `publish_all` (or discarded).

        For many small blobs written together: an fsync per file and per directory costs more than the
        writing itself, `publish_all` makes a whole group durable with two filesystem syncs.
        """
        return BlobBatch(self)

    def publish_all(self, batches: Sequence[BlobBatch]) -> None:
        """Publish several batches at once: contents synced, renamed into place, names synced.

        Two filesystem syncs in all, whatever the number of blobs (or an fsync per file and directory:
        see `GroupSync`). Contents are durable before any is renamed, so a crash never leaves a blob's
        name on partial content; once this returns, every blob of the batches is as durable as after
        `put_stream`. When it raises, what was not renamed yet is discarded.
        """
        touched = _Touched()
        try:
            for batch in batches:
                touched.merge(batch._touched)
                for staged in batch._staged.values():
                    staged.close()
            files = [file.tmp for batch in batches for file in batch._staged.values()]
            if files:
                self.sync.contents(self.root, files)
            for batch in batches:
                batch._place_all(touched)
        except BaseException:
            for batch in batches:
                batch.discard()
            raise
        if touched.dirs:
            self.sync.names(self.root, touched.dirs)
        self._dirs.update(touched.known)

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

    def _write_tmp(
        self,
        chunks: Iterable[bytes] | BinaryIO,
        expected_sha256: str | None,
        expected_size: int | None,
        max_bytes: int | None,
    ) -> tuple[_Staged, BlobRef]:
        """Write ``chunks`` to a new file of ``tmp/``, checked against the expectations, not yet synced.

        The file is left open for the caller to sync (`_sync`) before it is renamed into place.
        """
        expected = expected_sha256.lower() if expected_sha256 is not None else None
        limit = min((n for n in (max_bytes, expected_size) if n is not None), default=None)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = self._create_tmp()
        staged = _Staged(tmp, fd)
        try:
            with os.fdopen(fd, "wb", closefd=False) as out:
                for chunk in _read_chunks(chunks):
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise RejectedItemError(_too_big(size, max_bytes, expected_size))
                    digest.update(chunk)
                    out.write(chunk)
            sha = digest.hexdigest()
            if expected_size is not None and size != expected_size:
                raise RejectedItemError(f"blob rejected: {size} bytes received, {expected_size} expected")
            if expected is not None and sha != expected:
                raise RejectedItemError(f"blob rejected: sha256 {sha} received, {expected} expected")
        except BaseException:
            staged.drop()
            raise
        return staged, BlobRef(sha256=sha, size_bytes=size)

    def _create_tmp(self) -> tuple[int, Path]:
        """A new file of ``tmp/``, already read-only (0o444, as blobs are): no chmod before the rename."""
        while True:
            tmp = self._tmp / f"{_TMP_PREFIX}{secrets.token_hex(8)}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444)
            except FileExistsError:
                continue
            if stat.S_IMODE(os.fstat(fd).st_mode) != 0o444:  # the umask took some bits away
                os.fchmod(fd, 0o444)
            return fd, tmp

    def _place(self, tmp: Path, sha: str, touched: _Touched) -> None:
        """Rename the synced ``tmp`` into place (or drop it, the blob being there already).

        Notes in ``touched`` every directory whose entries changed or may not be durable yet: the caller
        syncs them (`_sync_touched`) before anything refers to the blob.
        """
        final = self._location(sha)
        if final.exists():
            # stored by another writer, or by an attempt that crashed before syncing the directory
            tmp.unlink()
            touched.dirs.add(final.parent)
            return
        self._make_dirs(sha, touched)
        try:
            os.replace(tmp, final)  # a concurrent writer of the same content renames identical bytes
        except FileNotFoundError:
            if not tmp.exists():
                raise
            self._dirs.clear()  # a fan-out directory was removed behind our back: make it again
            touched.known.clear()
            self._make_dirs(sha, touched)
            os.replace(tmp, final)
        touched.dirs.add(final.parent)

    def _make_dirs(self, sha: str, touched: _Touched) -> None:
        """Make ``<sha[:2]>/<sha[2:4]>`` if needed; the parent of each directory made or found is synced.

        Directories this store object saw synced are known to exist with a durable entry: no system
        call for them. The others are remembered once `_sync_touched` has synced their parent (before
        that, another thread finding them must sync that parent itself).
        """
        parent = sha[:2]
        leaf = f"{parent}/{sha[2:4]}"
        if leaf in self._dirs or leaf in touched.known:
            return
        if parent not in self._dirs:
            _ensure_dir(self.root / parent)
            touched.dirs.add(self.root)
            touched.known.add(parent)
        _ensure_dir(self.root / leaf)
        touched.dirs.add(self.root / parent)
        touched.known.add(leaf)

    def _sync_touched(self, touched: _Touched) -> None:
        _fsync_dirs(touched.dirs)
        self._dirs.update(touched.known)

    def _location(self, sha: str) -> Path:
        return self.root / sha[:2] / sha[2:4] / sha


class BlobBatch:
    """Blobs staged under ``tmp/`` and published together: see `BlobStore.batch`."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._staged: dict[str, _Staged] = {}  # sha256 -> its temporary file, closed unsynced
        self._touched = _Touched()  # directories made while staging, synced when published

    def put_stream(
        self,
        chunks: Iterable[bytes] | BinaryIO,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        max_bytes: int | None = None,
    ) -> BlobRef:
        """Stage the content of ``chunks`` as `BlobStore.put_stream` stores it; published with the batch."""
        staged, ref = self.store._write_tmp(chunks, expected_sha256, expected_size, max_bytes)
        if ref.sha256 in self._staged:  # the same content twice in one batch
            staged.drop()
            return ref
        self._staged[ref.sha256] = staged
        staged.close()
        # its fan-out directories made now, in the writer's thread: `publish_all` only renames
        self.store._make_dirs(ref.sha256, self._touched)
        return ref

    def put_bytes(self, data: bytes) -> BlobRef:
        """Stage ``data``; see put_stream."""
        return self.put_stream([data])

    def read(self, sha: str, max_bytes: int) -> bytes:
        """The first ``max_bytes`` bytes of a blob staged in this batch (to parse what was just stored)."""
        staged = self._staged.get(sha)
        if staged is None:
            raise NotFound(f"blob {sha!r}: not staged in this batch")
        with open(staged.tmp, "rb") as f:
            return f.read(max_bytes)

    def publish(self) -> None:
        """Publish this batch alone (see `BlobStore.publish_all`)."""
        self.store.publish_all([self])

    def _place_all(self, touched: _Touched) -> None:
        while self._staged:
            sha, staged = next(iter(self._staged.items()))
            self.store._place(staged.tmp, sha, touched)
            del self._staged[sha]

    def discard(self) -> None:
        """Remove the temporary files of the blobs not published."""
        for staged in self._staged.values():
            staged.drop()
        self._staged.clear()


@dataclass
class _Touched:
    """What publishing blobs changed: directories to sync, fan-out directories to remember after."""

    dirs: set[Path] = field(default_factory=set)
    known: set[str] = field(default_factory=set)

    def merge(self, other: _Touched) -> None:
        self.dirs |= other.dirs
        self.known |= other.known


@dataclass
class _Staged:
    """A temporary file of ``tmp/``; ``fd`` stays open until the file is synced or closed."""

    tmp: Path
    fd: int | None

    def drop(self) -> None:
        self.close()
        self.tmp.unlink(missing_ok=True)

    def sync(self) -> None:
        """fsync the file, then close it (closed either way); raises what the fsync raised."""
        try:
            if self.fd is not None:
                os.fsync(self.fd)
        finally:
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


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


def _ensure_dir(directory: Path) -> None:
    with contextlib.suppress(FileExistsError):
        directory.mkdir()


def _fsync_dirs(directories: Iterable[Path]) -> None:
    # the first fsync commits the journal with every rename and mkdir of the batch; the others are cheap
    for directory in directories:
        fsync_dir(directory)
