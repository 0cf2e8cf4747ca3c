"""Signals in the driving process: Ctrl-C held back while a run is written, or while workers spawn.

Python runs signal handlers in the main thread only, so elsewhere both context managers do
nothing. Imports nothing of runner's.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT while worker processes are spawned, so they start with it blocked.

    A Ctrl-C to the whole process group then cannot interrupt a worker that is still
    importing; the worker's initializer ignores SIGINT and unblocks it. In the driver the signal
    stays pending and arrives as soon as the block ends, so it is never lost.
    """
    if not hasattr(signal, "pthread_sigmask") or not _main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold back Ctrl-C until the block is done, then raise it as it would have been raised.

    For work that must not be cut in half, such as writing one run to the tracking store: a
    KeyboardInterrupt in the middle of it would leave a run half-written and, on SQLite, a
    transaction open that locks the store for the writes that follow (marking the rest
    KILLED). The handler is swapped rather than the signal masked, because any other thread
    without the mask (a progress display's) would still let the signal through.
    """
    if not _main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and previous is not signal.SIG_IGN:
            if callable(previous):
                previous(signal.SIGINT, None)
            else:
                raise KeyboardInterrupt
