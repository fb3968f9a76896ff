"""The hub as an IT team starts it: a real process, a real socket, a graceful stop by signal."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

AIGUILLEUR = [sys.executable, "-m", "aiguilleur.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(proc: subprocess.Popen[str], url: str, timeout_s: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"hub exited with {proc.returncode}\n{out}\n{err}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.load(resp)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)  # polling a starting process, not timing behaviour
    pytest.fail("hub did not answer /healthz in time")


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"hub ignored SIGTERM\n{out}\n{err}")
    return out, err


def get(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)


def test_demo_starts_answers_health_and_stops_on_sigterm(tmp_path: Path):
    port = free_port()
    proc = subprocess.Popen(
        [*AIGUILLEUR, "demo", "--data-dir", str(tmp_path / "demo"), "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        health = wait_healthy(proc, f"http://127.0.0.1:{port}/healthz")
        assert health["status"] == "ok"
        token = (tmp_path / "demo" / "demo-token").read_text().strip()
        orgs = get(f"http://127.0.0.1:{port}/api/v1/organisations", token)
        assert {o["id"] for o in orgs} == {"nice", "cannes"}
        # the fake portal's demands are imported by the MDEL channel within the first synchronisation
        deadline = time.monotonic() + 60
        page = {"total": 0, "items": []}
        while time.monotonic() < deadline and page["total"] < 6:
            time.sleep(0.5)  # polling a running hub, not timing behaviour
            page = get(f"http://127.0.0.1:{port}/api/v1/dossiers?channel=mdel", token)
        assert page["total"] >= 6
        assert {d["procedure"] for d in page["items"]} <= {"RCO-LA", "AEC-LA", "ILE-LA"}
        assert list((tmp_path / "demo" / "mdel" / "error").glob("*.zip.log"))  # the hostile demand
    finally:
        out, _err = stop(proc)
    assert proc.returncode == 0
    assert f"http://127.0.0.1:{port}" in out and token in out
    assert oct((tmp_path / "demo" / "demo-token").stat().st_mode & 0o777) == "0o600"


def test_run_on_postgresql(tmp_path: Path, pg_dsn: str):
    port = free_port()
    config = tmp_path / "aiguilleur.toml"
    config.write_text(
        f'[hub]\ndatabase = "{pg_dsn}"\nlisten = "127.0.0.1:{port}"\n\n'
        '[[organisations]]\nid = "nice"\nname = "Ville de Nice"\ninsee = "06088"\n'
    )
    token = subprocess.run(
        [*AIGUILLEUR, "--config", str(config), "token", "create", "gru", "--role", "reader", "--org", "nice"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    proc = subprocess.Popen(
        [*AIGUILLEUR, "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert wait_healthy(proc, f"http://127.0.0.1:{port}/healthz")["database"] == "ok"
        page = get(f"http://127.0.0.1:{port}/api/v1/dossiers", token)
        assert page["total"] == 0
    finally:
        stop(proc)
    assert proc.returncode == 0
