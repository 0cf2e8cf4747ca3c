"""The one exception family for expected problems.

The CLI turns a :class:`RunnerError` into one clear line on stderr and an exit code, never a
traceback. Anything else that escapes is a bug.
"""

from __future__ import annotations


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


class TrackingError(RunnerError):
    """The tracking store cannot be reached or used."""


class ExecutionError(RunnerError):
    """An executor (process pool, dask cluster) cannot be started or reached."""
