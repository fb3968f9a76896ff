"""Safe extraction of incoming zip and tar archives.

Every member is checked before anything is written (no absolute or ``..`` paths, no links or special
files, no duplicate names, caps on members, sizes and compression ratio), and again while streaming,
since archive headers lie. A refusal raises ``RejectedItemError`` with a sentence an agent understands
and leaves the destination as it was. `stream_zip` runs the same checks without writing any file: it hands
each member's bytes to the caller, which stores them where it likes (a blob store).
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import os
import re
import stat
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from aiguilleur.errors import RejectedItemError
from aiguilleur.transport.files import CHUNK_BYTES, MAX_NAME_BYTES

#: What `stream_zip` hands each file member to: its path inside the archive ("docs/a.pdf", as
#: `extract_zip` would lay it out), its declared size, and its bytes, checked while they stream.
MemberSink = Callable[[str, int, Iterator[bytes]], None]


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on an incoming archive, checked on the declared sizes and again on the bytes actually written."""

    max_members: int = 1000
    max_total_bytes: int = 2 * 1024**3
    max_member_bytes: int = 1024**3
    max_ratio: float = 200.0  # uncompressed / compressed, per member and for the whole archive
    max_name_length: int = 255


_DEFAULT_LIMITS = ArchiveLimits()
# Below this many bytes a high ratio is both common (a 100 KB run of spaces deflates 1000:1) and harmless.
_RATIO_GRACE_BYTES = 1024**2
_ZIP_ENCRYPTED = 0x1 | 0x40  # traditional and strong encryption bits (APPNOTE 4.4.4)
_ZIP_UTF8_NAME = 0x800  # "language encoding flag" (APPNOTE 4.4.4, bit 11)
_ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
_READ_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    OSError,  # gzip.BadGzipFile, bz2 "Invalid data stream"
    ValueError,
    RuntimeError,
    NotImplementedError,
    struct.error,
    zlib.error,
    lzma.LZMAError,
)


def extract_zip(archive: Path, dest: Path, limits: ArchiveLimits = _DEFAULT_LIMITS) -> list[Path]:
    """Extract the zip `archive` into `dest` (created if missing) and return the files written, in order.

    Every member is checked before anything is written: its path stays inside `dest`, it is a plain
    file or directory, unencrypted, with a UTF-8 (or ASCII) name, unique even ignoring case and Unicode
    normalisation, and within `limits`. Writing streams in chunks and stops beyond the declared size.
    Raises RejectedItemError on any refusal, after removing what was written (`dest` is left as it was);
    FileExistsError, likewise, when `dest` already holds a path the archive needs (symlinks included:
    they are never followed).
    """
    job = _Extraction(archive, dest, limits)
    with job.reading():
        zf = zipfile.ZipFile(archive)
    with zf:
        members = [_zip_member(job, zf, info) for info in zf.infolist()]
        return job.run([(m, job.admit(m)) for m in members])


def stream_zip(archive: Path, on_member: MemberSink, limits: ArchiveLimits = _DEFAULT_LIMITS) -> list[str]:
    """Check the zip `archive` as `extract_zip` does, handing each file to `on_member`: no file written.

    Every member is checked on its metadata before any is read, with the checks of `extract_zip`. Then,
    in archive order, ``on_member(path, size, chunks)`` is called for each file member (directories
    are checked, not handed): `chunks` yields its bytes and refuses, like extraction, a member that
    outgrows its declared size, ends short of it or is corrupt. What `on_member` leaves unread is read
    and checked once it returns. Returns the paths handed, in order. Raises RejectedItemError on any
    refusal (also from inside `chunks`, hence from `on_member`): undoing what `on_member` did with
    the members before is the caller's business. Errors raised by `on_member` itself propagate.
    """
    job = _Extraction(archive, archive.parent, limits)
    with job.reading():
        zf = zipfile.ZipFile(archive)
    with zf:
        members = [_zip_member(job, zf, info) for info in zf.infolist()]
        admitted = [(m, job.admit(m)) for m in members]
        if not admitted:
            raise job.refuse("archive vide")
        paths: list[str] = []
        for member, parts in admitted:
            if member.is_dir:
                continue
            path = "/".join(parts)
            chunks = job.chunks(member)
            try:
                on_member(path, member.size, chunks)
                for _ in chunks:  # the rest, so that the size and integrity checks run to the end
                    pass
            finally:
                chunks.close()
            paths.append(path)
        return paths


def extract_tar(archive: Path, dest: Path, limits: ArchiveLimits = _DEFAULT_LIMITS) -> list[Path]:
    """Extract the tar `archive` (plain, gz, bz2 or xz) as `extract_zip` does; same contract.

    Members are checked as they come (a tar has no table of contents): symlinks, hard links, devices
    and fifos are refused, and so is any refusal `extract_zip` makes; what was written is then removed.
    """
    job = _Extraction(archive, dest, limits)
    with _BoundedReads(_decompressed(archive)) as stream:
        with job.reading():
            tf = tarfile.open(fileobj=stream, mode="r:")  # noqa: SIM115 - so that only opening is translated
        with tf:
            return job.run((m, job.admit(m)) for m in _tar_members(job, tf))


