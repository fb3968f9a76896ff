"""One synchronisation of one connector, recorded from start to end.

``run_connector`` is what ``aiguilleur sync``, the embedded scheduler and the workers call: it opens
a run record, lets the connector fetch what is new, delivers the channel's due returns and closes the
record with what happened. The engine is the layer that catches broadly: whatever the connector
raises becomes a "failed" run with its message, never an exception that stops the scheduler.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiguilleur.connectors.base import RunContext, RunReport
from aiguilleur.engine.deliver import deliver_due, takes_returns
from aiguilleur.errors import AiguilleurError
from aiguilleur.logging import redact_text

if TYPE_CHECKING:
    from aiguilleur.engine.hub import Hub

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended: "ok", "failed" (``error`` says why) or "interrupted" (the hub was stopping).

    Rejected items are counted and listed in ``errors`` but do not fail the run.
    """

    run_id: int
    outcome: str
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def is_ok(self) -> bool:
        return self.outcome == OK


def run_connector(
    hub: Hub, name: str, *, trigger: str = "schedule", stopping: threading.Event | None = None
) -> RunOutcome:
    """Run connector ``name`` once and record the run; returns its outcome.

    Delivered returns are counted as ``returns_sent``, ``returns_retry`` and ``returns_dead``.
    Raises ``NotFound`` for an unknown connector (before any run is recorded); an exception from the
    connector becomes a "failed" run and a "run-failed" journal entry.
    """
    connector = hub.connector(name)
    stopping = stopping if stopping is not None else threading.Event()
    store = hub.store
    run_id = store.runs.start(name, trigger)
    report = RunReport()
    ctx = RunContext(
        connector=name, run_id=run_id, report=report, stopping=stopping, extra={"trigger": trigger}
    )
    logger.info("connector %s: run %d started (%s)", name, run_id, trigger)
    error: str | None = None
    try:
        connector.run(ctx)
        if takes_returns(connector) and not stopping.is_set():
            for outcome, n in deliver_due(hub, name, stopping=stopping).items():
                if n and outcome != "skipped":
                    report.count(f"returns_{outcome}", n)
    except AiguilleurError as exc:  # an expected failure (peer down, credentials refused): no traceback
        error = redact_text(str(exc) or type(exc).__name__)
        logger.error("connector %s: run %d failed: %s", name, run_id, error)
    except Exception as exc:
        error = redact_text(f"{type(exc).__name__}: {exc}")
        logger.exception("connector %s: run %d failed", name, run_id)
    except BaseException:
        # KeyboardInterrupt in `aiguilleur sync`: close the record, then let it go on
        _finish(hub, run_id, INTERRUPTED, report, None)
        raise
    if error is not None:
        outcome = FAILED
    elif stopping.is_set():
        outcome = INTERRUPTED
    else:
        outcome = OK
    _finish(hub, run_id, outcome, report, error)
    if error is not None:
        store.journal.write("run-failed", f"Synchronisation {run_id} en échec : {error}", connector=name)
    logger.info("connector %s: run %d %s %s", name, run_id, outcome, report.counts)
    return RunOutcome(run_id, outcome, dict(report.counts), list(report.errors), error)


def _finish(hub: Hub, run_id: int, outcome: str, report: RunReport, error: str | None) -> None:
    hub.store.runs.finish(run_id, outcome=outcome, counts=report.counts, errors=report.errors, error=error)
