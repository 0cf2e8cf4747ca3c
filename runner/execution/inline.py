"""Running population tasks one after another in the calling process (``--jobs 1``).

Imports the rest of :mod:`runner.execution`.
"""

from __future__ import annotations

from runner.errors import error_reason
from runner.execution.ledger import TaskLedger, Worker, default_worker, failed_results


def run_inline(ledger: TaskLedger, worker: Worker | None) -> None:
    """Run every task of the ledger here; Ctrl-C raises the ledger's KeyboardInterrupt."""
    work = worker or default_worker()
    try:
        for index in range(len(ledger.tasks)):
            task = ledger.submit(index)
            if task is None:
                continue
            ledger.start(index)
            try:
                results = work(task)
            except (Exception, SystemExit) as exc:  # a worker's sys.exit too; Ctrl-C stops
                results = failed_results(task, error_reason(exc))
            ledger.deliver(index, results)
    except KeyboardInterrupt as exc:
        raise ledger.interrupted(exc) from None
