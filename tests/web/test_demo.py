"""``aiguilleur demo`` ends by printing the dashboard's address and a login that works."""

from __future__ import annotations

import re
import subprocess
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from tests.e2e.test_hub_process import AIGUILLEUR, free_port, stop, wait_healthy

pytestmark = pytest.mark.integration


def test_demo_prints_the_dashboard_and_a_login_that_signs_in(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*AIGUILLEUR, "demo", "--data-dir", str(tmp_path / "demo"), "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}/healthz")
        password = (tmp_path / "demo" / "demo-password").read_text().strip()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        form = opener.open(f"http://127.0.0.1:{port}/connexion", timeout=5).read().decode()
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        body = urllib.parse.urlencode(
            {"csrf": token.group(1), "login": "demo", "password": password}
        ).encode()
        with opener.open(f"http://127.0.0.1:{port}/connexion", data=body, timeout=10) as page:
            html = page.read().decode()
            assert page.url.endswith("/") and "Tableau de bord" in html and "Agent de démonstration" in html
    finally:
        out, _err = stop(proc)
    last = out.strip().splitlines()[-1]
    assert f"http://127.0.0.1:{port}/" in last and "« demo »" in last and password in last
