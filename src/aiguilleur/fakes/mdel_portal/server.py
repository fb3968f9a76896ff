"""The portal's SFTP server (asyncssh) on loopback, running in a background thread with its own loop.

Layout seen by the client (chrooted to `root`)::

    /depot/     demands waiting for the commune (read, then removed by the client)
    /retours/   return zips uploaded by the commune (write ``x.part``, rename to ``x``)

Public-key authentication only, one account (`username`); passwords and keyboard-interactive are not
offered. Writes are allowed in ``/retours`` only, removals in both folders, nothing else (no mkdir,
symlink, chmod outside ``/retours``), as on an account the portal would set up for one commune.
Recipe from ``research/cold-mail-sftp.md`` §4.2 (asyncssh ``listen`` + ``SFTPServer(chroot=...)``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import posixpath
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import asyncssh

from aiguilleur.fakes.mdel_portal.faults import SftpFaults

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_WRITE_FLAGS = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC | asyncssh.FXF_APPEND
_TIMEOUT_S = 30.0


async def _resolve(value: _T | Awaitable[_T]) -> _T:
    if inspect.isawaitable(value):
        return await value
    return value


def _load_keys(keys: Iterable[str | asyncssh.SSHKey] | Path) -> list[asyncssh.SSHKey]:
    """Public keys from SSHKey objects, OpenSSH public key lines, or an authorized_keys file."""
    if isinstance(keys, Path):
        keys = [line for line in keys.read_text().splitlines() if line.strip() and not line.startswith("#")]
    loaded = []
    for key in keys:
        loaded.append(key if isinstance(key, asyncssh.SSHKey) else asyncssh.import_public_key(key.strip()))
    return loaded


class _Session(asyncssh.SFTPServer):
    """One SFTP session: counts operations for the faults, enforces the folder policy."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], owner: SftpPortalServer) -> None:
        super().__init__(chan, chroot=os.fsencode(owner.root))
        self._owner = owner
        self._ops = 0

    def _tick(self) -> None:
        self._ops += 1
        limit = self._owner.faults.drop_after_ops
        if limit is not None and self._ops > limit:
            self._owner.faults.drops += 1
            logger.info("sftp fault: dropping the connection at operation %d", self._ops)
            self.connection.abort()
            raise asyncssh.SFTPConnectionLost("connection dropped (fault injection)")

    def _inside(self, path: bytes, *folders: str) -> bool:
        virtual = posixpath.normpath(posixpath.join(b"/", path))
        return any(virtual.startswith(b"/" + os.fsencode(folder) + b"/") for folder in folders)

    def _require(self, path: bytes, *folders: str) -> None:
        if not self._inside(path, *folders):
            raise asyncssh.SFTPPermissionDenied("not allowed here")

    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        self._tick()
        if pflags & _WRITE_FLAGS:
            self._require(path, self._owner.retours)
        return await _resolve(super().open(path, pflags, attrs))

    async def close(self, file_obj: object) -> None:
        self._tick()
        await _resolve(super().close(file_obj))

    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        self._tick()
        if self._owner.faults.read_delay_s > 0:
            await asyncio.sleep(self._owner.faults.read_delay_s)
        return await _resolve(super().read(file_obj, offset, size))

    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        self._tick()
        return await _resolve(super().write(file_obj, offset, data))

    async def stat(self, path: bytes) -> os.stat_result | asyncssh.SFTPAttrs:
        self._tick()
        return await _resolve(super().stat(path))

    async def lstat(self, path: bytes) -> os.stat_result | asyncssh.SFTPAttrs:
        self._tick()
        return await _resolve(super().lstat(path))

    async def fstat(self, file_obj: object) -> os.stat_result | asyncssh.SFTPAttrs:
        self._tick()
        return await _resolve(super().fstat(file_obj))

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        self._tick()
        async for name in super().scandir(path):
            yield name

    async def remove(self, path: bytes) -> None:
        self._tick()
        self._require(path, self._owner.depot, self._owner.retours)
        await _resolve(super().remove(path))

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._tick()
        self._require(oldpath, self._owner.retours)
        self._require(newpath, self._owner.retours)
        await _resolve(super().rename(oldpath, newpath))

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._tick()
        self._require(oldpath, self._owner.retours)
        self._require(newpath, self._owner.retours)
        await _resolve(super().posix_rename(oldpath, newpath))

    async def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._tick()
        self._require(path, self._owner.retours)
        await _resolve(super().setstat(path, attrs))

    async def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        self._tick()
        await _resolve(super().fsetstat(file_obj, attrs))

    async def realpath(self, path: bytes) -> bytes:
        self._tick()
        return await _resolve(super().realpath(path))

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise asyncssh.SFTPPermissionDenied("mkdir not allowed")

    def rmdir(self, path: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("rmdir not allowed")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("symlink not allowed")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("link not allowed")


class _Ssh(asyncssh.SSHServer):
    """Authentication: one user, public keys only."""

    def __init__(self, owner: SftpPortalServer) -> None:
        self._owner = owner
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._owner._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._owner._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        if self._owner.faults.refuse_auth or username != self._owner.username:
            return False
        return key.public_data in self._owner._authorized


class SftpPortalServer:
    """An SFTP server for the fake portal; use as a context manager or call start() / stop().

    `authorized_keys`: public keys allowed to log in as `username` (SSHKey objects, OpenSSH public key
    lines, or the Path of an authorized_keys file). `host_key`: the server's private key (SSHKey or
    Path to an OpenSSH private key file); a fresh ed25519 key by default. The folders `depot` and
    `retours` are created under `root`.
    """

    def __init__(
        self,
        root: Path,
        authorized_keys: Iterable[str | asyncssh.SSHKey] | Path,
        *,
        username: str = "mairie",
        host_key: asyncssh.SSHKey | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        depot: str = "depot",
        retours: str = "retours",
        faults: SftpFaults | None = None,
    ) -> None:
        self.root = root.resolve()
        self.username = username
        self.host = host
        self.depot = depot.strip("/")
        self.retours = retours.strip("/")
        self.faults = faults or SftpFaults()
        self._requested_port = port
        self._authorized = {key.public_data for key in _load_keys(authorized_keys)}
        if isinstance(host_key, Path):
            host_key = asyncssh.read_private_key(host_key)
        self.host_key = host_key or asyncssh.generate_private_key("ssh-ed25519")
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._port = 0

    @property
    def depot_dir(self) -> Path:
        return self.root / self.depot

    @property
    def retours_dir(self) -> Path:
        return self.root / self.retours

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def host_key_public(self) -> str:
        """The known_hosts line pinning this server: ``[127.0.0.1]:PORT ssh-ed25519 AAAA…``."""
        public = self.host_key.export_public_key("openssh").decode().split()
        return f"[{self.host}]:{self.port} {public[0]} {public[1]}"

    def write_known_hosts(self, path: Path) -> Path:
        path.write_text(self.host_key_public + "\n")
        return path

    def _run(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        ready.set()
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _call(self, coro: Any) -> Any:
        assert self._loop is not None
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(_TIMEOUT_S)

    async def _listen(self) -> int:
        self._acceptor = await asyncssh.listen(
            self.host,
            self._requested_port,
            server_host_keys=[self.host_key],
            server_factory=lambda: _Ssh(self),
            sftp_factory=lambda chan: _Session(chan, self),
            allow_scp=False,
            gss_host=None,
        )
        return self._acceptor.get_port()

    async def _close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
        for conn in list(self._connections):
            conn.close()
            await conn.wait_closed()

    def start(self) -> Self:
        """Create the folders, start the thread and the listener; return when it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self.depot_dir.mkdir(parents=True, exist_ok=True)
        self.retours_dir.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._loop, ready), name="mdel-sftp", daemon=True
        )
        self._thread.start()
        ready.wait(_TIMEOUT_S)
        try:
            self._port = int(self._call(self._listen()))
        except BaseException:
            self.stop()  # e.g. the port is taken: do not leave the thread behind
            raise
        logger.info("fake MDEL portal SFTP server on %s:%d", self.host, self._port)
        return self

    def stop(self) -> None:
        """Close the listener and every connection, stop the loop and join the thread (idempotent)."""
        if self._thread is None or self._loop is None:
            return
        try:
            self._call(self._close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_TIMEOUT_S)
            self._thread = None
            self._loop = None
            self._acceptor = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_forever(
    root: Path,
    port: int,
    authorized_keys: Path | Iterable[str],
    host_key: Path,
    *,
    host: str = "127.0.0.1",
    username: str = "mairie",
    stop: threading.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve `root` over SFTP until interrupted (Ctrl-C) or until `stop` is set.

    `host_key` is an OpenSSH private key file, created (ed25519, mode 0600) when missing, so clients
    keep the same pinned key across runs. Once listening (on a free port when `port` is 0), calls
    `on_ready` with the port, then prints the known_hosts line on standard output.
    """
    if not host_key.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        host_key.parent.mkdir(parents=True, exist_ok=True)
        key.write_private_key(host_key)
        host_key.chmod(0o600)
    keys = authorized_keys if isinstance(authorized_keys, Path) else list(authorized_keys)
    server = SftpPortalServer(root, keys, username=username, host_key=host_key, host=host, port=port)
    with server:
        if on_ready is not None:
            on_ready(server.port)
        print(server.host_key_public, flush=True)  # the CLI user pins this line
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            logger.info("fake MDEL portal SFTP server interrupted")
