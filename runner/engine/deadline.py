"""A time limit on a block of code in the main thread: the sweep's guard on one population
(:func:`runner.engine.population.run_population`) and the conformance kit's on one check.

:func:`time_limit` raises what ``expired()`` makes once the block has run ``seconds``, from a
real-time timer (SIGALRM), so that a plugin's loop that never ends fails its work instead of
hanging the process with no output. Python runs signal handlers in the main thread only: in
another thread (a dask worker's), where the system has no such timer, or while another timer is
already running (pytest-timeout's, say), the block runs unbounded. Imports nothing of runner's.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType


@contextlib.contextmanager
def time_limit(seconds: float | None, expired: Callable[[], BaseException]) -> Iterator[None]:
    """Within the block, raise ``expired()`` once ``seconds`` have passed (None: no limit)."""
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )
    if not usable:
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise expired()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
