from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from aiguilleur.connectors.base import ConnectorSettings
from aiguilleur.engine.hub import Hub
from aiguilleur.engine.scheduler import Scheduler
from aiguilleur.errors import NotFound
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.repository import Store

from .fakes import SAFETY_S, BlockingChannel, FakeChannel, FakeMonotonic, StoppableChannel, channel, make_hub

Connectors = dict[str, tuple[type[FakeChannel], ConnectorSettings]]
MakeScheduler = Callable[..., tuple[Scheduler, Hub]]


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def make_scheduler(store: Store, blobs: BlobStore, monotonic: FakeMonotonic) -> Iterator[MakeScheduler]:
    """Schedulers on a fake monotonic clock; stopped (and their fakes released) after the test."""
    made: list[tuple[Scheduler, Hub]] = []

    def make(connectors: Connectors, *, max_parallel: int = 4, **kwargs: object) -> tuple[Scheduler, Hub]:
        hub = make_hub(store, blobs, connectors, max_parallel=max_parallel)
        kwargs.setdefault("clock", monotonic)
        scheduler = Scheduler(hub, **kwargs)  # type: ignore[arg-type]
        made.append((scheduler, hub))
        return scheduler, hub

    yield make
    for scheduler, hub in made:
        for fake in hub.connectors.values():
            fake.release.set()  # type: ignore[attr-defined]
        assert scheduler.stop(timeout=SAFETY_S)


def runs_by_connector(store: Store) -> dict[str, list[tuple[str, str]]]:
    """(trigger, outcome) of each connector's runs, oldest first."""
    result: dict[str, list[tuple[str, str]]] = {}
    for run in reversed(store.runs.latest(limit=1000)):
        result.setdefault(run.connector, []).append((run.trigger, run.outcome))
    return result


def test_tick_runs_each_connector_on_its_period(
    make_scheduler: MakeScheduler, monotonic: FakeMonotonic, store: Store
) -> None:
    scheduler, hub = make_scheduler(
        {
            "rapide": (FakeChannel, ConnectorSettings(every=60)),
            "lent": (FakeChannel, ConnectorSettings(every=90)),
        }
    )
    delays = []
    for now in (0, 30, 60, 90, 120, 180):
        monotonic.value = now
        delays.append(scheduler.tick())
        assert scheduler.wait_idle(SAFETY_S)

    assert delays == [60, 30, 30, 30, 60, 60]
    assert (channel(hub, "rapide").runs, channel(hub, "lent").runs) == (4, 3)  # 0 60 120 180 / 0 90 180
    assert runs_by_connector(store)["lent"] == [("schedule", "ok")] * 3


def test_tick_skips_missed_periods_without_catching_up(
    make_scheduler: MakeScheduler, monotonic: FakeMonotonic
) -> None:
    scheduler, hub = make_scheduler({"msp-nice": (FakeChannel, ConnectorSettings(every=60))})
    scheduler.tick()
    assert scheduler.wait_idle(SAFETY_S)

    monotonic.value = 250  # the hub was busy: periods 60, 120, 180 and 240 were missed
    assert scheduler.tick() == 50  # back on the grid: next at 300
    assert scheduler.wait_idle(SAFETY_S)

    assert channel(hub, "msp-nice").runs == 2


def test_tick_skips_a_period_while_the_connector_still_runs(
    make_scheduler: MakeScheduler, monotonic: FakeMonotonic, store: Store
) -> None:
    scheduler, hub = make_scheduler({"lent": (BlockingChannel, ConnectorSettings(every=60))})
    fake = channel(hub, "lent")
    scheduler.tick()
    assert fake.started.wait(SAFETY_S)

    monotonic.advance(60)
    scheduler.tick()
    assert scheduler.is_running("lent")
    fake.release.set()
    assert scheduler.wait_idle(SAFETY_S)
    monotonic.advance(60)
    scheduler.tick()
    assert scheduler.wait_idle(SAFETY_S)

    assert fake.runs == 2
    assert runs_by_connector(store)["lent"] == [("schedule", "ok")] * 2


def test_run_now_refuses_a_second_run_of_the_same_connector(
    make_scheduler: MakeScheduler, store: Store
) -> None:
    scheduler, hub = make_scheduler({"lent": (BlockingChannel, ConnectorSettings(every=60))})
    fake = channel(hub, "lent")

    assert scheduler.run_now("lent") is True
    assert fake.started.wait(SAFETY_S)
    assert scheduler.run_now("lent") is False
    assert scheduler.tick() == 60  # the period comes while it runs: skipped too
    assert scheduler.is_running("lent")

    fake.release.set()
    assert scheduler.wait_idle(SAFETY_S)
    assert not scheduler.is_running("lent")
    assert fake.runs == 1
    assert runs_by_connector(store)["lent"] == [("manual", "ok")]


def test_run_now_refuses_an_unknown_connector(make_scheduler: MakeScheduler) -> None:
    scheduler, _ = make_scheduler({"msp-nice": (FakeChannel, ConnectorSettings(every=60))})

    with pytest.raises(NotFound, match="inconnu"):
        scheduler.run_now("inconnu")


def test_next_run_follows_the_period(
    make_scheduler: MakeScheduler, monotonic: FakeMonotonic, store: Store
) -> None:
    scheduler, _ = make_scheduler(
        {
            "msp-nice": (FakeChannel, ConnectorSettings(every=60)),
            "arrete": (FakeChannel, ConnectorSettings(every=60, enabled=False)),
        }
    )
    assert scheduler.next_run("msp-nice") is None  # not started

    scheduler.tick()
    monotonic.advance(15)

    assert scheduler.next_run("msp-nice") == store.now() + timedelta(seconds=45)
    assert scheduler.next_run("arrete") is None
    assert scheduler.next_run("inconnu") is None


