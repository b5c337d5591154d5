"""An NVML double that replays values recorded from a real GPU, and the recorder.

Recording (on a machine with an NVIDIA GPU)::

    python -m tests.fakes.nvml_double --frames 5 > tests/fakes/nvml_recording.json

wraps the real ``pynvml`` in :class:`RecordingNvml` and runs :class:`GpuReader` over it,
so the recording holds exactly the calls the reader makes, with their results or NVML
error codes ("Not Supported" included).  :class:`ReplayNvml` answers the same calls from
that file, one frame per sample, cycling; it also plays the machines without a GPU:
``init_error=12`` (no library), ``9`` (driver not loaded), ``device_count=0``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

RECORDING = Path(__file__).with_name("nvml_recording.json")
_FRAME_CALL = "nvmlDeviceGetUtilizationRates"  # the reader's first per-device call


class NVMLError(Exception):
    """Like ``pynvml.NVMLError``: ``value`` is the NVML return code."""

    def __init__(self, value: int, message: str = "") -> None:
        super().__init__(message or f"NVML error {value}")
        self.value = value


def _key(name: str, args: tuple[Any, ...]) -> str:
    return "/".join([name, *map(str, args)])


def _plain(value: Any) -> Any:
    """ctypes structures, lists and bytes → JSON values."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    fields = getattr(value, "_fields_", None)
    if fields is not None:
        return {name: _plain(getattr(value, name)) for name, *_ in fields}
    if hasattr(value, "__dict__"):  # pynvml's nvmlFriendlyObject (process lists)
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return value


def _namespace(value: Any) -> Any:
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _namespace(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_namespace(v) for v in value]
    return value


class RecordingNvml:
    """Passes calls to the real ``pynvml`` and records each device query of each sample."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.NVMLError = real.NVMLError
        self.frames: list[dict[str, dict[str, Any]]] = []
        self._indices: dict[int, int] = {}

    def nvmlInit(self) -> None:
        self._real.nvmlInit()

    def nvmlShutdown(self) -> None:
        self._real.nvmlShutdown()

    def nvmlDeviceGetCount(self) -> int:
        return int(self._real.nvmlDeviceGetCount())

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        handle = self._real.nvmlDeviceGetHandleByIndex(index)
        self._indices[id(handle)] = index
        return handle

    def __getattr__(self, name: str) -> Any:
        function = getattr(self._real, name)

        def recorded(handle: Any, *args: Any) -> Any:
            index = self._indices[id(handle)]
            if name == _FRAME_CALL and index == 0:
                self.frames.append({})
            entry = self.frames[-1].setdefault(str(index), {})
            try:
                result = function(handle, *args)
            except self._real.NVMLError as exc:
                entry[_key(name, args)] = {"error": exc.value, "message": str(exc)}
                raise
            entry[_key(name, args)] = {"result": _plain(result)}
            return result

        return recorded


class ReplayNvml:
    """Answers the reader's NVML calls from a recording (see the module docstring)."""

    NVMLError = NVMLError

    def __init__(
        self,
        recording: dict[str, Any] | None = None,
        init_error: int | None = None,
        device_count: int | None = None,
    ) -> None:
        self.recording = recording if recording is not None else load_recording()
        self.frames: list[dict[str, dict[str, Any]]] = self.recording["frames"]
        self.init_error = init_error
        self.device_count = (
            device_count if device_count is not None else len(self.frames[0]) if self.frames else 0
        )
        self.samples = 0
        self.initialised = False

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:
        return self.device_count

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("nvmlDeviceGet"):
            raise AttributeError(name)

        def replay(handle: int, *args: Any) -> Any:
            if name == _FRAME_CALL and handle == 0:
                self.samples += 1
            frame = self.frames[(max(self.samples, 1) - 1) % len(self.frames)]
            entry = frame[str(handle)].get(_key(name, args))
            if entry is None:
                raise NVMLError(3, f"{name} not in the recording")  # Not Supported
            if "error" in entry:
                raise NVMLError(entry["error"], entry.get("message", ""))
            return _namespace(entry["result"])

        return replay


def load_recording(path: Path = RECORDING) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def main() -> int:
    import pynvml

    from elite_panel.monitor.nvml import GpuReader

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    recorder = RecordingNvml(pynvml)
    reader = GpuReader(recorder)
    for _ in range(args.frames):
        reading = reader.sample()
        if reading.unavailable_reason:
            sys.stderr.write(reading.unavailable_reason + "\n")
            return 1
        time.sleep(args.interval)
    driver = pynvml.nvmlSystemGetDriverVersion()
    reader.close()
    json.dump(
        {
            "recorded": time.strftime("%Y-%m-%d"),
            "machine": platform.machine(),
            "driver_version": driver.decode() if isinstance(driver, bytes) else driver,
            "nvml_python": getattr(pynvml, "__version__", None),
            "frames": recorder.frames,
        },
        sys.stdout,
        indent=1,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
