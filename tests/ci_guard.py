"""Pytest plugin: under CI=true, a skipped test marked ``integration`` fails the run.

Integration tests skip themselves when a server is missing on a developer's machine; in CI that would hide a
broken setup, so the run exits with status 1 and lists them. Outside CI it changes nothing.
"""

from __future__ import annotations

import os

import pytest

MARKER = "integration"


class _IntegrationSkips:
    def __init__(self) -> None:
        self.skipped: list[tuple[str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # An xfail is reported as skipped too, but it is an expected outcome, not a missing server.
        if report.skipped and MARKER in report.keywords and not hasattr(report, "wasxfail"):
            self.skipped.append((report.nodeid, _reason(report)))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.skipped and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.skipped:
            return
        terminalreporter.section(f"{MARKER} tests skipped under CI=true (failing the run)", red=True)
        for nodeid, reason in self.skipped:
            terminalreporter.line(f"{nodeid}: {reason}")


def _reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):  # (path, lineno, "Skipped: reason")
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr)


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") == "true":
        config.pluginmanager.register(_IntegrationSkips(), "aiguilleur-ci-guard")
