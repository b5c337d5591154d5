"""The built-in runner's tokenizer, in the server's own process.

llama-cpp-python's server tokenizes (``/extras/tokenize/count``) only between answers: the
endpoint waits for the lock an answer holds while it streams. Where llama.cpp's Python
binding is installed beside the server (the local stack, whose runner it is), each model's
vocabulary is loaded here instead (``vocab_only``: a few megabytes, no weights), which
counts exactly as the runner does and at once.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class GgufTokenizers:
    """llama.cpp's vocabulary of each GGUF file asked about, loaded on first use."""

    def __init__(self) -> None:
        self._models: dict[Path, Any] = {}
        self._lock = threading.Lock()  # one tokenization at a time (llama.cpp's model)

    @staticmethod
    def available() -> bool:
        """Whether llama.cpp's Python binding can be imported here."""
        return importlib.util.find_spec("llama_cpp") is not None

    async def count(self, path: Path, texts: Sequence[str]) -> list[int]:
        return await asyncio.to_thread(self._count, path, texts)

    def _count(self, path: Path, texts: Sequence[str]) -> list[int]:
        from llama_cpp import llama_cpp

        with self._lock:
            model = self._models.get(path)
            if model is None:
                model = self._models[path] = _load(path)
            counts = []
            for text in texts:
                data = text.encode()
                # As the runner reads a message's text: special tokens parsed, no BOS (the
                # chat template's overhead counts it). Room for no token: llama.cpp then
                # answers minus the count, in one pass and with nothing allocated.
                found = llama_cpp.llama_tokenize(model.vocab, data, len(data), None, 0, False, True)
                counts.append(abs(found))
            return counts


def _load(path: Path) -> Any:
    from llama_cpp import llama_cpp
    from llama_cpp._internals import LlamaModel

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    return LlamaModel(path_model=str(path), params=params, verbose=False)
