"""Signals in the driving process: what stops a sweep, and what is never cut in half.

Ctrl-C (SIGINT), SIGTERM (what ``timeout``, a batch scheduler or a container stop sends) and
SIGHUP (a closed terminal) all stop a sweep the same way: inside :func:`stopping_on_signals` the
first of them raises :class:`Stopped` (a ``KeyboardInterrupt``, so every Ctrl-C path handles it)
and every later one is ignored, so that the shutdown (stopping the workers, marking the runs
that were training KILLED, closing the sweep's run) is never itself interrupted.
:func:`signals_deferred` holds the stop signals back while one run is written, and
:func:`signals_blocked` while worker processes are spawned. Python runs signal handlers in the
main thread only, so elsewhere the three do nothing. Imports nothing of runner's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

#: the signals that stop a sweep, and the exit code of a sweep each stopped (128 + the signal)
STOP_SIGNALS: dict[int, int] = {
    signal.SIGINT: 130,
    signal.SIGTERM: 143,
    **({signal.SIGHUP: 129} if hasattr(signal, "SIGHUP") else {}),
}


class Stopped(KeyboardInterrupt):
    """A stop signal arrived: ``signum`` says which (SIGINT for Ctrl-C)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signum_of(exc: BaseException) -> int:
    """The signal a KeyboardInterrupt stands for: SIGINT unless it says otherwise."""
    return int(getattr(exc, "signum", signal.SIGINT))


def signal_name(signum: int) -> str:
    """How a message names a stop signal: ``Ctrl-C`` for SIGINT, else its name (``SIGTERM``)."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


#: whether a stop signal, once it has stopped a sweep, leaves later ones ignored for good (a
#: program that ends with its sweep: see :func:`ignore_after_a_stop`)
_IGNORE_AFTER_A_STOP: list[bool] = [False]


def ignore_after_a_stop() -> None:
    """For a program that ends when its sweep does (the ``runner`` command): once a stop
    signal has stopped a sweep, later stop signals stay ignored until the process exits, not
    only while the sweep stops. A second Ctrl-C 0.2 s after the first would otherwise end the
    process by the signal on its way out (exit -2, not 130). A library caller keeps its own
    handlers back after :func:`stopping_on_signals`."""
    _IGNORE_AFTER_A_STOP[0] = True


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """Inside the block the first stop signal raises :class:`Stopped`; later ones are ignored
    (with a line on stderr) until the block ends. The previous handlers come back after it
    (unless :func:`ignore_after_a_stop` was called and a stop happened)."""
    if not _main_thread():
        yield
        return
    first: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        if first:  # os.write, not print: a handler may run in the middle of a print
            name, after = signal.Signals(signum).name, signal.Signals(first[0]).name
            os.write(2, f"runner: {name} ignored: still stopping after {after}\n".encode())
            return
        first.append(signum)
        raise Stopped(signum)

    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        after_a_stop = first and _IGNORE_AFTER_A_STOP[0]
        for signum, handler in previous.items():
            # SIG_IGN, not a Python handler: the interpreter puts the default action back for
            # Python handlers while it shuts down, and a signal then would end the process
            signal.signal(signum, signal.SIG_IGN if after_a_stop else handler)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold the stop signals back until the block is done, then deliver the first as it would
    have been delivered.

    For work that must not be cut in half, such as writing one run to the tracking store: an
    interruption in the middle of it would leave a run half-written and, on SQLite, a
    transaction open that locks the store for the writes that follow. The handlers are swapped
    rather than the signals masked, because any other thread without the mask (a progress
    display's) would still let a signal through.
    """
    if not _main_thread():
        yield
        return
    caught: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda got, frame: caught.append(got))
        for signum in STOP_SIGNALS
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            _deliver(caught[0], previous[caught[0]])


def _deliver(signum: int, handler: Any) -> None:
    """Act on ``signum`` as ``handler`` (a signal handler setting) would have."""
    if handler is signal.SIG_IGN or handler is None:
        return
    if callable(handler):
        handler(signum, None)
    elif signum == signal.SIGINT:
        raise KeyboardInterrupt
    else:  # the default action: the process ends by the signal, as it would have
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Block the stop signals while worker processes are spawned, so they start with them
    blocked.

    A signal to the whole process group then cannot kill a worker that is still importing; the
    worker's initializer ignores the stop signals and unblocks them. In the driver the signal
    stays pending and arrives as soon as the block ends, so it is never lost.
    """
    if not hasattr(signal, "pthread_sigmask") or not _main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
