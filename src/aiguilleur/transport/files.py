"""Safe file plumbing: atomic moves and writes, readiness of incoming files, safe names.

No connector knowledge here: channels and deposits call these on the files they receive or hand over.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import itertools
import os
import re
import secrets
import shutil
import stat
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 64 * 1024
MAX_NAME_BYTES = 255  # one path component on ext4, XFS, btrfs

# -- atomic writes and moves ---------------------------------------------------------------------------


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` as `atomic_write_stream` does."""
    atomic_write_stream(path, (data,))


def atomic_write_stream(path: Path, chunks: Iterable[bytes]) -> int:
    """Write `chunks` to `path` under a temporary name in its directory, sync, rename, sync the directory.

    Readers never see a partial file; an existing `path` is replaced. Returns the number of bytes written.
    """
    fd, tmp = _create_temp(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as out:
            size = 0
            for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return size


def atomic_move(
    src: Path,
    dst_dir: Path,
    name: str | None = None,
    *,
    on_linked: Callable[[Path], None] | None = None,
    sync_source: bool = True,
) -> Path:
    """Move the regular file `src` into `dst_dir` (created if missing) as `name` (default: its own name).

    An existing file is never overwritten: the first free name among ``name``, ``stem.1.ext``,
    ``stem.2.ext``… is taken. The destination appears complete and at once: on the same filesystem by a
    hard link, across filesystems by a synced copy under ``.name.<random>.part`` then linked into place.
    The source is unlinked last, so a crash leaves the file in both places, never in neither; moving it
    again after such a crash finds the link already made instead of making a second copy.
    `on_linked(final)` runs once the destination exists and before the source goes (e.g. to write a log
    beside it), so that a crash in it is resumed by moving again.
    The destination is synced before the source goes. With ``sync_source=False`` the source directory is
    not synced after the unlink when the move was a hard link: a crash may then leave the file in both
    places as the same file, which moving it again resolves as above; the unlink becomes durable with the
    next sync of the filesystem. A copy (or a rename, without hard links) always syncs its source.
    Returns the final path. Raises ValueError if `name` is not a plain file name or `src` not a file.
    """
    final, linked = link_into(src, dst_dir, name)
    _fsync_dir(dst_dir)
    if on_linked is not None:
        on_linked(final)
    src.unlink(missing_ok=True)
    if sync_source or not linked:
        _fsync_dir(src.parent)
    return final


def link_into(src: Path, dst_dir: Path, name: str | None = None) -> tuple[Path, bool]:
    """The first half of `atomic_move`: `src` linked into `dst_dir` (same names, same copy across
    filesystems, same reuse of a link a crash left), neither synced nor removed from its place.

    For moves made in two: the caller syncs `dst_dir`, then unlinks `src`, possibly for several files
    at once. Returns the final path and whether it is `src` itself, hard-linked (False for a copy, or a
    rename where hard links are not supported: the source directory is then synced after the unlink).
    Raises ValueError if `name` is not a plain file name or `src` not a file.
    """
    target = name if name is not None else src.name
    if target in ("", ".", "..") or "/" in target or "\0" in target:
        raise ValueError(f"not a plain file name: {target!r}")
    if not stat.S_ISREG(os.lstat(src).st_mode):
        raise ValueError(f"{src}: not a regular file")
    dst_dir.mkdir(parents=True, exist_ok=True)
    final = _existing_link(src, dst_dir, target)
    if final is not None:
        return final, True
    try:
        return _link_to_free_name(src, dst_dir, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        return _copy_to_free_name(src, dst_dir, target), False


def _existing_link(src: Path, dst_dir: Path, name: str) -> Path | None:
    """The name under which a crashed move already linked `src` into `dst_dir`, if any."""
    for candidate in (dst_dir / n for n in _free_names(name)):
        if not os.path.lexists(candidate):
            return None
        with suppress(OSError):
            if os.path.samefile(candidate, src):
                return candidate
    raise AssertionError("unreachable")  # _free_names never ends


def _free_names(name: str) -> Iterator[str]:
    yield name
    stem, ext = Path(name).stem, Path(name).suffix
    for n in itertools.count(1):
        yield f"{stem}.{n}{ext}"


def _link_to_free_name(src: Path, dst_dir: Path, name: str) -> tuple[Path, bool]:
    """Hard-link `src` under the first free name; `src` may be left in place. Raises EXDEV across devices.

    Returns the path and whether it is a hard link (False: `src` was renamed, no hard links there).
    """
    for candidate in (dst_dir / n for n in _free_names(name)):
        try:
            os.link(src, candidate, follow_symlinks=False)
            return candidate, True
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
                raise
            # Filesystems without hard links (some SMB and FUSE mounts): no atomic "rename unless
            # exists" is available, so look first; a concurrent writer could still race us.
            if not os.path.lexists(candidate):
                os.replace(src, candidate)
                return candidate, False
    raise AssertionError("unreachable")  # _free_names never ends


def _copy_to_free_name(src: Path, dst_dir: Path, name: str) -> Path:
    fd, tmp = _create_temp(dst_dir, name)
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
            shutil.copyfileobj(inp, out, CHUNK_BYTES)
            out.flush()
            os.fsync(out.fileno())
        return _link_to_free_name(tmp, dst_dir, name)[0]
    finally:
        tmp.unlink(missing_ok=True)


def _create_temp(directory: Path, name: str) -> tuple[int, Path]:
    """Create ``.name.<random>.part`` exclusively; mode 0o666 so that the umask applies as for any file."""
    while True:
        tmp = directory / f".{name[:40]}.{secrets.token_hex(4)}.part"
        with suppress(FileExistsError):
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp


def fsync_dir(directory: Path) -> None:
    """Make the entries of `directory` durable (those added, removed or renamed until now)."""
    _fsync_dir(directory)


def sync_filesystem(path: Path) -> None:
    """Make durable every write made so far on the filesystem holding `path`: contents, names, removals.

    One ``syncfs(2)`` (Linux) instead of an fsync per file and directory: a group of files written
    together (the blobs of several demands, several return zips) costs one journal commit instead of
    one each. Elsewhere, ``sync(2)``. Raises OSError when the kernel reports a write-back error.
    """
    syncfs = _syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"syncfs: {os.strerror(code)}", str(path))
    finally:
        os.close(fd)


@dataclass(frozen=True)
class GroupSync:
    """How a group of files written together is made durable before anything refers to them.

    By default (``per_file=False``) one `sync_filesystem` for the contents of the group and one for
    their names: the cheapest when the filesystem holds little else. With ``per_file=True``, an fsync
    per file and per directory touched: for a filesystem shared with heavy writers (a database, a
    document store), whose dirty data a filesystem sync would wait for too.
    """

    per_file: bool = False

    def contents(self, root: Path, files: Iterable[Path]) -> None:
        """Make the contents of `files` (all on the filesystem of `root`) durable."""
        if not self.per_file:
            sync_filesystem(root)
            return
        for path in files:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def names(self, root: Path, directories: Iterable[Path]) -> None:
        """Make the entries of `directories` (on the filesystem of `root`) durable."""
        if not self.per_file:
            sync_filesystem(root)
            return
        for directory in directories:
            _fsync_dir(directory)


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- readiness of incoming files -----------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    """When an incoming file counts as complete (see `ReadinessTracker`)."""

    min_age_s: float = 10.0
    ignored_suffixes: tuple[str, ...] = (".part", ".tmp", ".filepart", ".crdownload")
    marker_suffix: str | None = None  # e.g. ".done": X is ready only once X.done exists


class ReadinessTracker:
    """Remembers the (size, mtime) of each file between scans of a directory, to hand out complete files only.

    A file is ready when all of these hold:
    - it is a regular file (not a symlink), not hidden (dot-file), without an ignored suffix and not
      itself a marker; its marker exists when `marker_suffix` is set;
    - its size and mtime equal those seen at the previous scan (a file seen for the first time passes);
    - it is old enough: its mtime, or the moment we first saw it in its current state, is at least
      `min_age_s` before `now`. The second clock lets a file from a peer whose clock runs ahead
      become ready after `min_age_s` of stability.
    So an old file is ready at its first scan. A writer that backdates the mtime before it has finished
    writing must use a temporary suffix or a marker. A ready file is returned again at every scan until
    the caller moves it away.
    """

    def __init__(self, readiness: Readiness | None = None) -> None:
        self.readiness = readiness if readiness is not None else Readiness()
        self._seen: dict[Path, tuple[int, int, float]] = {}  # path -> size, mtime_ns, stable since

    def ready_files(self, directory: Path, now: float | None = None) -> list[Path]:
        """Scan `directory` (not recursively); return its ready files, sorted by name."""
        now = time.time() if now is None else now
        rules = self.readiness
        seen: dict[Path, tuple[int, int, float]] = {}
        ready: list[Path] = []
        with os.scandir(directory) as entries:
            for entry in entries:
                if not self._is_candidate(entry.name) or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                path = Path(entry.path)
                previous = self._seen.get(path)
                is_unchanged = previous is not None and previous[:2] == (st.st_size, st.st_mtime_ns)
                since = previous[2] if previous is not None and is_unchanged else now
                seen[path] = (st.st_size, st.st_mtime_ns, since)
                is_old = max(now - st.st_mtime_ns / 1e9, now - since) >= rules.min_age_s
                is_marked = rules.marker_suffix is None or os.path.isfile(entry.path + rules.marker_suffix)
                if (previous is None or is_unchanged) and is_old and is_marked:
                    ready.append(path)
        kept = {p: v for p, v in self._seen.items() if p.parent != Path(directory)}
        self._seen = kept | seen
        return sorted(ready, key=lambda p: p.name)

    def _is_candidate(self, name: str) -> bool:
        lowered = name.lower()
        marker = self.readiness.marker_suffix
        return not (
            name.startswith(".")
            or lowered.endswith(tuple(s.lower() for s in self.readiness.ignored_suffixes))
            or (marker is not None and lowered.endswith(marker.lower()))
        )


# -- safe file names -----------------------------------------------------------------------------------

_FALLBACK_NAME = "fichier"
_MAX_EXTENSION_CHARS = 16
_WINDOWS_FORBIDDEN = frozenset('<>:"/\\|?*')
# Controls, format characters (bidi overrides that disguise "exe.pdf"), lone surrogates (not encodable).
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in "123456789¹²³"}
)