def test_a_disabled_connector_runs_only_on_demand(make_scheduler: MakeScheduler) -> None:
    scheduler, hub = make_scheduler({"arrete": (FakeChannel, ConnectorSettings(every=60, enabled=False))})

    assert scheduler.tick() is None
    assert scheduler.run_now("arrete")
    assert scheduler.wait_idle(SAFETY_S)
    assert channel(hub, "arrete").runs == 1


def test_a_failing_connector_does_not_stop_the_others(
    make_scheduler: MakeScheduler, monotonic: FakeMonotonic, store: Store
) -> None:
    scheduler, hub = make_scheduler(
        {
            "casse": (FakeChannel, ConnectorSettings(every=60)),
            "sain": (FakeChannel, ConnectorSettings(every=60)),
        }
    )
    channel(hub, "casse").run_error = RuntimeError("boom")

    for _ in range(2):
        scheduler.tick()
        assert scheduler.wait_idle(SAFETY_S)
        monotonic.advance(60)

    runs = runs_by_connector(store)
    assert runs["casse"] == [("schedule", "failed")] * 2
    assert runs["sain"] == [("schedule", "ok")] * 2


def test_runs_wait_for_a_free_worker(make_scheduler: MakeScheduler) -> None:
    scheduler, hub = make_scheduler(
        {
            "a": (BlockingChannel, ConnectorSettings(every=60)),
            "b": (BlockingChannel, ConnectorSettings(every=60)),
        },
        max_parallel=1,
    )
    a, b = channel(hub, "a"), channel(hub, "b")
    scheduler.tick()
    assert a.started.wait(SAFETY_S)

    assert scheduler.is_running("b")  # queued
    assert not b.started.is_set()
    a.release.set()
    assert b.started.wait(SAFETY_S)


def test_start_marks_runs_left_by_a_crash_interrupted(make_scheduler: MakeScheduler, store: Store) -> None:
    stale = store.runs.start("msp-nice")
    scheduler, hub = make_scheduler({"msp-nice": (FakeChannel, ConnectorSettings(every=60))})

    scheduler.start()
    assert scheduler.stop(timeout=SAFETY_S)

    [run] = [r for r in store.runs.latest("msp-nice") if r.id == stale]
    assert (run.outcome, run.ended_at) == ("interrupted", store.now())
    assert hub.scheduler is scheduler


def test_stop_lets_a_running_run_end_as_interrupted(make_scheduler: MakeScheduler, store: Store) -> None:
    scheduler, hub = make_scheduler({"depot": (StoppableChannel, ConnectorSettings(every=60))})
    fake = channel(hub, "depot")
    scheduler.start()  # the first tick runs it at once
    assert fake.started.wait(SAFETY_S)

    assert scheduler.stop(timeout=SAFETY_S) is True

    assert fake.saw_stopping
    assert runs_by_connector(store)["depot"] == [("schedule", "interrupted")]
    assert not scheduler.is_running("depot")
    assert scheduler.run_now("depot") is False
    assert scheduler.tick() is None


def test_stop_gives_up_waiting_after_the_timeout(make_scheduler: MakeScheduler, store: Store) -> None:
    scheduler, hub = make_scheduler({"tetu": (BlockingChannel, ConnectorSettings(every=60))})
    fake = channel(hub, "tetu")  # ignores ctx.stopping
    scheduler.run_now("tetu")
    assert fake.started.wait(SAFETY_S)

    assert scheduler.stop(timeout=0.01) is False

    assert runs_by_connector(store)["tetu"] == [("manual", "running")]
    fake.release.set()
    assert scheduler.wait_idle(SAFETY_S)
    assert runs_by_connector(store)["tetu"] == [("manual", "interrupted")]


class ScriptedTime:
    """The scheduler loop's clock and wait: each wait makes the requested time pass at once, once the
    runs launched have ended, until ``until``; then it parks until the scheduler is woken (stop)."""

    def __init__(self, until: float) -> None:
        self.now = 0.0
        self.until = until
        self.delays: list[float | None] = []
        self.parked = threading.Event()
        self.scheduler: Scheduler | None = None

    def clock(self) -> float:
        return self.now

    def wait(self, wake: threading.Event, timeout: float | None) -> bool:
        self.delays.append(timeout)
        assert self.scheduler is not None and self.scheduler.wait_idle(SAFETY_S)
        if timeout is not None and self.now + timeout <= self.until:
            self.now += timeout
            return False
        self.parked.set()
        return wake.wait(SAFETY_S)


def test_the_loop_sleeps_until_the_next_due_time(make_scheduler: MakeScheduler, store: Store) -> None:
    time = ScriptedTime(until=180)
    scheduler, hub = make_scheduler(
        {
            "rapide": (FakeChannel, ConnectorSettings(every=60)),
            "lent": (FakeChannel, ConnectorSettings(every=90)),
        },
        clock=time.clock,
        wait=time.wait,
    )
    time.scheduler = scheduler

    scheduler.start()
    assert time.parked.wait(SAFETY_S)
    assert scheduler.wait_idle(SAFETY_S)

    assert time.delays == [60, 30, 30, 60, 60]  # woke at 60 90 120 180, parked asking for 240
    assert (channel(hub, "rapide").runs, channel(hub, "lent").runs) == (4, 3)
    assert scheduler.stop(timeout=SAFETY_S)  # wakes the parked loop
    assert runs_by_connector(store)["rapide"] == [("schedule", "ok")] * 4
