"""The one exception family for expected problems, and how a problem is phrased.

The CLI turns a :class:`RunnerError` into one clear line on stderr and an exit code, never a
traceback, and a :class:`TableWarning` (issued with :mod:`warnings`) into one ``Warning:`` line.
Anything else that escapes is a bug. :func:`did_you_mean` and :func:`first_line` are the
phrasings every stage shares; :func:`error_reason` is the one line a failed run records;
:func:`plugin_failure` tells what plugin code raised as its own failure from a stop signal.
This module imports nothing of runner's.
"""

from __future__ import annotations

import difflib
import signal
import threading
from collections.abc import Iterable


class RunnerError(Exception):
    """An expected problem the user can fix; ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class PluginError(RunnerError):
    """A plugin could not be loaded, or two plugins claim the same name."""


class TableError(RunnerError):
    """A sweep table is missing, unreadable or does not validate; ``problems`` lists every line."""


class TableWarning(UserWarning):
    """A table read as the user most likely meant, but not as written (a header cell with spaces
    around it): the CLI shows it as one ``Warning:`` line on stderr and goes on."""


class TrackingError(RunnerError):
    """The tracking store cannot be reached or used."""


class StoreWriteError(TrackingError):
    """Writing to the store (or keeping results in the spool) failed mid-sweep, a full disk
    say: not bad input, so the exit code is 1; the same command again finishes the set."""

    exit_code = 1


class ExecutionError(RunnerError):
    """An executor (process pool, dask cluster) cannot be started or reached."""


#: A name longer than this is close to none (and is not compared, which takes time).
_LONGEST_NAME = 200


def did_you_mean(name: object, names: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the closest of ``names``, or ``""`` when none is close.

    Case is ignored in the comparison: ``'SIGMOID'`` and ``'Sigmoid'`` are close to ``'sigmoid'``.
    """
    text = str(name)
    if len(text) > _LONGEST_NAME:
        return ""
    by_lower: dict[str, str] = {}
    for candidate in names:
        by_lower.setdefault(candidate.lower(), candidate)
    close = difflib.get_close_matches(text.lower(), list(by_lower), n=1)
    return f"did you mean {by_lower[close[0]]!r}? " if close else ""


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def error_reason(exc: BaseException) -> str:
    """The one-line ``reason`` a failed run records for ``exc``: its type and first line (its
    type alone when it has no message: ``KeyboardInterrupt``, not said twice)."""
    name = type(exc).__name__
    return f"{name}: {first_line(exc)}" if str(exc).strip() else name


def plugin_failure(exc: BaseException) -> bool:
    """Whether ``exc``, raised out of plugin code, is that code's own failure, to be confined to
    the plugin: any Exception, a ``SystemExit`` (``sys.exit`` in a package or an activation),
    and a ``KeyboardInterrupt`` no stop signal raised. One a signal raised says which
    (``signum``: :class:`runner.execution.signals.Stopped`, and the registry's while it loads
    plugins); a plain one is taken for a signal only where Python's own Ctrl-C handler, which
    raises it plainly, is installed in the main thread."""
    if isinstance(exc, (Exception, SystemExit)):
        return True
    if not isinstance(exc, KeyboardInterrupt) or hasattr(exc, "signum"):
        return False
    in_main = threading.current_thread() is threading.main_thread()
    return not (in_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
