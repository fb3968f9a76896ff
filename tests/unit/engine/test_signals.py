from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest

from aiguilleur.engine.scheduler import Scheduler
from aiguilleur.engine.signals import install_signal_handlers
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.repository import Store

from .fakes import SAFETY_S, make_hub


@pytest.fixture
def scheduler(store: Store, blobs: BlobStore) -> Iterator[Scheduler]:
    s = Scheduler(make_hub(store, blobs, {}))
    yield s
    s.stop(timeout=SAFETY_S)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_install_signal_handlers_makes_a_signal_a_graceful_stop(scheduler: Scheduler, signum: int) -> None:
    stops: list[str] = []
    before = signal.getsignal(signum)
    restore = install_signal_handlers(scheduler, lambda: stops.append("stop"))
    try:
        signal.raise_signal(signum)

        assert scheduler.stopping.is_set()
        assert stops == ["stop"]
        with pytest.raises(KeyboardInterrupt):  # a second signal forces the exit
            signal.raise_signal(signum)
    finally:
        restore()
    assert signal.getsignal(signum) is before


def test_install_signal_handlers_refuses_another_thread(scheduler: Scheduler) -> None:
    errors: list[BaseException] = []

    def install() -> None:
        try:
            install_signal_handlers(scheduler, lambda: None)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join(SAFETY_S)

    assert len(errors) == 1
