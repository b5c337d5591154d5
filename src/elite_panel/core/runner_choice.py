"""Which model runner suits this machine, and which coding model fits its GPU.

The welcome page's reasoning, kept apart from the probing (``stack/machine_survey.py``,
``monitor/nvml.py``) so that it can be read and tested alone:

- Ollama installed → Ollama (the panel starts and stops it); an Ollama answering without a
  binary here (another user's service, a container) → that one, as an external runner.
- Else a Docker engine with the NVIDIA runtime and a GPU → Ollama in Docker.
- Else the built-in runner (llama.cpp and the bundled small model), when installed.
- Else Ollama in Docker on the CPU, when an engine answers.

Runners that can pull are offered the largest coding model whose download fits in
:data:`VRAM_SHARE` of the largest GPU's memory (the rest is the context's cache and the
desktop's); without a GPU, the smallest, which answers at reading speed on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from elite_panel.core.kinds import RunnerKind

GIB = 1024**3
VRAM_SHARE = 0.75
# (Ollama tag, download size in bytes): the sizes the Ollama library lists (Q4_K_M).
CODING_MODELS = (
    ("qwen2.5-coder:1.5b", 986_000_000),
    ("qwen2.5-coder:3b", 1_900_000_000),
    ("qwen2.5-coder:7b", 4_700_000_000),
    ("qwen2.5-coder:14b", 9_000_000_000),
    ("qwen2.5-coder:32b", 20_000_000_000),
)


@dataclass(frozen=True)
class Gpu:
    """An NVIDIA GPU as the survey saw it."""

    name: str
    memory_bytes: int


@dataclass(frozen=True)
class MachineFacts:
    """What the survey found: the runners this machine has, and its GPUs.

    Attributes:
        ollama_binary: the ``ollama`` executable on PATH, if any.
        ollama_version: the version of an Ollama answering at ``ollama_url``, if one does.
        docker: ``""`` when a Docker engine answers, else why not.
        docker_gpu: the engine has the NVIDIA runtime.
        builtin: ``""`` when the built-in runner and its bundled model are installed, else
            what is missing.
        embedding: ``""`` when the bundled embedding model (project search) is installed,
            else how to add it.
        gpus: the NVIDIA GPUs; ``gpu_note`` says why there are none.
    """

    ollama_url: str
    ollama_binary: str | None = None
    ollama_version: str | None = None
    docker: str = "not checked"
    embedding: str = "not checked"
    docker_gpu: bool = False
    builtin: str = "not checked"
    gpus: tuple[Gpu, ...] = ()
    gpu_note: str = ""

    @property
    def vram_bytes(self) -> int:
        """The largest GPU's memory (a model runs on one GPU here); 0 without a GPU."""
        return max((gpu.memory_bytes for gpu in self.gpus), default=0)


@dataclass(frozen=True)
class RunnerOption:
    """A runner this machine can use, and the profile values that choose it."""

    kind: RunnerKind
    title: str
    detail: str
    values: dict[str, str] = field(default_factory=dict)

    @property
    def can_pull(self) -> bool:
        return self.kind is not RunnerKind.BUILTIN


def runner_options(facts: MachineFacts) -> list[RunnerOption]:
    """The runners usable here, the recommended one first."""
    found = []
    if facts.ollama_binary:
        found.append(
            RunnerOption(
                RunnerKind.OLLAMA,
                "Ollama",
                f"{facts.ollama_binary}, started and stopped with the stack",
                {"runner.kind": "ollama"},
            )
        )
    elif facts.ollama_version:
        found.append(
            RunnerOption(
                RunnerKind.EXTERNAL,
                "The Ollama already running",
                f"version {facts.ollama_version} at {facts.ollama_url} (watched, not started)",
                {"runner.kind": "external", "runner.url": facts.ollama_url},
            )
        )
    docker = None
    if not facts.docker:
        where = "on the GPU" if facts.docker_gpu and facts.gpus else "on the CPU"
        docker = RunnerOption(
            RunnerKind.DOCKER,
            "Ollama in Docker",
            f"the ollama/ollama image, {where}; models kept in a volume",
            {"runner.kind": "docker"},
        )
        if facts.docker_gpu and facts.gpus:
            found.append(docker)
    if not facts.builtin:
        found.append(
            RunnerOption(
                RunnerKind.BUILTIN,
                "Built-in runner",
                "llama.cpp with the bundled SmolLM2-135M: small, quick on any CPU, no download",
                {"runner.kind": "builtin"},
            )
        )
    if docker and docker not in found:
        found.append(docker)
    return found


def coding_model(facts: MachineFacts) -> tuple[str, int, str]:
    """The coding model to offer: its tag, its download size and why it was chosen."""
    vram = facts.vram_bytes
    if not vram:
        name, size = CODING_MODELS[0]
        return name, size, "the smallest: without a GPU it runs on the CPU"
    fitting = [m for m in CODING_MODELS if m[1] <= vram * VRAM_SHARE] or [CODING_MODELS[0]]
    name, size = fitting[-1]
    return name, size, f"the largest that fits {vram / GIB:.0f} GiB of GPU memory"
