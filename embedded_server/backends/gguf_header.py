"""The GGUF file format's header: its metadata read, and written without tensors.

A GGUF file opens with ``GGUF``, its version, a count of tensors and of key-value pairs,
then the pairs (a key, a type, a value; an array has an element type and a length).
llama.cpp's vocabulary of a model needs only that header (``vocab_only``), so a model
whose metadata a runner shows (Ollama's ``/api/show`` with ``verbose``) can be tokenized
here from a header written back without tensors.

Written by hand (70 lines): the ``gguf`` package does the same but brings numpy, requests
and tqdm into the server.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

GGUF_MAGIC = b"GGUF"
VERSION = 3
UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, INT64 = 4, 5, 6, 7, 8, 9, 11
_FORMATS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f",
    7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip


class GgufError(ValueError):
    """A file that is not a GGUF header this reader knows (version 2 or 3)."""


def iter_metadata(fh: IO[bytes]) -> Iterator[tuple[str, Any]]:
    """The key-value pairs of the GGUF file open as ``fh``, read as they are asked for."""
    if fh.read(4) != GGUF_MAGIC or _unpack(fh, "<I") not in (2, 3):
        raise GgufError("not a GGUF file (version 2 or 3)")
    _unpack(fh, "<Q")  # tensors
    for _ in range(_unpack(fh, "<Q")):
        key = _string(fh)
        yield key, _value(fh, _unpack(fh, "<I"))


def write_metadata(path: Path, metadata: Mapping[str, Any]) -> None:
    """A GGUF file of ``metadata`` and no tensors, its types as llama.cpp reads them from
    JSON's: whole numbers 32-bit (unsigned unless negative, arrays signed), fractions
    32-bit floats. Empty arrays (what Ollama shows of the vocabulary without ``verbose``)
    are left out."""
    pairs = [(k, v) for k, v in metadata.items() if v != [] and v is not None]
    with path.open("wb") as fh:
        fh.write(GGUF_MAGIC + struct.pack("<IQQ", VERSION, 0, len(pairs)))
        for key, value in pairs:
            fh.write(_pack_string(key))
            if isinstance(value, list):
                kind = _kind(value[0], array=True)
                fh.write(struct.pack("<IIQ", ARRAY, kind, len(value)))
                fh.write(b"".join(_pack(kind, item) for item in value))
            else:
                kind = _kind(value)
                fh.write(struct.pack("<I", kind) + _pack(kind, value))


def _kind(value: Any, array: bool = False) -> int:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        if array:
            return INT32
        return UINT32 if 0 <= value < 2**32 else INT64
    if isinstance(value, float):
        return FLOAT32
    if isinstance(value, str):
        return STRING
    raise GgufError(f"no GGUF type for {type(value).__name__}")


def _pack(kind: int, value: Any) -> bytes:
    return _pack_string(value) if kind == STRING else struct.pack(_FORMATS[kind], value)


def _pack_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _unpack(fh: IO[bytes], fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise GgufError("the GGUF header ends early")
    return struct.unpack(fmt, data)[0]


def _string(fh: IO[bytes]) -> str:
    return fh.read(_unpack(fh, "<Q")).decode("utf-8")


def _value(fh: IO[bytes], kind: int) -> Any:
    if kind == STRING:
        return _string(fh)
    if kind == ARRAY:
        item, count = _unpack(fh, "<I"), _unpack(fh, "<Q")
        return [_value(fh, item) for _ in range(count)]
    if kind not in _FORMATS:
        raise GgufError(f"unknown GGUF value type {kind}")
    return _unpack(fh, _FORMATS[kind])