@dataclass(frozen=True)
class _Member:
    name: str  # as stored, for messages
    is_dir: bool
    size: int  # declared uncompressed size
    packed: int | None  # declared compressed size; None when unknown (tar)
    open: Callable[[], IO[bytes]]


def _zip_member(job: _Extraction, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member:
    name = info.filename
    if info.flag_bits & _ZIP_ENCRYPTED:
        raise job.refuse(f"membre chiffré refusé : {name!r}")
    if not info.flag_bits & _ZIP_UTF8_NAME and not name.isascii():
        # Without the flag the bytes may be cp437, cp850 or anything else: guessing would garble names.
        raise job.refuse(f"nom de membre non UTF-8 refusé : {name.encode('cp437')!r}")
    kind = stat.S_IFMT(info.external_attr >> 16)  # Unix mode, when the archiver stored one
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        what = "lien symbolique" if kind == stat.S_IFLNK else "fichier spécial"
        raise job.refuse(f"{what} refusé dans l'archive : {name!r}")
    if info.compress_type not in _ZIP_METHODS:
        raise job.refuse(f"méthode de compression non prise en charge : {name!r}")
    return _Member(name, info.is_dir(), info.file_size, info.compress_size, functools.partial(zf.open, info))


def _decompressed(archive: Path) -> io.BufferedIOBase:
    with archive.open("rb") as f:
        magic = f.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(archive, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(archive, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(archive, "rb")
    return archive.open("rb")


class _BoundedReads:
    """The decompressed tar stream, refusing any single read above `limit` bytes.

    tarfile reads a GNU long-name or PAX header whole, at the size that header declares: without this
    a forged header of a few bytes in a small .tar.gz would allocate gigabytes before any check runs.
    """

    def __init__(self, raw: io.BufferedIOBase, limit: int = 1024**2) -> None:
        self.raw = raw
        self.limit = limit

    def read(self, size: int = -1, /) -> bytes:
        if not 0 <= size <= self.limit:
            raise tarfile.ReadError(f"lecture de {size} octets refusée")
        return self.raw.read(size)

    def write(self, b: bytes, /) -> int:
        raise io.UnsupportedOperation("read only")

    def tell(self) -> int:
        return self.raw.tell()

    def seek(self, pos: int, whence: int = 0, /) -> int:
        return self.raw.seek(pos, whence)

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> _BoundedReads:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _tar_members(job: _Extraction, tf: tarfile.TarFile) -> Iterator[_Member]:
    while True:
        with job.reading():
            info = tf.next()
        if info is None:
            return
        if not (info.isreg() or info.isdir()):
            what = (
                "lien symbolique" if info.issym() else "lien physique" if info.islnk() else "fichier spécial"
            )
            raise job.refuse(f"{what} refusé dans l'archive : {info.name!r}")
        yield _Member(info.name, info.isdir(), info.size, None, functools.partial(_open_tar, tf, info))


def _open_tar(tf: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    reader = tf.extractfile(info)
    if reader is None:  # only for non-regular members, refused before
        raise tarfile.ReadError(f"no data for {info.name!r}")
    return reader


def _caseless(parts: tuple[str, ...]) -> str:
    """Canonical caseless form (Unicode 3.13 D145): equal for names a filesystem may confuse."""
    return "/".join(unicodedata.normalize("NFD", unicodedata.normalize("NFD", p).casefold()) for p in parts)


class _Extraction:
    """One extraction: checks members against the limits and each other, writes them, undoes on refusal."""

    def __init__(self, archive: Path, dest: Path, limits: ArchiveLimits) -> None:
        self.label = archive.name
        self.archive_bytes = max(archive.stat().st_size, 1)
        self.dest = dest
        self.limits = limits
        self.count = 0
        self.total_bytes = 0
        self.kinds: dict[str, bool] = {}  # caseless path -> is a directory
        self.files: list[Path] = []
        self.dirs: list[Path] = []  # created by us, parents first

    def refuse(self, reason: str) -> RejectedItemError:
        return RejectedItemError(f"{self.label} : {reason}")

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Translate what the archive libraries raise on bad input; wraps reads only, never our writes."""
        try:
            yield
        except _READ_ERRORS as exc:
            raise self.refuse(f"archive corrompue ou illisible ({exc})") from exc

    def admit(self, member: _Member) -> tuple[str, ...]:
        """Check `member` on its declared metadata; return its path components inside `dest`."""
        lim = self.limits
        self.count += 1
        if self.count > lim.max_members:
            raise self.refuse(f"trop de membres (limite {lim.max_members})")
        parts = self._parts(member.name)
        if member.is_dir:
            self._claim(parts, is_dir=True)
            return parts
        if not parts:
            raise self.refuse(f"membre sans nom de fichier : {member.name!r}")
        if member.size > lim.max_member_bytes:
            raise self.refuse(f"membre trop volumineux : {member.name!r} ({member.size} octets annoncés)")
        self.total_bytes += member.size
        if self.total_bytes > lim.max_total_bytes:
            raise self.refuse(f"taille décompressée totale supérieure à {lim.max_total_bytes} octets")
        ratio = member.size / max(member.packed, 1) if member.packed is not None else 0.0
        if member.size > _RATIO_GRACE_BYTES and ratio > lim.max_ratio:
            raise self.refuse(f"taux de compression suspect ({ratio:.0f}:1) pour {member.name!r}")
        ratio = self.total_bytes / self.archive_bytes
        if self.total_bytes > _RATIO_GRACE_BYTES and ratio > lim.max_ratio:
            raise self.refuse(f"taux de compression suspect ({ratio:.0f}:1) pour l'archive")
        self._claim(parts, is_dir=False)
        return parts

    def _parts(self, name: str) -> tuple[str, ...]:
        if len(name) > self.limits.max_name_length:
            raise self.refuse(f"nom trop long dans l'archive : {name[:60]!r}…")
        if any(unicodedata.category(c) == "Cc" for c in name):
            raise self.refuse(f"caractère de contrôle dans un nom de l'archive : {name!r}")
        if any("\udc80" <= c <= "\udcff" for c in name):  # tarfile's surrogateescape of non-UTF-8 bytes
            raise self.refuse(f"nom de membre non UTF-8 refusé : {name.encode(errors='surrogateescape')!r}")
        parts = tuple(p for p in re.split(r"[/\\]", name) if p not in ("", "."))
        if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
            raise self.refuse(f"chemin dangereux dans l'archive : {name!r}")
        if any(len(p.encode()) > MAX_NAME_BYTES for p in parts):
            raise self.refuse(f"nom trop long dans l'archive : {name[:60]!r}…")
        return parts

    def _claim(self, parts: tuple[str, ...], *, is_dir: bool) -> None:
        for depth in range(1, len(parts)):
            if not self.kinds.setdefault(_caseless(parts[:depth]), True):
                raise self.refuse(f"un fichier et un dossier portent le même nom : {'/'.join(parts)!r}")
        key = _caseless(parts)
        if key in self.kinds and not (is_dir and self.kinds[key]):
            raise self.refuse(f"nom en double dans l'archive : {'/'.join(parts)!r}")
        self.kinds[key] = is_dir

    def run(self, members: Iterable[tuple[_Member, tuple[str, ...]]]) -> list[Path]:
        """Write the admitted members; on any failure remove what was written, then re-raise."""
        try:
            for ancestor in reversed([self.dest, *self.dest.parents]):
                if not ancestor.exists():
                    ancestor.mkdir()
                    self.dirs.append(ancestor)
            empty = True
            for member, parts in members:
                empty = False
                if member.is_dir:
                    self._make_dirs(parts)
                else:
                    self._write(member, self._make_dirs(parts[:-1]) / parts[-1])
            if empty:
                raise self.refuse("archive vide")
        except BaseException:
            self._undo()
            raise
        return list(self.files)

    def _make_dirs(self, parts: tuple[str, ...]) -> Path:
        current = self.dest
        for part in parts:
            current = current / part
            try:
                current.mkdir()
                self.dirs.append(current)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(current).st_mode):  # never follow a symlink out of dest
                    raise
        return current

    def _write(self, member: _Member, target: Path) -> None:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        self.files.append(target)
        with os.fdopen(fd, "wb") as out:
            for chunk in self.chunks(member):
                out.write(chunk)

    def chunks(self, member: _Member) -> Generator[bytes, None, None]:
        """The member's bytes, refused beyond or short of its declared size and when unreadable."""
        written = 0
        with self.reading():
            reader = member.open()
        with reader:
            while True:
                with self.reading():
                    chunk = reader.read(CHUNK_BYTES)
                if not chunk:
                    break
                written += len(chunk)
                if written > member.size:  # headers lie: trust the bytes, not the declaration
                    raise self.refuse(f"{member.name!r} dépasse sa taille annoncée ({member.size} octets)")
                yield chunk
        if written != member.size:
            raise self.refuse(f"{member.name!r} : {written} octets lus, {member.size} annoncés")

    def _undo(self) -> None:
        for path in reversed(self.files):
            path.unlink(missing_ok=True)
        for directory in reversed(self.dirs):
            with suppress(OSError):
                directory.rmdir()
