"""Which process drives a sweep, and whether it still lives.

Every run a sweep writes carries the tag ``runner.driver``: the host, the boot of the host, the
process id and the process's start time (``/proc/<pid>/stat`` on Linux), so that a pid reused
after a crash or a reboot is not taken for the driver. The sweep's parent run also carries
``runner.heartbeat``, the last time (seconds since the epoch) its driver was known to work. A run
left RUNNING is stale when its driver is gone: on this host, when no process with that pid and
start time lives; on another host, when its sweep's heartbeat is older than
:data:`STALE_AFTER`. Imports nothing of runner's.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import time
from pathlib import Path

#: a driver on another host is taken for gone when its heartbeat is this many seconds old
STALE_AFTER = 1800.0


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """A process's start time in clock ticks since boot, or "" where /proc has none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name may hold spaces


@functools.cache
def this_driver() -> str:
    """The ``runner.driver`` tag of this process (JSON: host, boot, pid, start)."""
    pid = os.getpid()
    return json.dumps(
        {"host": socket.gethostname(), "boot": _boot_id(), "pid": pid, "start": _start_time(pid)},
        sort_keys=True,
    )


def driver_gone(tag: str | None, last_seen: float | str | None, now: float | None = None) -> bool:
    """Whether the driver a run's ``runner.driver`` tag names is gone (see the module
    docstring). ``last_seen`` is its sweep's ``runner.heartbeat`` (or, where there is none, the
    run's start), in seconds since the epoch: what decides for a driver on another host, and for
    a run without a driver tag (written by runner 0.1.0)."""
    now = time.time() if now is None else now
    try:
        driver = json.loads(tag) if tag else None
        seen = float(last_seen) if last_seen else None
    except ValueError:
        return False
    if not isinstance(driver, dict) or driver.get("host") != socket.gethostname():
        return seen is not None and now - seen > STALE_AFTER
    if driver.get("boot") != _boot_id():
        return True  # the host rebooted since
    pid = int(driver.get("pid", -1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        pass  # a process of another user holds the pid: its start time decides
    return bool(driver.get("start")) and _start_time(pid) != driver.get("start")
