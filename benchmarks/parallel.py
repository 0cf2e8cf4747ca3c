"""Parallel sweeps and tracking servers, measured as a user runs them: whole `runner sweep` runs.

1. The speed-up of ``--jobs 2`` over ``--jobs 1`` on a CPU-bound table (digits, 64-64-10, tanh,
   softmax, mini-batches of 32): each command runs against a fresh SQLite store; the two are
   alternated and the median of the pairwise ratios is printed.
2. The runs per second of a 1000-run XOR sweep (2-2-1, 1000 epochs, 10 learning rates x 100 seeds)
   recorded to SQLite and to a local ``mlflow server`` (SQLite backend, one uvicorn worker) on
   127.0.0.1; the server is started here and stopped by its pid.

Part 2 runs once (each sweep takes a minute or two). Nothing is asserted about time.
``--quick`` shrinks both tables for a smoke run.

    python benchmarks/parallel.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def sweep_seconds(table: Path, uri: str, *extra: str) -> float:
    """Wall seconds of one ``runner sweep`` process (with --rerun, so nothing is skipped)."""
    cmd = [sys.executable, "-m", "runner", "sweep", str(table), "--tracking-uri", uri, "-q"]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, "--rerun", *extra], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"sweep failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [
            str(mlflow),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'server.db'}",
            "--artifacts-destination",
            str(folder / "server-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("mlflow server did not start within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny tables, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        digits = folder / "digits.csv"
        epochs = 3 if args.quick else 150  # enough work per population to outweigh worker start-up
        # 4 hidden sizes x 2 activations: 8 populations (of 2 seeds each) to share out
        digits.write_text(
            "dataset,hidden,activation,output_activation,cost,optimizer,learning_rate,"
            "momentum,batch_size,scaling,test_size,epochs,seed\n"
            "digits,32|48|64|96,tanh|relu,softmax,categorical_cross_entropy,momentum,0.05,0.9,"
            f"32,minmax,0.25,{epochs},0..1\n"
        )
        n_digits = 16
        print(
            f"1. --jobs 2 vs --jobs 1: {n_digits} digits runs in 8 populations "
            f"(64-{{32,48,64,96}}-10, batch 32, {epochs} epochs)"
        )
        ones, twos, ratios = [], [], []
        for i in range(repeats):
            one = sweep_seconds(digits, f"sqlite:///{folder}/j1-{i}.db", "--jobs", "1")
            two = sweep_seconds(digits, f"sqlite:///{folder}/j2-{i}.db", "--jobs", "2")
            ones.append(one)
            twos.append(two)
            ratios.append(one / two)
        print(f"   --jobs 1: median {statistics.median(ones):.2f} s")
        print(f"   --jobs 2: median {statistics.median(twos):.2f} s")
        print(f"   speed-up (jobs 1 / jobs 2, median of pairs): {statistics.median(ratios):.2f}x")

        xor = folder / "xor1000.csv"
        seeds = "0..9" if args.quick else "0..99"
        n_xor = 100 if args.quick else 1000
        xor.write_text(
            "dataset,hidden,learning_rate,epochs,seed\n"
            f"xor,2,0.1|0.2|0.3|0.4|0.5|0.6|0.7|0.8|0.9|1.0,1000,{seeds}\n"
        )
        print(f"\n2. {n_xor}-run XOR sweep: runs per second by store (--jobs 1)")
        sqlite_s = [
            sweep_seconds(xor, f"sqlite:///{folder}/x-{i}.db", "--jobs", "1")
            for i in range(repeats)
        ]
        server, url = start_server(folder)
        try:
            server_s = [sweep_seconds(xor, url, "--jobs", "1")]
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        sq, sv = statistics.median(sqlite_s), statistics.median(server_s)
        print(f"   SQLite:        {n_xor / sq:6.1f} runs/s  ({sq:.1f} s)")
        print(f"   mlflow server: {n_xor / sv:6.1f} runs/s  ({sv:.1f} s)")
        print(f"   server / SQLite time: {sv / sq:.2f}x")


if __name__ == "__main__":
    main()
