"""Where the tracking store is, whether it is sound, and whether a failed call to it is worth
trying again.

The store is given by ``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``
in the working directory; a relative SQLite path is made absolute once, so that changing directory
cannot move the store. A failed call is transient (the server is away, the database busy) when
MLflow says so with one of :data:`TRANSIENT_CODES`, or when the failure comes from the network or
database layer underneath; anything else is a real error. A SQLite store is checked with SQLite's
quick check before it is used, and its first use (which creates and migrates its tables) happens
under a lock file beside it, on a scratch file renamed into place when complete
(:func:`create_whole`). Before MLflow opens a store, :func:`store_problem` says in one line
what is wrong with the URI itself (a store that would not outlive the sweep, a folder given as the
database, a server that does not answer), bounded in time, so that no sweep waits on MLflow's own
retries; :func:`experiment_problem` says what is wrong with an experiment's name before any
store is touched. Nothing here imports mlflow, or anything of runner's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import sqlite3
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

DEFAULT_URI = "sqlite:///mlflow.db"

SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")
#: MLflow error codes that mean "try again later"; any other MlflowException is a real error
TRANSIENT_CODES = frozenset(
    {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED"}
)


def resolve_uri(cli_value: str | None = None) -> str:
    """The store to use: ``--tracking-uri`` > ``MLFLOW_TRACKING_URI`` > ``sqlite:///mlflow.db``."""
    for value in (cli_value, os.environ.get("MLFLOW_TRACKING_URI")):
        if value and value.strip():
            return value.strip()
    return DEFAULT_URI


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the working directory unless it
    starts with a fourth slash); None for an in-memory database or another scheme."""
    if not uri.startswith("sqlite:"):
        return None
    rest = uri.removeprefix("sqlite:").split("?", 1)[0]
    if not rest.startswith("///"):
        return None
    path = rest[3:]
    return None if path in ("", ":memory:") else Path(path)


def store_problem(uri: str, timeout: float = 3.0) -> str:
    """What is wrong with the store ``uri`` before MLflow opens it, in one line ("" when nothing
    is found): an in-memory or unnamed SQLite database (every result would vanish at exit), a
    folder where the database file should be, or a server that does not accept a connection
    within ``timeout`` seconds (not tried through a proxy: MLflow's own check then says)."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "sqlite":
        rest = uri.removeprefix("sqlite:")
        path, _, query = rest.partition("?")
        memory = (
            path.removeprefix("///") in ("", ":memory:")
            or not path.startswith("///")
            or ":memory:" in path
            or "mode=memory" in query
        )
        if memory:
            return (
                f"tracking URI {uri!r} is an in-memory database: every result would vanish when "
                "the sweep exits; give a file, sqlite:///path/to/mlflow.db"
            )
        file = sqlite_path(uri)
        if file is not None and file.is_dir():
            return (
                f"tracking store {uri}: {file} is a folder, not a database file; give a file "
                f"in it, e.g. sqlite:///{file.resolve() / 'mlflow.db'}"
            )
        return ""
    proxied = bool(urllib.request.getproxies()) and not urllib.request.proxy_bypass(
        parsed.hostname or ""
    )
    if parsed.scheme in ("http", "https") and parsed.hostname and not proxied:
        try:
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
        except ValueError:
            return f"tracking URI {uri!r}: the port is not a number in 0..65535"
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
        except OSError as exc:
            why = (
                f"no answer within {timeout:g} s"
                if isinstance(exc, TimeoutError)
                else exc.strerror or str(exc)
            )
            return f"cannot reach tracking server {uri}: {why} (is `mlflow server` running there?)"
    return ""


#: the longest experiment name: the width of the name column of MLflow's SQL stores
MAX_EXPERIMENT_NAME = 256


def experiment_problem(name: str) -> str:
    """What is wrong with ``name`` as an experiment's name, in one line ("" when nothing):
    blank, space around it, a control character (a newline), or longer than
    :data:`MAX_EXPERIMENT_NAME` characters. Checked before any store is opened or created."""
    shown = repr(name if len(name) <= 40 else f"{name[:40]}...")
    if not name.strip():
        why = "is blank"
    elif name != name.strip():
        why = "has spaces around it"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        why = "holds a control character"
    elif len(name) > MAX_EXPERIMENT_NAME:
        why = f"has {len(name)} characters"
    else:
        return ""
    return (
        f"experiment name {shown} {why}; a name has 1 to {MAX_EXPERIMENT_NAME} characters, "
        "no control characters and no space at either end"
    )


def sqlite_damage(path: Path) -> str:
    """What SQLite's quick check finds wrong with the database at ``path`` ("" when nothing is,
    when there is no file yet, or when another program holds it locked: a lock is no damage).
    Opened read-only: nothing is written."""
    if not path.is_file() or path.stat().st_size == 0:
        return ""
    try:
        with read_only(path) as con:
            rows = con.execute("PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError as exc:
        return "" if _locked(exc) else " ".join(str(exc).split())
    except sqlite3.DatabaseError as exc:
        return " ".join(str(exc).split())
    found = [str(row[0]) for row in rows if row and row[0] != "ok"]
    return " ".join(" ".join(found).split())[:300]  # one line, whatever SQLite printed


def read_only(path: Path, timeout: float = 5.0) -> contextlib.closing[sqlite3.Connection]:
    """A read-only connection to the SQLite database at ``path`` (nothing can be written
    through it, no file is created), closed at the end of the ``with`` block; waiting at most
    ``timeout`` seconds for another program's lock."""
    return contextlib.closing(
        sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
    )


def unfinished_store(path: Path) -> bool:
    """Whether the SQLite store at ``path`` is still to be made: no file, an empty one, or one
    whose creation never finished (a full disk, a kill), MLflow's migrations begun but neither
    an experiment nor a run in it (the last step of MLflow's creation adds the Default
    experiment, whose row a deletion keeps). Opened read-only: nothing is written."""
    try:
        if path.stat().st_size == 0:
            return True
    except FileNotFoundError:
        return True
    try:
        with read_only(path) as con:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
            if not tables:
                return True
            if "alembic_version" not in tables:
                return False  # not MLflow's, or MLflow's before migrations: not ours to remake
            return not any(
                con.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()  # noqa: S608
                for table in ("experiments", "runs")
                if table in tables
            )
    except sqlite3.DatabaseError:
        return False  # damaged: sqlite_damage says how


def create_whole(path: Path, make: Callable[[Path], None]) -> None:
    """Make the SQLite store at ``path`` by ``make(scratch)`` on a scratch file beside it,
    renamed into place when complete: a creation cut short (a full disk, a kill) leaves no
    half-made store that would fail every later sweep ("table ... already exists"), only a
    scratch file, removed here. Call it under :func:`store_lock`."""
    scratch = path.with_name(f".{path.name}.creating-{os.getpid()}")
    scratch.unlink(missing_ok=True)
    try:
        make(scratch)
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def sqlite_read_problem(uri: str) -> str:
    """Why the SQLite store of ``uri`` cannot be read as it is, in one line ("" when it can,
    and for a store that is no SQLite file): no file, an empty file or a database without
    MLflow's tables (MLflow would write its schema into either), a database another program
    holds locked, a file that is no database or is damaged. Opened read-only: nothing is
    written, and nothing waits more than a few seconds."""
    path = sqlite_path(uri)
    if path is None:
        return ""
    where = f"tracking store {uri}"
    if not path.is_file():
        return f"{where}: no such file {path}; nothing was recorded there"
    if path.stat().st_size == 0:
        return f"{where}: {path} is empty (0 bytes); nothing was recorded there"
    try:
        tables = _sqlite_tables(path)
    except sqlite3.OperationalError as exc:
        if _locked(exc):
            return (
                f"{where}: {path} is locked by another program ({' '.join(str(exc).split())})"
                "; try again when it is done"
            )
        tables = set()  # the quick check below says what is wrong
    except sqlite3.DatabaseError:
        tables = set()
    # the quick check reads the whole file (a second for a store of a thousand runs): only where
    # the schema itself cannot be read; a read that fails further in says so by the same check
    damaged = "" if "experiments" in tables else sqlite_damage_problem(uri, path)
    if damaged:
        return damaged
    if "experiments" not in tables:
        return (
            f"{where}: {path} is a SQLite database without MLflow's tables; nothing was "
            "recorded there"
        )
    return ""


def _locked(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite's error says another connection holds the database locked."""
    return "locked" in str(exc) or "busy" in str(exc)


def _sqlite_tables(path: Path) -> set[str]:
    """The names of the tables of the SQLite database at ``path``, read-only, waiting at most
    3 s for another program's lock; sqlite3's error when it cannot be read."""
    with read_only(path, timeout=3) as con:
        return {row[0] for row in con.execute("select name from sqlite_master where type='table'")}


def sqlite_damage_problem(uri: str, path: Path) -> str:
    """``tracking store URI: PATH is damaged (...)``, one line, when SQLite's quick check finds
    the database at ``path`` damaged (:func:`sqlite_damage`); "" when it does not."""
    damage = sqlite_damage(path)
    if not damage:
        return ""
    return (
        f"tracking store {uri}: {path} is damaged (SQLite's quick check: {damage}); restore it "
        "from a copy, or give another --tracking-uri"
    )


def template_path(version: str) -> Path | None:
    """Where this machine keeps an empty store migrated by MLflow ``version``, copied for every
    new SQLite store instead of running MLflow's migrations again (seconds each): in
    ``RUNNER_CACHE_DIR``, else ``$XDG_CACHE_HOME/runner``, else ``~/.cache/runner``; None when
    no such folder can be made."""
    base = os.environ.get("RUNNER_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "runner"
    )
    folder = Path(base)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    safe = re.sub(r"[^A-Za-z0-9.+-]", "_", version)
    return folder / f"mlflow-{safe}.db" if os.access(folder, os.W_OK) else None


def keep_template(made: Path, template: Path) -> None:
    """Keep a copy of the freshly migrated store ``made`` as ``template``, whole or not at all
    (best effort: a cache that cannot be written is only slower)."""
    scratch = template.with_name(f".{template.name}.{os.getpid()}")
    try:
        shutil.copyfile(made, scratch)
        os.replace(scratch, template)
    except OSError:
        scratch.unlink(missing_ok=True)


@contextlib.contextmanager
def store_lock(path: Path | None) -> Iterator[None]:
    """An exclusive lock on ``<database>.lock`` beside a SQLite store, for the block (nothing
    for other stores, or where the system has no ``fcntl``)."""
    if path is None or fcntl is None:
        yield
        return
    with open(path.parent / f"{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def normalize_uri(uri: str) -> str:
    """A sqlite URI with an absolute path, so that changing directory cannot move the store."""
    path = sqlite_path(uri)
    if path is None or path.is_absolute():
        return uri
    query = uri.split("?", 1)[1] if "?" in uri else ""
    return f"sqlite:///{path.resolve()}" + (f"?{query}" if query else "")


def cause_of(exc: BaseException) -> str:
    """One short line saying why a store call failed (SQLAlchemy's SQL and notes left out)."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] [^\"')\n]+", text)
    if found:
        return found.group(0).strip()
    for words in DISK_FULL:
        if words in text:
            return words
    text = re.split(r"\[SQL: |\(Background on this error at", text)[0]
    text = re.sub(r"\(raised as a result of Query-invoked autoflush;[^)]*\)", "", text)
    line = " ".join(text.split()) or type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


#: what a full disk says, through SQLite, MLflow or the file system
DISK_FULL = ("database or disk is full", "No space left on device", "Disk quota exceeded")


def is_disk_full(exc: BaseException) -> bool:
    """Whether a failed write failed for want of space (the store's, or the spool's, disk)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(words in str(exc) for words in DISK_FULL)


def is_transient(exc: BaseException) -> bool:
    """Whether a failed store call may succeed when tried again (server away, database busy);
    a full disk is not (waiting does not free it)."""
    if is_disk_full(exc):
        return False
    code = getattr(exc, "error_code", None)
    if code is not None:
        return code in TRANSIENT_CODES
    if isinstance(exc, OSError | TimeoutError):
        return True
    return type(exc).__module__.startswith(("sqlalchemy", "requests", "urllib3"))


def local_folder(artifact_uri: str | None) -> Path | None:
    """The folder of a local artifact location (``file:`` URI or plain path), else None."""
    if not artifact_uri:
        return None
    parsed = urllib.parse.urlparse(artifact_uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme == "" and Path(artifact_uri).is_absolute():
        return Path(artifact_uri)
    return None
