"""The ``model`` marker: a skip without the built-in runner, a failure under
``ELITE_REQUIRE_MODEL=1`` (what CI sets), in a pytest run of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODEL_MISSING, REPO


@pytest.mark.parametrize(
    ("require", "outcome"), [("1", "1 passed, 1 error"), ("", "1 passed, 1 skipped")]
)
def test_a_missing_model_fails_or_skips_each_model_test(
    tmp_path: Path, require: str, outcome: str
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    model: needs the model\n")
    (tmp_path / "conftest.py").write_text(
        "import tests.conftest as shared\n"
        "shared.model_installed = lambda: False  # as on a machine without it\n"
        "pytest_runtest_setup = shared.pytest_runtest_setup\n"
    )
    (tmp_path / "test_it.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.model\ndef test_needs_the_model():\n    pass\n\n"
        "def test_needs_nothing():\n    pass\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "ELITE_REQUIRE_MODEL": require}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome in run.stdout, run.stdout + run.stderr
    assert (run.returncode != 0) == bool(require)  # an error in setup fails the run
    if require:
        assert f"ELITE_REQUIRE_MODEL=1 but {MODEL_MISSING}" in run.stdout
