"""A bounded pool of writer threads for a tracking server, each thread with a client of its own.

A server with several workers and a real database serves several requests at once; one client
writing one run after another leaves it idle. :class:`WriterPool` runs the writes of whole runs
on ``size`` threads, at most ``bound`` of them submitted and not yet settled (so that memory does
not grow with the sweep), and gives back the settled ones oldest first: the caller handles each
outcome (spool, error) in the order the results came. Imports nothing of runner's.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

#: writer threads against an http(s) tracking server, unless told otherwise
DEFAULT_WRITERS = 4


class WriterPool:
    """``size`` writer threads; each calls ``make_client()`` once, see :meth:`client`."""

    def __init__(self, size: int, make_client: Callable[[], Any], bound: int | None = None) -> None:
        self._local = threading.local()
        self._make_client = make_client
        self._pool = ThreadPoolExecutor(
            max_workers=size, thread_name_prefix="runner-writer", initializer=self._start
        )
        self._pending: deque[tuple[Future, tuple]] = deque()
        self.bound = bound or 2 * size

    def _start(self) -> None:
        self._local.client = self._make_client()

    def client(self) -> Any:
        """The calling writer thread's own client; None in any other thread."""
        return getattr(self._local, "client", None)

    def submit(self, fn: Callable[..., Any], *args: Any) -> list[tuple[Future, tuple]]:
        """Run ``fn(*args)`` on a writer thread; returns ``(future, args)`` of the oldest writes
        that had to settle to keep at most ``bound`` waiting."""
        self._pending.append((self._pool.submit(fn, *args), args))
        settled = []
        while len(self._pending) > self.bound:
            future, old = self._pending.popleft()
            future.exception()  # waits
            settled.append((future, old))
        return settled

    def settle(self) -> list[tuple[Future, tuple]]:
        """Wait for every write; returns ``(future, args)`` of each, oldest first. A stop signal
        while waiting leaves the unsettled ones for the next call."""
        settled = []
        while self._pending:
            future, args = self._pending[0]
            future.exception()  # waits
            self._pending.popleft()
            settled.append((future, args))
        return settled

    def close(self) -> None:
        self._pool.shutdown(wait=True)
