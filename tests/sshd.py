"""Pytest plugin: a real OpenSSH sshd on loopback, unprivileged, serving SFTP with key authentication.

Fixtures: ``sshd_server`` (session; one server shared by the tests, each test working in its own folder)
and ``sshd_factory`` (function; starts more servers, e.g. to stop one in the middle of a test, all
stopped after the test). Recipe of research/cold-mail-sftp.md §4.2: ``sshd -D -e -f <config>`` run as a
normal account (as root: a throwaway system account ``aiguilleur-sftp``, because an unprivileged sshd can
only log in the account running it and ``nobody`` is locked), ed25519 host and client keys made with
ssh-keygen, ``ForceCommand internal-sftp -d <data>``. Without sshd the tests are skipped, except under
CI=true where they fail (install it with scripts/system-deps.sh).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HOST = "127.0.0.1"
SFTP_USER = "aiguilleur-sftp"  # the throwaway account sshd runs as when the tests run as root
READY_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.05
STOP_TIMEOUT_S = 10.0


def find_sshd() -> Path | None:
    """The sshd binary: $SSHD, /usr/sbin/sshd, then sshd on PATH."""
    if env := os.environ.get("SSHD"):
        return Path(env)
    for candidate in ("/usr/sbin/sshd", shutil.which("sshd")):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def generate_key(path: Path) -> str:
    """Create an ed25519 key pair without passphrase at `path` (and `path`.pub); return the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "aiguilleur-test", "-f", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return Path(f"{path}.pub").read_text().strip()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _account() -> pwd.struct_passwd:
    """The account sshd runs as (and the only one it can log in): ours, or the throwaway one as root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(SFTP_USER)
    except KeyError:
        # "*" rather than useradd's "!": sshd without PAM refuses "!" as a locked account.
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", "--password", "*", SFTP_USER],
            check=True,
        )  # fmt: skip
        return pwd.getpwnam(SFTP_USER)


def _sshd_version(sshd: Path) -> tuple[int, int]:
    out = subprocess.run([sshd, "-V"], capture_output=True, text=True, check=False)
    found = re.search(r"OpenSSH_(\d+)\.(\d+)", out.stdout + out.stderr)
    return (int(found[1]), int(found[2])) if found else (0, 0)


@dataclass
class SshdServer:
    """A running sshd: log in as `user` with `client_key`, pin the host key with `known_hosts`.

    Sessions start in `data_dir` (relative SFTP paths are taken from there, see `url`). Tests create
    their folders and files through `make_dir` and `put`, which give them to the account sshd runs as.
    """

    sshd: Path
    base: Path
    port: int
    account: pwd.struct_passwd
    host: str = HOST
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def user(self) -> str:
        return self.account.pw_name

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def client_key(self) -> Path:
        return self.base / "client_ed25519"

    @property
    def host_key(self) -> Path:
        return self.base / "host_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.base / "known_hosts"

    @property
    def log(self) -> Path:
        return self.base / "sshd.log"

    def url(self, path: str = "") -> str:
        """``sftp://user@127.0.0.1:PORT/~/path``: `path` relative to `data_dir`."""
        return f"sftp://{self.user}@{self.host}:{self.port}/~/{path}"

    def known_hosts_line(self) -> str:
        key_type, key = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"[{self.host}]:{self.port} {key_type} {key}"

    def _give(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self.account.pw_uid, self.account.pw_gid, follow_symlinks=False)

    def make_dir(self, relative: str, *, writable: bool = True) -> Path:
        """Create `data_dir/relative` (and its parents); read-only for sshd's account unless `writable`."""
        path = self.data_dir
        for part in Path(relative).parts:
            path = path / part
            if not path.exists():
                path.mkdir()
                self._give(path)
        path.chmod(0o755 if writable else 0o555)
        return path

    def fresh_dir(self, prefix: str = "t") -> str:
        """A new empty folder under `data_dir`; returns its relative path."""
        relative = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.make_dir(relative)
        return relative

    def put(self, relative: str, data: bytes, *, mtime: float | None = None) -> Path:
        """Write a file under `data_dir`, owned by sshd's account."""
        path = self.data_dir / relative
        path.write_bytes(data)
        path.chmod(0o644)
        self._give(path)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    # -- life cycle ------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Keys, authorized_keys, known_hosts, data folder and config, all owned by sshd's account."""
        generate_key(self.host_key)
        public = generate_key(self.client_key)
        (self.base / "authorized_keys").write_text(public + "\n")
        self.known_hosts.write_text(self.known_hosts_line() + "\n")
        self.data_dir.mkdir()
        lines = [
            f"ListenAddress {self.host}",
            f"Port {self.port}",
            f"HostKey {self.host_key}",
            f"PidFile {self.base / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.base / 'authorized_keys'}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "PermitRootLogin no",
            "StrictModes no",  # the folder sits under the world-writable temporary directory
            f"AllowUsers {self.user}",
            "Subsystem sftp internal-sftp",
            f"ForceCommand internal-sftp -d {self.data_dir}",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "LogLevel VERBOSE",
        ]
        if _sshd_version(self.sshd) >= (9, 8):
            lines.append("PerSourcePenalties no")  # failed logins from the tests must not lock us out
        (self.base / "sshd_config").write_text("\n".join(lines) + "\n")
        for path in [self.base, *self.base.rglob("*")]:
            self._give(path)

    def start(self) -> None:
        """Start sshd (again, on the same port after `stop`) and wait until it sends its banner."""
        as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            as_user = {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [self.sshd, "-D", "-e", "-f", self.base / "sshd_config"],
                cwd=self.base, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, **as_user,
            )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._answers():
            if self.proc.poll() is not None:
                pytest.fail(f"sshd exited with {self.proc.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"sshd not ready after {READY_TIMEOUT_S}s:\n{self.log_text()}")
            time.sleep(POLL_INTERVAL_S)

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as s:
                return s.recv(64).startswith(b"SSH-")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM to sshd's process group (the listener and its sessions), by the pid we started."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # start_new_session: the group id is sshd's pid
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _new_server() -> SshdServer:
    sshd = find_sshd()
    if sshd is None or shutil.which("ssh-keygen") is None:
        message = "OpenSSH sshd or ssh-keygen not found; set SSHD"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} or install openssh-server (scripts/system-deps.sh)")
        pytest.skip(f"{message} or run `make test`, which installs them")
    # Not tmp_path: as root, /tmp/pytest-of-root (0700) is out of reach of the account running sshd.
    base = Path(tempfile.mkdtemp(prefix="sshdtest-"))
    server = SshdServer(sshd=sshd, base=base, port=_free_port(), account=_account())
    try:
        server.prepare()
        server.start()
    except BaseException:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
        raise
    return server


def _discard(server: SshdServer) -> None:
    server.stop()
    for folder, _, _ in os.walk(server.base):  # tests make read-only folders: let rmtree in (non-root)
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o755)
    shutil.rmtree(server.base, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SshdServer]:
    """One sshd for the session; tests work in their own folder (`SshdServer.fresh_dir`)."""
    server = _new_server()
    try:
        yield server
    finally:
        _discard(server)


@pytest.fixture
def sshd_factory() -> Iterator[Callable[[], SshdServer]]:
    """A function starting a dedicated sshd (that a test may stop and start again); all are removed after."""
    started: list[SshdServer] = []

    def start() -> SshdServer:
        server = _new_server()
        started.append(server)
        return server

    yield start
    for server in started:
        _discard(server)
