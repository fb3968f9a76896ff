"""SftpSession against real servers on loopback: OpenSSH sshd (tests/sshd.py) and asyncssh."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncssh
import pytest

from aiguilleur.errors import AuthError, PermanentError, TransientError
from aiguilleur.fakes.mdel_portal import SftpFaults, SftpPortalServer
from aiguilleur.transport.sftp import (
    RemoteFile,
    SftpAuthRefused,
    SftpHostKeyRefused,
    SftpIncomplete,
    SftpKeyUnusable,
    SftpNotFound,
    SftpRejected,
    SftpSession,
    SftpTarget,
    SftpUnavailable,
)
from tests.sshd import SshdServer, generate_key

DATA = b"PK\x03\x04" + bytes(range(256)) * 400  # ~100 KB, several SFTP reads and writes


# -- SftpTarget (no server) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "sftp://msp@sftp.example.org/depot", ("sftp.example.org", 22, "msp", "/depot"), id="abs"
        ),
        pytest.param("sftp://msp@h:2222/~/depot/in", ("h", 2222, "msp", "depot/in"), id="home-relative"),
        pytest.param("sftp://msp@h:2222/~", ("h", 2222, "msp", ""), id="home"),
        pytest.param("sftp://msp@h", ("h", 22, "msp", "/"), id="root"),
        pytest.param("sftp://m%C3%A9@h/d%20p", ("h", 22, "mé", "/d p"), id="escapes"),
        pytest.param("sftp://msp@[::1]:2200/x", ("::1", 2200, "msp", "/x"), id="ipv6"),
    ],
)
def test_target_from_url(url: str, expected: tuple[str, int, str, str]) -> None:
    target = SftpTarget.from_url(url, key_file=Path("k"), known_hosts=Path("h"))
    assert (target.host, target.port, target.username, target.path) == expected


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ftp://msp@h/x", id="scheme"),
        pytest.param("sftp://h/x", id="no-user"),
        pytest.param("sftp://msp:secret@h/x", id="password"),
        pytest.param("sftp://msp@h:99999/x", id="port"),
    ],
)
def test_target_refuses_bad_url(url: str) -> None:
    with pytest.raises(ValueError):
        SftpTarget.from_url(url, key_file=Path("k"), known_hosts=Path("h"))


def test_target_remote_and_address() -> None:
    target = SftpTarget.from_url("sftp://msp@[::1]:2200/~/", key_file=Path("k"), known_hosts=Path("h"))
    assert target.address == "msp@[::1]:2200"
    assert SftpTarget("h", 22, "u", "", Path(), Path()).remote("a.zip") == "a.zip"
    assert SftpTarget("h", 22, "u", "/in", Path(), Path()).remote("a.zip") == "/in/a.zip"


def test_error_families() -> None:
    assert issubclass(SftpAuthRefused, AuthError)
    assert issubclass(SftpHostKeyRefused, AuthError)
    assert issubclass(SftpKeyUnusable, AuthError)
    assert issubclass(SftpRejected, PermanentError) and not issubclass(SftpRejected, AuthError)
    assert issubclass(SftpIncomplete, TransientError)


def test_closed_port_is_unavailable(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(tmp_path / "id")
    (tmp_path / "known_hosts").write_text("")
    with SftpPortalServer(tmp_path / "root", [key.export_public_key().decode()]) as server:
        port = server.port  # a port nobody listens on once the server is stopped
    target = SftpTarget("127.0.0.1", port, "mairie", "/", tmp_path / "id", tmp_path / "known_hosts", 5.0)
    with pytest.raises(SftpUnavailable, match="connect: connection refused"):
        SftpSession(target).connect()


# -- against OpenSSH sshd ------------------------------------------------------------------------------


@pytest.fixture
def folder(sshd_server: SshdServer) -> str:
    return sshd_server.fresh_dir("transport")


def _target(server: SshdServer, folder: str, **changes: Path) -> SftpTarget:
    target = SftpTarget.from_url(
        server.url(folder), key_file=server.client_key, known_hosts=server.known_hosts
    )
    return SftpTarget(**{**{f: getattr(target, f) for f in target.__slots__}, **changes})


@pytest.mark.integration
def test_list_download_remove(sshd_server: SshdServer, folder: str, tmp_path: Path) -> None:
    sshd_server.put(f"{folder}/b.zip", DATA, mtime=1_700_000_000)
    sshd_server.put(f"{folder}/a.txt", b"hello")
    sshd_server.make_dir(f"{folder}/sub")
    os.symlink(sshd_server.data_dir / folder / "a.txt", sshd_server.data_dir / folder / "link.zip")
    local = tmp_path / "b.zip"
    local.write_bytes(b"an older copy")

    with SftpSession(_target(sshd_server, folder), source="test") as session:
        files = session.list_files()
        size = session.download(session.target.remote("b.zip"), local)
        session.remove(session.target.remote("b.zip"))
        after = session.list_files()

    assert [f.name for f in files] == ["a.txt", "b.zip"]  # no folder, no symlink
    assert files[1] == RemoteFile("b.zip", len(DATA), 1_700_000_000.0)
    assert size == len(DATA)
    assert local.read_bytes() == DATA
    assert local.stat().st_mtime == 1_700_000_000  # the remote one, by default
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zip"]  # no temporary file left
    assert [f.name for f in after] == ["a.txt"]


@pytest.mark.integration
def test_download_sets_the_given_mtime(sshd_server: SshdServer, folder: str, tmp_path: Path) -> None:
    sshd_server.put(f"{folder}/x.zip", DATA)
    with SftpSession(_target(sshd_server, folder)) as session:
        session.download(session.target.remote("x.zip"), tmp_path / "x.zip", mtime=1_000_000)
    assert (tmp_path / "x.zip").stat().st_mtime == 1_000_000


@pytest.mark.integration
def test_download_of_a_missing_file_leaves_nothing(
    sshd_server: SshdServer, folder: str, tmp_path: Path
) -> None:
    with SftpSession(_target(sshd_server, folder)) as session, pytest.raises(SftpNotFound, match="absent"):
        session.download(session.target.remote("absent.zip"), tmp_path / "absent.zip")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.integration
def test_upload_publishes_the_final_name(sshd_server: SshdServer, folder: str, tmp_path: Path) -> None:
    local = tmp_path / "r.zip"
    local.write_bytes(DATA)
    sshd_server.put(f"{folder}/r.zip", b"an older copy")  # replaced
    sshd_server.put(f"{folder}/r.zip.part", b"left by a failed attempt")  # overwritten, then renamed

    with SftpSession(_target(sshd_server, folder)) as session:
        assert session.upload(local, session.target.path, "r.zip") == len(DATA)
        names = [f.name for f in session.list_files()]

    assert names == ["r.zip"]
    assert (sshd_server.data_dir / folder / "r.zip").read_bytes() == DATA


@pytest.mark.integration
def test_upload_into_a_read_only_folder_is_rejected(
    sshd_server: SshdServer, folder: str, tmp_path: Path
) -> None:
    sshd_server.make_dir(f"{folder}/locked", writable=False)
    local = tmp_path / "r.zip"
    local.write_bytes(DATA)
    with SftpSession(_target(sshd_server, folder)) as session:
        with pytest.raises(SftpRejected, match="permission denied") as caught:
            session.upload(local, session.target.remote("locked"), "r.zip")
        assert not isinstance(caught.value, AuthError)
        assert session.is_connected  # one refused operation does not end the session
        assert session.list_files(session.target.remote("locked")) == []


@pytest.mark.integration
def test_changed_host_key_is_refused(sshd_server: SshdServer, folder: str, tmp_path: Path) -> None:
    other = generate_key(tmp_path / "other_host").split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd_server.port} {other[0]} {other[1]}\n")
    with pytest.raises(SftpHostKeyRefused, match=r"SHA256:\S+ differs from the pinned SHA256:"):
        SftpSession(_target(sshd_server, folder, known_hosts=known)).connect()


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("", id="empty"),
        pytest.param("[127.0.0.1]:1 {key}", id="other-port"),
        pytest.param("sftp.example.org {key}", id="other-host"),
    ],
)
@pytest.mark.integration
def test_unknown_host_key_is_refused(sshd_server: SshdServer, folder: str, tmp_path: Path, line: str) -> None:
    key = " ".join(sshd_server.known_hosts_line().split()[1:])
    known = tmp_path / "known_hosts"
    known.write_text(line.format(key=key) + "\n")
    with pytest.raises(SftpHostKeyRefused, match=r"ssh-ed25519 SHA256:\S+ of \[127.0.0.1\]:\d+ is not in"):
        SftpSession(_target(sshd_server, folder, known_hosts=known)).connect()


@pytest.mark.integration
def test_unknown_client_key_is_refused(sshd_server: SshdServer, folder: str, tmp_path: Path) -> None:
    generate_key(tmp_path / "stranger")
    session = SftpSession(_target(sshd_server, folder, key_file=tmp_path / "stranger"), source="msp")
    with pytest.raises(SftpAuthRefused, match="msp: connect: key refused") as caught:
        session.connect()
    assert "PRIVATE" not in str(caught.value)
    assert not session.is_connected


@pytest.mark.integration
def test_unusable_key_files_are_refused(sshd_server: SshdServer, folder: str, tmp_path: Path) -> None:
    with pytest.raises(SftpKeyUnusable, match="key file"):
        SftpSession(_target(sshd_server, folder, key_file=tmp_path / "missing")).connect()
    (tmp_path / "garbage").write_text("not a key")
    with pytest.raises(SftpKeyUnusable, match="key file"):
        SftpSession(_target(sshd_server, folder, key_file=tmp_path / "garbage")).connect()
    encrypted = asyncssh.generate_private_key("ssh-ed25519")
    encrypted.write_private_key(tmp_path / "encrypted", passphrase="pass phrase")
    with pytest.raises(SftpKeyUnusable, match="encrypted"):
        SftpSession(_target(sshd_server, folder, key_file=tmp_path / "encrypted")).connect()
    with pytest.raises(SftpKeyUnusable, match="known_hosts"):
        SftpSession(_target(sshd_server, folder, known_hosts=tmp_path / "missing")).connect()


# -- against asyncssh servers that misbehave on purpose ------------------------------------------------


class _LyingSizes(asyncssh.SFTPServer):
    """Announces 10 more bytes than a file holds, as for a file still being written."""

    async def fstat(self, file_obj: object) -> asyncssh.SFTPAttrs:
        attrs = asyncssh.SFTPAttrs.from_local(await _value(super().fstat(file_obj)))
        attrs.size = (attrs.size or 0) + 10
        return attrs


class _NoPosixRename(asyncssh.SFTPServer):
    """An SFTP v3 server without the posix-rename@openssh.com extension."""

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPOpUnsupported("posix-rename not supported")


async def _value(value: object) -> os.stat_result:
    result = await value if asyncio.iscoroutine(value) else value
    assert isinstance(result, os.stat_result)
    return result


@contextmanager
def asyncssh_sftp(
    root: Path, tmp_path: Path, session: Callable[..., asyncssh.SFTPServer]
) -> Iterator[SftpTarget]:
    """An asyncssh SFTP server chrooted to `root`, with `session` as its SFTP handler; yields the target."""
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key.write_private_key(tmp_path / "client")
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def call(coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)  # type: ignore[arg-type]

    async def listen() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1", 0, server_host_keys=[host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(client_key.export_public_key().decode()),
            sftp_factory=lambda chan: session(chan, chroot=os.fsencode(root)), allow_scp=False,
        )  # fmt: skip

    acceptor = call(listen())
    assert isinstance(acceptor, asyncssh.SSHAcceptor)
    try:
        port = acceptor.get_port()
        public = host_key.export_public_key().decode().split()
        (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
        yield SftpTarget("127.0.0.1", port, "anyone", "/", tmp_path / "client", tmp_path / "known_hosts")
    finally:
        acceptor.close()
        call(acceptor.wait_closed())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.mark.integration
def test_download_size_mismatch_deletes_the_partial_copy(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "x.zip").write_bytes(DATA)
    local = tmp_path / "local"
    local.mkdir()
    expected = f"{len(DATA)} bytes read, remote size {len(DATA) + 10}"
    with (
        asyncssh_sftp(root, tmp_path, _LyingSizes) as target,
        SftpSession(target) as session,
        pytest.raises(SftpIncomplete, match=expected),
    ):
        session.download("/x.zip", local / "x.zip")
    assert list(local.iterdir()) == []
    assert (root / "x.zip").read_bytes() == DATA  # left on the server


@pytest.mark.integration
def test_upload_without_posix_rename_replaces_the_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "r.zip").write_bytes(b"an older copy")
    local = tmp_path / "r.zip"
    local.write_bytes(DATA)
    with asyncssh_sftp(root, tmp_path, _NoPosixRename) as target, SftpSession(target) as session:
        session.upload(local, "/", "r.zip")
    assert sorted(p.name for p in root.iterdir()) == ["r.zip"]
    assert (root / "r.zip").read_bytes() == DATA


@pytest.mark.integration
def test_connection_dropped_mid_download(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(tmp_path / "id")
    faults = SftpFaults(drop_after_ops=4)  # open, fstat, then a read or two
    local = tmp_path / "local"
    local.mkdir()
    server = SftpPortalServer(tmp_path / "root", [key.export_public_key().decode()], faults=faults)
    with server:
        (server.depot_dir / "x.zip").write_bytes(DATA * 4)
        target = SftpTarget(
            "127.0.0.1", server.port, "mairie", "/depot", tmp_path / "id",
            server.write_known_hosts(tmp_path / "known_hosts"), timeout_s=10,
        )  # fmt: skip
        with SftpSession(target) as session, pytest.raises(SftpUnavailable):
            session.download("/depot/x.zip", local / "x.zip")
        assert not session.is_connected
    assert faults.drops >= 1
    assert list(local.iterdir()) == []
