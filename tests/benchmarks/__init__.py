"""Benchmarks: each prints its figures beside a baseline measured in the same run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[2] / ".benchmarks"


def save_results(name: str, results: dict[str, Any]) -> None:
    """Keep the figures as ``.benchmarks/<name>.json`` for notes and comparisons."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2, default=str))
