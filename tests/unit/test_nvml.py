"""GPU sampling against the NVML double replaying values recorded on an NVIDIA H200
(tests/fakes/nvml_recording.json: a PyTorch process holding 4.7 GB at 100 % load)."""

from __future__ import annotations

import pytest

from elite_panel.monitor.nvml import GpuReader
from tests.fakes.nvml_double import NVMLError, ReplayNvml, load_recording


def test_reads_the_recorded_gpu() -> None:
    reading = GpuReader(ReplayNvml()).sample()
    assert reading.unavailable_reason is None
    (gpu,) = reading.gpus
    assert gpu.name == "NVIDIA H200"
    assert gpu.uuid and gpu.uuid.startswith("GPU-")
    assert gpu.utilization_percent == 100.0
    assert gpu.memory_total_bytes == 150_754_820_096
    assert gpu.memory_used_bytes == 5_328_732_160
    assert gpu.memory_percent == pytest.approx(3.53, abs=0.01)
    assert gpu.power_w == pytest.approx(698.636)  # NVML reports milliwatts
    assert gpu.power_limit_w == 700.0
    assert gpu.sm_clock_mhz == 1965.0 and gpu.memory_clock_mhz == 3201.0
    assert [(p.pid, p.used_memory_bytes) for p in gpu.processes] == [(667, 4_674_551_808)]


def test_not_supported_is_an_absent_value_not_an_error() -> None:
    recording = load_recording()
    assert recording["frames"][0]["0"]["nvmlDeviceGetFanSpeed"]["error"] == 3  # as recorded
    (gpu,) = GpuReader(ReplayNvml(recording)).sample().gpus
    assert gpu.fan_percent is None  # passively cooled data-centre GPU
    assert gpu.temperature_c == 62.0  # the other values are still there


def test_replays_frames_in_order() -> None:
    nvml = ReplayNvml()
    reader = GpuReader(nvml)
    powers = [reader.sample().gpus[0].power_w for _ in range(len(nvml.frames) + 1)]
    recorded = [f["0"]["nvmlDeviceGetPowerUsage"]["result"] / 1000 for f in nvml.frames]
    assert powers == [*recorded, recorded[0]]


@pytest.mark.parametrize(
    ("nvml", "reason"),
    [
        (ReplayNvml(init_error=12), "no NVIDIA driver is installed"),
        (ReplayNvml(init_error=9), "the NVIDIA driver is not loaded"),
        (ReplayNvml(device_count=0), "no NVIDIA GPU found"),
    ],
    ids=["no-library", "driver-not-loaded", "no-device"],
)
def test_no_gpu_is_a_reason_not_an_error(nvml: ReplayNvml, reason: str) -> None:
    reader = GpuReader(nvml)
    for _ in range(2):  # asked once; later samples repeat the reason cheaply
        reading = reader.sample()
        assert reading.gpus == ()
        assert reading.unavailable_reason is not None and reason in reading.unavailable_reason


def test_a_failing_query_is_reported_and_retried() -> None:
    nvml = ReplayNvml()
    reader = GpuReader(nvml)
    assert reader.sample().gpus
    frame = nvml.frames[(nvml.samples) % len(nvml.frames)]
    lost = {"error": 15, "message": "GPU is lost"}
    original = frame["0"]["nvmlDeviceGetMemoryInfo"]
    frame["0"]["nvmlDeviceGetMemoryInfo"] = lost
    reading = reader.sample()
    assert reading.gpus == () and reading.unavailable_reason == "NVML query failed: GPU is lost"
    assert not nvml.initialised  # shut down, to start again on the next sample
    frame["0"]["nvmlDeviceGetMemoryInfo"] = original
    assert reader.sample().gpus  # the next sample opens NVML again


def test_the_double_raises_like_pynvml() -> None:
    with pytest.raises(NVMLError) as info:
        ReplayNvml(init_error=9).nvmlInit()
    assert info.value.value == 9
