"""A small synchronous SFTP client over paramiko: key authentication, pinned host key, safe transfers.

No connector knowledge here. `SftpSession` connects with one private key only (no agent, no key search,
no password) and accepts the server only when its host key is in the given known_hosts file. Every
paramiko or socket exception is translated where it enters (STYLE.md shape 5):

- `SftpAuthRefused` (AuthError): the server refused our key;
- `SftpHostKeyRefused` (AuthError): the server's host key is unknown or differs from the pinned one;
- `SftpKeyUnusable` (AuthError): our key or known_hosts file cannot be read;
- `SftpUnavailable` (TransientError): connection refused or lost, timeout, SSH failure, a transfer
  whose size did not check out (`SftpIncomplete`);
- `SftpRejected` (PermanentError): the server refused an operation on a file (permission denied,
  `SftpNotFound`).

The three refusals of our credentials or of the server's identity are AuthErrors so that the engine
stops the source and keeps its returns for later: none of them is the fault of one item.

Transfers are never seen half-done: a download is written to a hidden local temporary name, synced,
checked against the remote size, then renamed; an upload goes to ``<name>.part``, is checked, then
renamed to ``<name>`` (atomically replacing an older copy when the server offers ``posix-rename``).
Messages name the source, the operation and the path, never key material.
"""

from __future__ import annotations

import errno
import logging
import os
import posixpath
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import unquote, urlsplit

import paramiko
from paramiko.hostkeys import InvalidHostKey
from paramiko.pkey import UnknownKeyType

from aiguilleur.errors import AuthError, PeerError, PermanentError, TransientError

logger = logging.getLogger(__name__)

PEER = "sftp"
DEFAULT_TIMEOUT_S = 30.0
PART_SUFFIX = ".part"
_CHUNK_BYTES = 32 * 1024  # paramiko's SFTP read size: larger reads are split anyway


# -- errors --------------------------------------------------------------------------------------------


class SftpError(PeerError):
    """Talking to an SFTP server failed."""


class SftpUnavailable(SftpError, TransientError):
    """Connection refused, reset or lost, timeout, SSH negotiation failure: try again later."""


class SftpIncomplete(SftpUnavailable):
    """A transferred file's byte count differs from the remote size (still being written, cut short)."""


class SftpRejected(SftpError, PermanentError):
    """The server refused an operation on a file or folder."""


class SftpNotFound(SftpRejected):
    """No such remote file or folder."""


class SftpAuthRefused(SftpRejected, AuthError):
    """The server refused our key."""


class SftpHostKeyRefused(SftpRejected, AuthError):
    """The server's host key is not the one pinned in known_hosts (unknown or changed)."""


class SftpKeyUnusable(SftpRejected, AuthError):
    """Our private key or known_hosts file is missing, unreadable, encrypted or invalid."""


class _UnknownHostKey(paramiko.SSHException):
    """Raised by `_RefuseUnknownHost` so that the translation can name the offered key."""

    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__(f"{hostname} not in known_hosts")
        self.hostname = hostname
        self.key = key


