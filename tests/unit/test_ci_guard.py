import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SAMPLE = """
import pytest

@pytest.mark.integration
def test_needs_server():
    pytest.skip("no server here")

def test_plain_skip():
    pytest.skip("not integration")

@pytest.mark.integration
def test_runs():
    pass

@pytest.mark.integration
@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False
"""


def run_pytest(tmp_path: Path, source: str, *, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    integration: real servers\n")
    (tmp_path / "test_sample.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.ci_guard", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_ci_guard_fails_ci_run_with_skipped_integration_test(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, SAMPLE, ci="true")

    assert result.returncode == 1, result.stdout
    assert "test_sample.py::test_needs_server: no server here" in result.stdout
    assert "test_plain_skip" not in result.stdout.split("skipped under CI=true")[1]
    assert "test_expected_failure" not in result.stdout.split("skipped under CI=true")[1]


@pytest.mark.parametrize("ci", [pytest.param(None, id="unset"), pytest.param("false", id="false")])
def test_ci_guard_ignores_skips_outside_ci(tmp_path: Path, ci: str | None) -> None:
    result = run_pytest(tmp_path, SAMPLE, ci=ci)

    assert result.returncode == 0, result.stdout
    assert "skipped under CI=true" not in result.stdout


def test_ci_guard_accepts_ci_run_without_integration_skips(tmp_path: Path) -> None:
    source = SAMPLE.replace('pytest.skip("no server here")', "pass")

    result = run_pytest(tmp_path, source, ci="true")

    assert result.returncode == 0, result.stdout


def test_ci_guard_keeps_failure_status(tmp_path: Path) -> None:
    source = SAMPLE + "\ndef test_broken():\n    assert False\n"

    result = run_pytest(tmp_path, source, ci="true")

    assert result.returncode == 1, result.stdout
    assert "test_needs_server" in result.stdout
