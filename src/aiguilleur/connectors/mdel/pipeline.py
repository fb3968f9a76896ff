"""Reading ahead: the next demand zips are read in worker threads while the current one is received.

An import is two halves. Reading a zip (claiming it into the work directory, streaming its members
into the blob store, parsing its XML) touches files only and spends most of its time waiting on the
filesystem; receiving it (the database, then the move to done) must follow the order of the files,
so that a ``-2`` version is received after its ``-1``. `in_order` runs the first halves of the next
few files in worker threads and the second halves in the calling thread, one at a time, in order:
with two cores, the waits of one half overlap the work of the other.

Crash safety is that of the sequential import: a file read ahead but not received is in the work
directory, its blobs are unreferenced content, and the next run resumes it from there.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
P = TypeVar("P")

import os as _o
READERS = int(_o.environ.get('XP_R', '2'))  # worker threads reading ahead
AHEAD = int(_o.environ.get('XP_A', '4'))  # files read ahead at most (claimed into the work directory, blobs published)


def in_order(
    items: Iterable[T],
    read: Callable[[T], P],
    receive: Callable[[P], None],
    *,
    stopping: threading.Event,
    name: str = "mdel",
) -> None:
    """``receive(read(item))`` for each item, in order; the reads run ahead in worker threads.

    No item is read once `stopping` is set; those already read are received. An exception raised by
    `read` comes out when its item's turn to be received comes, and one raised by `receive` at once;
    either way the reads not started are dropped and the running ones finished before it propagates.
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
                receive(queue.popleft().result())
        finally:
            for future in queue:
                future.cancel()  # a read not started leaves its file where it is


_END = object()
