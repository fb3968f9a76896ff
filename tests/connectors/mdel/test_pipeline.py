"""connectors.mdel.pipeline: reading ahead in order, moving to done by groups."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import aiguilleur.transport.files as files
from aiguilleur.connectors.mdel.pipeline import AHEAD, DoneMoves, in_groups


def flat(groups: list[list[int]]) -> list[int]:
    return [n for g in groups for n in g]


def test_items_are_received_in_order_by_groups_whatever_the_read_times() -> None:
    groups: list[list[int]] = []

    def read(n: int) -> int:
        time.sleep(0.001 * (n % 3))
        return n * 10

    in_groups(range(40), read, groups.append, stopping=threading.Event(), group=8)

    assert flat(groups) == [n * 10 for n in range(40)]
    assert all(1 <= len(g) <= 8 for g in groups)
    assert len(groups) == 5  # full groups whenever enough items are left


def test_reads_run_ahead_of_receipts_but_no_further_than_ahead() -> None:
    read: list[int] = []
    lock = threading.Lock()
    release = threading.Event()
    seen_ahead: list[int] = []

    def reader(n: int) -> int:
        with lock:
            read.append(n)
            if len(read) == AHEAD:
                release.set()
        return n

    def receive(group: list[int]) -> None:
        if group[0] == 0:
            assert release.wait(10)  # the readers fill the queue meanwhile
            with lock:
                seen_ahead.append(len(read))

    in_groups(range(200), reader, receive, stopping=threading.Event())

    assert seen_ahead == [AHEAD]
    assert sorted(read) == list(range(200))


def test_a_read_error_comes_out_at_its_turn_after_the_items_before_it() -> None:
    groups: list[list[int]] = []

    def read(n: int) -> int:
        if n == 3:
            raise OSError("disk full")
        return n

    with pytest.raises(OSError, match="disk full"):
        in_groups(range(10), read, groups.append, stopping=threading.Event())
    assert flat(groups) == [0, 1, 2]


def test_nothing_more_is_read_once_stopping() -> None:
    stopping = threading.Event()
    read: list[int] = []

    def receive(group: list[int]) -> None:
        stopping.set()

    in_groups(range(1000), lambda n: read.append(n) or n, receive, stopping=stopping)

    assert len(read) <= AHEAD


def test_done_moves_link_at_once_and_leave_work_at_the_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real = files._fsync_dir
    monkeypatch.setattr(files, "_fsync_dir", lambda d: (synced.append(d.name), real(d)))
    work, done = tmp_path / "work", tmp_path / "done"
    work.mkdir()
    paths = []
    for i in range(5):
        paths.append(work / f"{i}.zip")
        paths[-1].write_bytes(b"%d" % i)
    moves = DoneMoves(done, every=3)

    finals = [moves.move(p) for p in paths]

    assert finals == [done / p.name for p in paths]
    assert sorted(p.name for p in work.iterdir()) == ["3.zip", "4.zip"]  # the first 3 flushed
    assert synced == ["done"]
    moves.flush()
    assert list(work.iterdir()) == []
    assert synced == ["done", "done"]
    assert all(os.path.exists(f) for f in finals)


def test_done_moves_after_a_crash_find_the_link_already_made(tmp_path: Path) -> None:
    work, done = tmp_path / "work", tmp_path / "done"
    work.mkdir()
    src = work / "demande.zip"
    src.write_bytes(b"zip")
    DoneMoves(done).move(src)  # then a crash: no flush, the file is in both places

    moves = DoneMoves(done)
    assert moves.move(src) == done / "demande.zip"
    moves.flush()
    assert [p.name for p in done.iterdir()] == ["demande.zip"]
    assert list(work.iterdir()) == []
