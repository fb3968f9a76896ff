"""HubEE as a user meets it: the configuration example, ``aiguilleur fake hubee`` and ``aiguilleur sync``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aiguilleur.config import parse_config
from aiguilleur.connectors.hubee import HubeeConfig

ROOT = Path(__file__).resolve().parents[3]
AIGUILLEUR = [sys.executable, "-m", "aiguilleur.cli"]
ENV = {"HUBEE_ETATCIVIL_ID": "id", "HUBEE_ETATCIVIL_SECRET": "secret"}


def toml_blocks(path: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL)


@pytest.mark.parametrize(
    "document", [ROOT / "README.md", ROOT.parent / "shared" / "DESIGN.md"], ids=["readme", "design"]
)
def test_the_documented_hubee_section_is_valid(document: Path) -> None:
    [block] = [b for b in toml_blocks(document) if "[connectors.hubee." in b]
    config = parse_config(_only_hubee(block), environ=ENV)
    [entry] = config.connectors.values()
    assert isinstance(entry.settings, HubeeConfig)
    assert entry.settings.process_code == "EtatCivil"
    assert entry.settings.client_secret.get_secret_value() == "secret"
    assert [o.siret for o in config.organisations] == ["21060088800015"]


def _only_hubee(block: str) -> str:
    """The block's [hub], [[organisations]] and HubEE sections (other kinds may not be installed)."""
    sections = re.split(r"(?m)^(?=\[)", block)
    kept = [s for s in sections if s.startswith(("[hub]", "[[organisations]]", "[connectors.hubee."))]
    return "".join(kept)


@pytest.mark.integration
def test_fake_hubee_command_then_sync_from_the_command_line(tmp_path: Path) -> None:
    """`aiguilleur fake hubee` serves the samples; `aiguilleur sync` imports them and exits 0."""
    server = subprocess.Popen(
        [*AIGUILLEUR, "fake", "hubee", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        lines = {}
        while "SI EtatCivil" not in lines:
            line = server.stdout.readline()
            assert line, server.stderr.read() if server.stderr else ""
            key, _, value = line.strip().partition(": " if line.startswith("SI ") else " = ")
            lines[key] = value
        credentials = dict(item.split("=", 1) for item in lines["SI EtatCivil"].split())
        config = tmp_path / "aiguilleur.toml"
        config.write_text(
            "[hub]\n"
            'data_dir = "var"\n\n'
            "[[organisations]]\n"
            'id = "nice"\nname = "Ville de Nice"\nsiret = "21060088800015"\ninsee = "06088"\n\n'
            "[connectors.hubee.etatcivil-nice]\n"
            f'api_url = "{lines["api_url"]}"\n'
            f'token_url = "{lines["token_url"]}"\n'
            'process_code = "EtatCivil"\n'
            'client_id = "${HUBEE_ID}"\n'
            'client_secret = "${HUBEE_SECRET}"\n'
            'editor_name = "COMMUNE DE NICE"\n',
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "HUBEE_ID": credentials["client_id"],
            "HUBEE_SECRET": credentials["client_secret"],
        }
        done = subprocess.run(
            [*AIGUILLEUR, "--config", str(config), "sync", "etatcivil-nice"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "imported" in done.stdout
        assert credentials["client_secret"] not in done.stdout + done.stderr
        listed = subprocess.run(
            [*AIGUILLEUR, "--config", str(config), "dossiers", "list"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert "EtatCivil" in listed.stdout and "hubee" in listed.stdout, listed.stdout + listed.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