class _RefuseUnknownHost(paramiko.MissingHostKeyPolicy):
    """paramiko's RejectPolicy, keeping the key offered so that the error can show its fingerprint."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise _UnknownHostKey(hostname, key)


@contextmanager
def sftp_errors(source: str, operation: str) -> Iterator[None]:
    """Translate paramiko and socket exceptions raised by `operation` into the SftpError tree.

    Only remote calls go inside: a local OSError (disk full) must keep its own type.
    """
    what = f"{source}: {operation}"
    try:
        yield
    except SftpError:
        raise
    except paramiko.AuthenticationException as exc:  # subclass of SSHException: keep it first
        raise SftpAuthRefused(f"{what}: key refused by the server", peer=PEER, source=source) from exc
    except paramiko.BadHostKeyException as exc:
        raise SftpHostKeyRefused(
            f"{what}: host key {exc.key.get_name()} {exc.key.fingerprint} differs from the pinned "
            f"{exc.expected_key.fingerprint}",
            peer=PEER,
            source=source,
        ) from exc
    except _UnknownHostKey as exc:
        raise SftpHostKeyRefused(
            f"{what}: host key {exc.key.get_name()} {exc.key.fingerprint} of {exc.hostname} is not in "
            "known_hosts",
            peer=PEER,
            source=source,
        ) from exc
    except (paramiko.SSHException, EOFError, TimeoutError, ConnectionError, socket.gaierror) as exc:
        raise SftpUnavailable(f"{what}: {_describe(exc)}", peer=PEER, source=source) from exc
    except UnicodeDecodeError as exc:  # a file name that is not UTF-8: paramiko cannot list the folder
        raise SftpRejected(f"{what}: undecodable file name", peer=PEER, source=source) from exc
    except OSError as exc:
        # paramiko maps the SFTP status codes: NO_SUCH_FILE → ENOENT, PERMISSION_DENIED → EACCES, other
        # failures (disk full, unsupported operation) → no errno. Socket errors carry their own errno.
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise SftpRejected(f"{what}: permission denied", peer=PEER, source=source) from exc
        if exc.errno == errno.ENOENT:
            raise SftpNotFound(f"{what}: no such file or folder", peer=PEER, source=source) from exc
        raise SftpUnavailable(f"{what}: {_describe(exc)}", peer=PEER, source=source) from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return "connection refused"  # paramiko's summary of a refusal on every address, without errno
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


# -- target --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SftpTarget:
    """Where to connect and as whom: one account and one folder on an SFTP server.

    `path` is the remote folder: absolute, or relative to the login folder (``""`` is the login folder).
    `key_file` and `known_hosts` are local paths, already resolved by the caller. `timeout_s` bounds the
    TCP connection, the banner, the authentication, the channel opening and every wait for the server.
    """

    host: str
    port: int
    username: str
    path: str
    key_file: Path
    known_hosts: Path
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_url(
        cls, url: str, *, key_file: Path, known_hosts: Path, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> Self:
        """Parse ``sftp://user@host:port/path``; port 22 when absent.

        The path is absolute (``/depot``); ``/~/depot`` names a folder relative to the login folder, as
        in the IETF SFTP URI draft. Percent-escapes are decoded. Raises ValueError for another scheme, a
        missing user or host, a password in the URL, or a bad port.
        """
        parts = urlsplit(url)
        if parts.scheme != "sftp" or not parts.hostname or not parts.username:
            raise ValueError("expected sftp://user@host:port/path")
        if parts.password is not None:
            raise ValueError("no password in the URL: authentication is by key")
        port = parts.port if parts.port is not None else 22
        path = unquote(parts.path)
        if path == "/~" or path.startswith("/~/"):
            path = path[3:]
        elif not path:
            path = "/"
        return cls(parts.hostname, port, unquote(parts.username), path, key_file, known_hosts, timeout_s)

    @property
    def address(self) -> str:
        """``user@host:port``, for messages (no secret in it)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.username}@{host}:{self.port}"

    def remote(self, name: str) -> str:
        """The remote path of `name` in the target folder."""
        return posixpath.join(self.path, name) if self.path else name


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A regular file in a remote folder; `mtime` in seconds since the epoch (0 when not given)."""

    name: str
    size: int
    mtime: float


# -- session -------------------------------------------------------------------------------------------


class SftpSession:
    """One SSH connection with an SFTP channel; use as a context manager.

    Connecting raises `SftpKeyUnusable`, `SftpHostKeyRefused`, `SftpAuthRefused` or `SftpUnavailable`;
    each operation raises `SftpUnavailable`, `SftpRejected` or `SftpNotFound`. `source` names the
    connection in messages (default ``sftp user@host:port``).
    """

    def __init__(self, target: SftpTarget, *, source: str = "") -> None:
        self.target = target
        self.source = source or f"sftp {target.address}"
        self.timeout_s = target.timeout_s
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- connection ------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection and the SFTP channel (see the class docstring for the errors)."""
        if self._sftp is not None:
            return
        pkey = self._load_key()
        client = paramiko.SSHClient()
        self._load_known_hosts(client)
        client.set_missing_host_key_policy(_RefuseUnknownHost())
        target = self.target
        try:
            with sftp_errors(self.source, "connect"):
                client.connect(
                    target.host,
                    port=target.port,
                    username=target.username,
                    pkey=pkey,
                    allow_agent=False,
                    look_for_keys=False,
                    timeout=self.timeout_s,
                    banner_timeout=self.timeout_s,
                    auth_timeout=self.timeout_s,
                    channel_timeout=self.timeout_s,
                )
                sftp = client.open_sftp()
                channel = sftp.get_channel()
                if channel is not None:
                    channel.settimeout(self.timeout_s)
        except BaseException:
            client.close()
            raise
        self._client, self._sftp = client, sftp
        logger.debug("%s: connected", self.source)

    def close(self) -> None:
        """Close the channel and the connection (idempotent; errors while closing are ignored)."""
        sftp, client = self._sftp, self._client
        self._sftp = self._client = None
        if sftp is not None:
            try:
                sftp.close()
            except (OSError, EOFError, paramiko.SSHException):
                logger.debug("%s: error while closing the SFTP channel", self.source, exc_info=True)
        if client is not None:
            client.close()

    @property
    def is_connected(self) -> bool:
        """Whether the SSH connection is still up (a dropped one makes every operation fail)."""
        if self._client is None:
            return False
        transport = self._client.get_transport()
        return transport is not None and transport.is_active()

    def _load_key(self) -> paramiko.PKey:
        path = self.target.key_file
        try:
            return paramiko.PKey.from_path(path)
        except paramiko.PasswordRequiredException as exc:
            reason = "encrypted (a key without passphrase is expected)"
            raise SftpKeyUnusable(f"{self.source}: key file {path}: {reason}", source=self.source) from exc
        except (OSError, ValueError, TypeError, UnknownKeyType, paramiko.SSHException) as exc:
            # cryptography raises TypeError for an encrypted key given without password
            reason = "encrypted" if isinstance(exc, TypeError) else f"unusable ({type(exc).__name__})"
            raise SftpKeyUnusable(f"{self.source}: key file {path}: {reason}", source=self.source) from exc

    def _load_known_hosts(self, client: paramiko.SSHClient) -> None:
        # Only this file, never ~/.ssh/known_hosts: the pinned key is part of the connector's settings.
        path = self.target.known_hosts
        try:
            client.get_host_keys().load(str(path))
        except (OSError, UnicodeDecodeError, InvalidHostKey) as exc:
            raise SftpKeyUnusable(
                f"{self.source}: known_hosts file {path}: unusable ({type(exc).__name__})", source=self.source
            ) from exc

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            raise RuntimeError("SftpSession used outside its context")
        return self._sftp

    # -- operations ------------------------------------------------------------------------------------

    def list_files(self, remote_dir: str | None = None) -> list[RemoteFile]:
        """The regular files of `remote_dir` (default: the target's folder), sorted by name.

        Folders, symbolic links and special files are left out.
        """
        folder = self.target.path if remote_dir is None else remote_dir
        with sftp_errors(self.source, f"list {folder or '.'}"):
            entries = self.sftp.listdir_attr(folder or ".")
        files = [
            RemoteFile(e.filename, int(e.st_size or 0), float(e.st_mtime or 0))
            for e in entries
            if e.st_mode is not None and stat.S_ISREG(e.st_mode)
        ]
        return sorted(files, key=lambda f: f.name)

    def download(self, remote_path: str, local_path: Path, *, mtime: float | None = None) -> int:
        """Copy `remote_path` to `local_path` (replaced if present); returns the number of bytes.

        The bytes go to a hidden temporary name beside `local_path`, are synced, and the file is renamed
        only when their count equals the remote size both before and after the transfer; otherwise the
        partial copy is deleted and `SftpIncomplete` raised. The local modification time is `mtime`, by
        default the remote one. A local OSError (disk full) propagates as is.
        """
        what = f"download {remote_path}"
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{local_path.name[:40]}.", suffix=PART_SUFFIX, dir=local_path.parent
        )
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                with self._open(remote_path, "rb", what) as remote:
                    with sftp_errors(self.source, what):
                        before = remote.stat()
                        remote.prefetch(before.st_size)
                    size = 0
                    while True:
                        with sftp_errors(self.source, what):
                            chunk = remote.read(_CHUNK_BYTES)
                        if not chunk:
                            break
                        out.write(chunk)
                        size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            with sftp_errors(self.source, what):
                after = self.sftp.stat(remote_path)
            sizes = {size, before.st_size, after.st_size}
            if len(sizes) != 1 or before.st_mtime != after.st_mtime:
                raise SftpIncomplete(
                    f"{self.source}: {what}: {size} bytes read, remote size {before.st_size} then "
                    f"{after.st_size}",
                    peer=PEER,
                    source=self.source,
                )
            stamp = mtime if mtime is not None else float(after.st_mtime or 0)
            os.utime(tmp, (stamp, stamp))
            os.replace(tmp, local_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(local_path.parent)
        logger.info("%s: downloaded %s (%d bytes)", self.source, remote_path, size)
        return size

    def remove(self, remote_path: str) -> None:
        """Delete the remote file `remote_path`."""
        with sftp_errors(self.source, f"remove {remote_path}"):
            self.sftp.remove(remote_path)
        logger.info("%s: removed %s", self.source, remote_path)

    def upload(self, local_path: Path, remote_dir: str, name: str) -> int:
        """Copy `local_path` into `remote_dir` as `name`; returns the number of bytes.

        Written as ``<name>.part`` (truncated if a previous attempt left one), synced when the server
        offers ``fsync@openssh.com``, its remote size checked, then renamed to `name`, replacing an
        existing file. Raises `SftpIncomplete` (the ``.part`` removed) when the sizes differ.
        """
        final = posixpath.join(remote_dir, name) if remote_dir else name
        part = final + PART_SUFFIX
        what = f"upload {final}"
        size = 0
        with local_path.open("rb") as inp, self._open(part, "wb", what) as remote:
            with sftp_errors(self.source, what):
                remote.set_pipelined(True)
            while chunk := inp.read(_CHUNK_BYTES):
                with sftp_errors(self.source, what):
                    remote.write(chunk)
                size += len(chunk)
            with sftp_errors(self.source, what):
                remote.flush()
                self._fsync(remote)
        with sftp_errors(self.source, what):
            written = self.sftp.stat(part).st_size
        if written != size:
            with sftp_errors(self.source, f"remove {part}"):
                self.sftp.remove(part)
            raise SftpIncomplete(
                f"{self.source}: {what}: {written} bytes on the server, {size} sent",
                peer=PEER,
                source=self.source,
            )
        self._rename(part, final, what)
        logger.info("%s: uploaded %s (%d bytes)", self.source, final, size)
        return size

    @contextmanager
    def _open(self, path: str, mode: str, what: str) -> Iterator[paramiko.SFTPFile]:
        """A remote file, opened and closed under the translation (closing flushes pipelined writes)."""
        with sftp_errors(self.source, what):
            remote = self.sftp.open(path, mode)
        try:
            yield remote
        except BaseException:
            with suppress(OSError, EOFError, paramiko.SSHException):
                remote.close()
            raise
        with sftp_errors(self.source, what):
            remote.close()

    def _rename(self, part: str, final: str, what: str) -> None:
        try:
            with sftp_errors(self.source, what):
                self.sftp.posix_rename(part, final)
            return
        except SftpUnavailable as exc:
            cause = exc.__cause__
            # Not an unsupported extension but a real failure (connection lost, timeout): give up.
            if type(cause) is not OSError or cause.errno is not None or not self.is_connected:
                raise
        # Without posix-rename, the SFTP v3 rename refuses an existing target (OpenSSH, RFC draft 02 §6.5):
        # remove it first. A reader may then briefly see no file, but never a partial one.
        try:
            with sftp_errors(self.source, what):
                self.sftp.remove(final)
        except SftpNotFound:
            pass
        with sftp_errors(self.source, what):
            self.sftp.rename(part, final)

    def _fsync(self, remote: paramiko.SFTPFile) -> None:
        """Ask the server to sync the open file (OpenSSH's ``fsync@openssh.com``); skipped if unsupported.

        paramiko has no public call for this extension: its request method is used as paramiko's own
        `SFTPFile.check` does.
        """
        request = cast(Any, self.sftp)._request
        try:
            request(paramiko.sftp.CMD_EXTENDED, "fsync@openssh.com", remote.handle)
        except OSError as exc:
            if exc.errno is not None:
                raise
            logger.debug("%s: fsync@openssh.com not supported", self.source)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
