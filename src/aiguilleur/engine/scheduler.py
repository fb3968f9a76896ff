"""The embedded scheduler: each connector synchronised on its period, in a bounded pool of threads.

One background thread decides what is due (``tick``) and sleeps on an ``Event`` until the next due
time, or until ``stop`` wakes it. Runs go to a ``ThreadPoolExecutor`` of ``hub.max_parallel``
workers. A connector never runs twice at once: a period that comes while it is still running is
skipped, and ``run_now`` says False. The period is kept at a fixed rate from the first run, without
catching up missed periods.

Time is injected so that tests drive the schedule without sleeping: ``clock`` is a monotonic clock
in seconds, ``wait(event, timeout)`` stands for ``event.wait(timeout)``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiguilleur.engine import tasks

if TYPE_CHECKING:
    from aiguilleur.engine.hub import Hub

logger = logging.getLogger(__name__)

TICK_ERROR_DELAY_S = 5.0  # after an unexpected error in the loop itself, try again a little later

Clock = Callable[[], float]
Wait = Callable[[threading.Event, float | None], bool]


def _event_wait(event: threading.Event, timeout: float | None) -> bool:
    return event.wait(timeout)


@dataclass(slots=True)
class _Slot:
    name: str
    every_s: float | None  # None: not scheduled (disabled), manual runs only
    next_due: float | None = None  # on the injected monotonic clock; None: at the next tick


class Scheduler:
    """Runs the hub's connectors on their periods. ``start()`` once, ``stop()`` once; not restartable."""

    def __init__(self, hub: Hub, *, clock: Clock = time.monotonic, wait: Wait = _event_wait) -> None:
        self.hub = hub
        self._clock = clock
        self._wait = wait
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._running: set[str] = set()
        self._thread: threading.Thread | None = None
        self._slots: dict[str, _Slot] = {}
        for name in hub.connectors:
            entry = hub.config.connectors.get(name)
            if entry is None:
                logger.warning("connector %s has no configuration: manual runs only", name)
                every_s = None
            else:
                every_s = entry.settings.every if entry.settings.enabled else None
            self._slots[name] = _Slot(name, every_s)
        self._executor = ThreadPoolExecutor(
            max_workers=hub.config.hub.max_parallel, thread_name_prefix="aiguilleur-run"
        )

    @property
    def stopping(self) -> threading.Event:
        """Set when the scheduler stops; every run sees it as ``ctx.stopping``."""
        return self._stopping

    def start(self) -> None:
        """Mark runs left "running" by a previous process as interrupted, then start the loop.

        The first tick, right away, runs every scheduled connector. Raises ``RuntimeError`` when
        already started or stopped.
        """
        with self._lock:
            if self._thread is not None or self._stopping.is_set():
                raise RuntimeError("scheduler already started or stopped")
            stale = self.hub.store.runs.interrupt_stale()
            if stale:
                logger.warning("%d run(s) left running by a previous process marked interrupted", stale)
            self._thread = threading.Thread(target=self._loop, name="aiguilleur-scheduler", daemon=True)
            self.hub.scheduler = self
            self._thread.start()

    def tick(self) -> float | None:
        """One scheduling pass: launch what is due; returns seconds until the next due time (None: never)."""
        now = self._clock()
        launch: list[str] = []
        with self._lock:
            if self._stopping.is_set():
                return None
            for slot in self._slots.values():
                if slot.every_s is None or (slot.next_due is not None and slot.next_due > now):
                    continue
                if slot.name in self._running:
                    logger.info("connector %s still running: this period is skipped", slot.name)
                else:
                    self._running.add(slot.name)
                    launch.append(slot.name)
                slot.next_due = _following(slot.next_due, slot.every_s, now)
            dues = [s.next_due for s in self._slots.values() if s.next_due is not None]
        for name in launch:
            self._launch(name, "schedule")
        return max(min(dues) - now, 0.0) if dues else None

    def run_now(self, name: str) -> bool:
        """Start a manual run of ``name`` now; False when it is running already or the scheduler stops.

        Raises ``NotFound`` for an unknown connector.
        """
        self.hub.connector(name)
        with self._lock:
            if self._stopping.is_set() or name in self._running:
                return False
            self._running.add(name)
        return self._launch(name, "manual")

    def is_running(self, name: str) -> bool:
        """True while a run of ``name`` is running or waiting for a free worker."""
        with self._lock:
            return name in self._running

    def next_run(self, name: str) -> datetime | None:
        """When ``name`` runs next on its period; None when not scheduled (disabled, unknown, stopped)."""
        with self._lock:
            slot = self._slots.get(name)
            if slot is None or slot.every_s is None or self._stopping.is_set():
                return None
            if slot.next_due is None:  # waiting for the first tick
                return self.hub.store.now() if self._thread is not None else None
            remaining_s = max(slot.next_due - self._clock(), 0.0)
        return self.hub.store.now() + timedelta(seconds=remaining_s)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no run is in progress; False when ``timeout`` (seconds) passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._running, timeout)

    def request_stop(self) -> None:
        """Ask for a stop without waiting: no new run starts, running ones see ``ctx.stopping``."""
        self._stopping.set()
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop scheduling and wait up to ``timeout`` seconds for running runs; True when they all ended.

        Runs still going after the timeout stay "running" in the store; the next ``start`` marks them
        interrupted. Calling it again is harmless.
        """
        deadline = time.monotonic() + timeout
        self.request_stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(max(deadline - time.monotonic(), 0.0))
        is_idle = self.wait_idle(max(deadline - time.monotonic(), 0.0))
        if not is_idle:
            with self._lock:
                late = sorted(self._running)
            logger.warning(
                "scheduler stopped with runs still going after %.0f s: %s", timeout, ", ".join(late)
            )
        self._executor.shutdown(wait=False)
        return is_idle

    def _launch(self, name: str, trigger: str) -> bool:
        """Submit a run whose name the caller has added to ``_running``."""
        try:
            self._executor.submit(self._run, name, trigger)
        except RuntimeError:  # the executor was shut down after a stop that timed out
            self._done(name)
            return False
        return True

    def _run(self, name: str, trigger: str) -> None:
        try:
            if not self._stopping.is_set():  # it may have waited for a worker while the hub stopped
                tasks.sync_connector(self.hub, name, trigger, stopping=self._stopping)
        except Exception:  # the run record itself could not be written: log, keep scheduling
            logger.exception("connector %s: run could not be completed", name)
        finally:
            self._done(name)

    def _done(self, name: str) -> None:
        with self._idle:
            self._running.discard(name)
            self._idle.notify_all()

    def _loop(self) -> None:
        logger.info("scheduler started: %d connector(s)", len(self._slots))
        while not self._stopping.is_set():
            self._wake.clear()  # before the tick: a wake-up during the tick is not lost
            try:
                delay = self.tick()
            except Exception:
                logger.exception("scheduler: tick failed")
                delay = TICK_ERROR_DELAY_S
            if self._stopping.is_set():
                break
            self._wait(self._wake, delay)
        logger.info("scheduler stopped")


def _following(next_due: float | None, every_s: float, now: float) -> float:
    """The first due time after ``now`` on the grid ``next_due + k × every_s`` (missed periods skipped)."""
    if next_due is None:
        return now + every_s
    return next_due + (math.floor((now - next_due) / every_s) + 1) * every_s
