"""A reader for the concurrent-reader test: polls ``search_runs`` on a store, as the MLflow UI
does, until the file ``stop`` appears; prints each count of FINISHED runs it saw, and any error.

Usage: python _search_reader.py TRACKING_URI STOP_FILE
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> int:
    from mlflow import MlflowClient

    uri, stop = sys.argv[1], Path(sys.argv[2])
    client = MlflowClient(uri)
    print("ready", flush=True)
    while not stop.exists():
        try:
            found = client.search_experiments()
            ids = [e.experiment_id for e in found]
            runs = client.search_runs(ids, "attributes.status = 'FINISHED'", max_results=5000)
            print("finished", len(runs), flush=True)
        except Exception as exc:  # what the UI would show: the test fails on it
            print("error", " ".join(str(exc).split())[:300], flush=True)
        time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
