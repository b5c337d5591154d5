"""The parallel run keeps its groups: tests marked with one ``xdist_group`` run in one worker
(the cluster's, the image's and apt's tests rely on it; a pytest release once broke it
silently: pyproject.toml pins around it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GROUPED = """
import os, pathlib, pytest
pytestmark = pytest.mark.xdist_group("together")
@pytest.mark.parametrize("n", range(6))
def test_where(n):
    with pathlib.Path("workers.txt").open("a") as out:
        out.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""


def test_a_groups_tests_run_in_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    argv = ["-p", "no:cacheprovider", "-n", "3", "--dist", "loadgroup", "-q", "test_grouped.py"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    workers = (tmp_path / "workers.txt").read_text().split()
    assert len(workers) == 6 and len(set(workers)) == 1, workers
