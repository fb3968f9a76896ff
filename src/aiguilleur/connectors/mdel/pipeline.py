"""Throughput of a synchronisation: the next zips read ahead, received and moved by groups.

An import is two halves. Reading a zip (claiming it into the work directory, streaming its members
into the blob store, parsing its XML) touches files only; receiving it (the database, then the move
to done) must follow the order of the files, so that a ``-2`` version is received after its ``-1``.
`in_groups` runs the first halves of the next files in worker threads and hands them, in order and
by groups, to the calling thread: a group's blobs are made durable together, its receipts are one
transaction, its moves to done one directory sync (`DoneMoves`). Syncing once per group instead of
once per file is most of the speed: a sync costs more than writing a demand's files.

Crash safety is that of the sequential import: a file read ahead but not received is in the work
directory, its staged blobs are temporary files, and the next run resumes it from there.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from aiguilleur.transport.files import fsync_dir, link_into

T = TypeVar("T")
P = TypeVar("P")

READERS = 2  # worker threads reading ahead
GROUP = 16  # files received together at most
AHEAD = 2 * GROUP  # files read ahead at most (claimed into the work directory, blobs staged)


def in_groups(
    items: Iterable[T],
    read: Callable[[T], P],
    receive: Callable[[list[P]], None],
    *,
    stopping: threading.Event,
    name: str = "mdel",
    group: int = GROUP,
) -> None:
    """``receive([read(item), …])`` by groups of at most `group` consecutive items, in order.

    The reads run ahead in worker threads. No item is read once `stopping` is set; those already read
    are received. An exception raised by `read` comes out when its item's turn comes (the items before
    it received first), and one raised by `receive` at once; either way the reads not started are
    dropped and the running ones finished before it propagates.
    """
    remaining = iter(items)
    with ThreadPoolExecutor(READERS, thread_name_prefix=f"{name}-read") as readers:
        queue: deque[Future[P]] = deque()
        try:
            while True:
                while len(queue) < AHEAD and not stopping.is_set():
                    item = next(remaining, _END)
                    if item is _END:
                        break
                    queue.append(readers.submit(read, item))  # type: ignore[arg-type]
                if not queue:
                    return
                ready: list[P] = []
                failure: BaseException | None = None
                while queue and len(ready) < group:
                    failure = queue[0].exception()
                    if failure is not None:
                        break
                    ready.append(queue.popleft().result())
                if ready:
                    receive(ready)
                if failure is not None:
                    queue.popleft()
                    raise failure
        finally:
            for future in queue:
                future.cancel()  # a read not started leaves its file where it is


_END = object()


class DoneMoves:
    """Received zips moved from work to done, the done directory synced once for several of them.

    `move` links a file into done at once (so its final name is known) and leaves it in work until
    `flush`, which syncs done, then unlinks the files from work. A crash in between leaves a file in
    both places, as the same file: the next run resumes it from work, its receipt is a duplicate, and
    the move finds the link already in done. `flush` runs every `every` files and must run at the end.
    """

    def __init__(self, done: Path, every: int = 16) -> None:
        self.done = done
        self.every = every
        self._pending: list[tuple[Path, bool]] = []  # in work, and whether linked (not copied)

    def move(self, path: Path) -> Path:
        final, linked = link_into(path, self.done)
        self._pending.append((path, linked))
        if len(self._pending) >= self.every:
            self.flush()
        return final

    def flush(self) -> None:
        if not self._pending:
            return
        fsync_dir(self.done)
        pending, self._pending = self._pending, []
        for path, _ in pending:
            path.unlink(missing_ok=True)
        copied = {path.parent for path, linked in pending if not linked}
        for directory in copied:  # a copy is not the same file: its removal must be durable
            fsync_dir(directory)