def safe_filename(name: str, max_length: int = 180) -> str:
    """Turn an untrusted file name into one safe on Linux and Windows; keeps accents.

    Keeps the base name only (after the last ``/`` or ``\\``), NFC-normalised, without control or
    Windows-forbidden characters, leading dots and spaces, trailing dots and spaces; prefixes Windows
    reserved names (``CON``, ``COM1.txt``…) with ``_``; caps the length at `max_length` characters and
    255 UTF-8 bytes, keeping a short extension. Returns ``"fichier"`` when nothing is left.
    """
    if max_length < len(_FALLBACK_NAME) + 1:
        raise ValueError(f"max_length too small: {max_length}")
    base = unicodedata.normalize("NFC", re.split(r"[/\\]", name)[-1])
    base = "".join(
        c for c in base if c not in _WINDOWS_FORBIDDEN and unicodedata.category(c) not in _DROPPED_CATEGORIES
    )
    base = _cap_length(base.lstrip(". ").rstrip(". "), max_length)
    if base.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        base = _cap_length("_" + base, max_length)
    return base or _FALLBACK_NAME


def _cap_length(name: str, max_length: int) -> str:
    stem, ext = name, ""
    head, dot, tail = name.rpartition(".")
    if head and dot and len(tail) <= min(_MAX_EXTENSION_CHARS, max_length // 2 - 1):
        stem, ext = head, dot + tail
    if len(stem) + len(ext) <= max_length and len((stem + ext).encode()) <= MAX_NAME_BYTES:
        return name
    stem = stem[: max_length - len(ext)]
    while len((stem + ext).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    stem = stem.rstrip(". ")  # the cut may expose them
    return stem + ext if stem else ""
