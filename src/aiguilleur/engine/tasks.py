"""The task functions: the same code whether the embedded scheduler or a procrastinate worker runs it."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from aiguilleur.engine.deliver import deliver_due
from aiguilleur.engine.runner import RunOutcome, run_connector

if TYPE_CHECKING:
    from aiguilleur.engine.hub import Hub


def sync_connector(
    hub: Hub, name: str, trigger: str = "schedule", *, stopping: threading.Event | None = None
) -> RunOutcome:
    """Synchronise one connector and deliver its due returns (see ``run_connector``)."""
    return run_connector(hub, name, trigger=trigger, stopping=stopping)


def deliver_returns(hub: Hub, name: str) -> dict[str, int]:
    """Deliver the due returns of one connector (see ``deliver_due``)."""
    return deliver_due(hub, name)
