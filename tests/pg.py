"""Pytest plugin: a throwaway PostgreSQL server for the test run, and a fresh database per test.

Fixtures: ``pg_server`` (session; base DSN of the server), ``pg_database_factory`` (function; creates more
databases, all dropped after the test) and ``pg_dsn`` (function; one fresh database). Follows the recipe of
research/platform-recipes.md §1. Without PostgreSQL binaries the tests are skipped, except under CI=true where
they fail.
"""

from __future__ import annotations

import glob
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
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

READY_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05
STOP_TIMEOUT_S = 30.0


def find_bindir() -> Path | None:
    """PostgreSQL's server bindir: $PG_BINDIR, the newest Debian install, then initdb on PATH."""
    if env := os.environ.get("PG_BINDIR"):
        return Path(env)
    debian = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if debian:
        newest = max(debian, key=lambda p: [int(n) for n in re.findall(r"\d+", Path(p).parts[-3])])
        return Path(newest).parent
    if initdb := shutil.which("initdb"):
        return Path(initdb).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run_as(base: Path) -> dict[str, Any]:
    """Popen arguments dropping root: initdb and postgres refuse to run as root."""
    if os.geteuid() != 0:
        return {}
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        pw = pwd.getpwnam("nobody")
    os.chown(base, pw.pw_uid, pw.pw_gid)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _with_dbname(dsn: str, dbname: str) -> str:
    return urlsplit(dsn)._replace(path=f"/{dbname}").geturl()


def _read(log: Path) -> str:
    return log.read_text(errors="replace")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGINT)  # "fast" shutdown; SIGTERM would wait for clients to leave
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Start a PostgreSQL server on 127.0.0.1 for the session; yield its ``postgres`` database DSN."""
    bindir = find_bindir()
    if bindir is None:
        message = "PostgreSQL server binaries (initdb) not found; set PG_BINDIR"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} or install them (scripts/system-deps.sh)")
        pytest.skip(f"{message} or run `make test`, which installs them")
    # Not tmp_path: as root, /tmp/pytest-of-root (0700) is out of reach of the account running postgres.
    base = Path(tempfile.mkdtemp(prefix="pgtest-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        as_user = _run_as(base)
        data = base / "data"
        initdb = subprocess.run(
            [bindir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"],
            cwd=base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, **as_user,
        )  # fmt: skip
        if initdb.returncode != 0:
            pytest.fail(f"initdb failed ({initdb.returncode}):\n{initdb.stdout.decode(errors='replace')}")
        port = _free_port()
        log = base / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [bindir / "postgres", "-D", data, "-p", str(port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={base}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                cwd=base, stdout=out, stderr=subprocess.STDOUT, **as_user,
            )  # fmt: skip
        isready: list[str | Path] = [bindir / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)]
        deadline = time.monotonic() + READY_TIMEOUT_S
        while subprocess.run(isready, check=False).returncode != 0:
            if proc.poll() is not None:
                pytest.fail(f"postgres exited with {proc.returncode}:\n{_read(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"postgres not ready after {READY_TIMEOUT_S}s:\n{_read(log)}")
            time.sleep(POLL_INTERVAL_S)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_database_factory(pg_server: str) -> Iterator[Callable[[], str]]:
    """A function creating a fresh empty database and returning its DSN; all are dropped after the test."""
    created: list[str] = []

    def create() -> str:
        name = f"t_{uuid.uuid4().hex}"
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return _with_dbname(pg_server, name)

    yield create
    with psycopg.connect(pg_server, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def pg_dsn(pg_database_factory: Callable[[], str]) -> str:
    """DSN of a fresh empty database, dropped after the test."""
    return pg_database_factory()
