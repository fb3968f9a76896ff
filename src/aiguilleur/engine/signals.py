"""SIGTERM and SIGINT as a graceful stop of the embedded scheduler (``aiguilleur run``)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from aiguilleur.engine.scheduler import Scheduler

logger = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def install_signal_handlers(scheduler: Scheduler, on_stop: Callable[[], None]) -> Callable[[], None]:
    """Make SIGTERM and SIGINT stop ``scheduler`` gracefully; returns a function restoring the old handlers.

    The first signal asks the scheduler to stop (without blocking: running runs see ``ctx.stopping``)
    and calls ``on_stop`` (e.g. tell the web server to exit); the caller then waits with
    ``scheduler.stop(timeout)``. A second signal raises ``KeyboardInterrupt`` to force the exit.
    Python only lets the main thread install handlers: raises ``RuntimeError`` from another thread.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("signal handlers can only be installed from the main thread")
    previous: dict[int, Any] = {}

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if scheduler.stopping.is_set():
            logger.warning("%s received again: forcing the exit", name)
            raise KeyboardInterrupt
        logger.info("%s received: stopping gracefully", name)
        scheduler.request_stop()
        on_stop()

    for sig in SIGNALS:
        previous[sig] = signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
