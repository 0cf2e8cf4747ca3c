"""Run a command tethered to the process that started this one: the fixtures start every server
and cluster through it, so that none outlives its test run, even a pytest killed with SIGKILL.

``python _tethered.py COMMAND...``: runs COMMAND in this process's group (the fixture starts
this one as a new session, and stops the whole group when the test ends). SIGTERM, which that
stop sends to every member, leaves this process alone: it ends when COMMAND does. When the
parent dies first, this process stops the group itself: SIGTERM, and SIGKILL what is left
after 10 s (itself last).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def main() -> int:
    parent = os.getppid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(sys.argv[1:], preexec_fn=_default_sigterm)
    while child.poll() is None:
        if os.getppid() != parent:  # the test run is gone: so is everything it started
            os.killpg(0, signal.SIGTERM)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            os.killpg(0, signal.SIGKILL)
        time.sleep(0.2)
    return child.returncode


def _default_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
