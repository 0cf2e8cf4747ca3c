"""The README's two commands are the ones the project actually supports."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(
        line for line in ci.splitlines() if line.strip() and "pytest" in line and "#" not in line
    )
    assert any(command.strip() in block for block in _bash_blocks())


def test_readme_sweep_command_names_the_xor_table():
    first = _bash_blocks()[0].strip()
    assert first.startswith("python3 -m venv .venv")
    assert first.endswith("runner sweep experiments/xor.csv")
    assert (ROOT / "experiments" / "xor.csv").exists()
