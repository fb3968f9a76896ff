"""``aiguilleur fake mdel``: the fake portal an editor starts to try an integration offline."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

pytestmark = pytest.mark.integration


def test_fake_mdel_serves_demands_over_sftp_with_pinned_host_key(tmp_path: Path):
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "authorized_keys").write_text(client_key.export_public_key().decode())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiguilleur.cli",
            "fake",
            "mdel",
            "--root",
            str(tmp_path / "portal"),
            "--port",
            "0",  # a free port, read back from the known_hosts line
            "--authorized-keys",
            str(tmp_path / "authorized_keys"),
            "--host-key",
            str(tmp_path / "host_key"),
            "--demands",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        known = ""
        assert proc.stdout is not None
        for line in proc.stdout:  # the server prints the known_hosts line once it listens
            if line.startswith("[127.0.0.1]:"):
                known = line
                break
        assert known, proc.stderr.read() if proc.stderr else ""
        port = int(known.split()[0].rpartition(":")[2])
        (tmp_path / "known_hosts").write_text(known)

        async def listing() -> list[str]:
            async with (
                asyncssh.connect(
                    "127.0.0.1",
                    port,
                    username="mairie",
                    client_keys=[client_key],
                    known_hosts=str(tmp_path / "known_hosts"),
                ) as conn,
                conn.start_sftp_client() as sftp,
            ):
                return sorted(await sftp.listdir("depot"))

        names = [n for n in asyncio.run(listing()) if n not in (".", "..")]
        assert len(names) == 3 and all(n.endswith("-1.zip") for n in names)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
