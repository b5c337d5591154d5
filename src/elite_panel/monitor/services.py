"""The supervised services, each counted with its whole process tree.

A runner is often several processes (Ollama's server plus one runner process per loaded
model), so a service's CPU and memory are the sums over its tree.  ``psutil.Process``
objects are kept between samples: their first ``cpu_percent()`` is a meaningless 0.0, and
re-creating them each tick would report nothing but that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psutil

TREE_REFRESH_TICKS = 5


@dataclass(frozen=True)
class ServiceSample:
    """One service's process tree.

    Attributes:
        cpu_percent: of one core, summed over the tree (``top``'s %CPU, so > 100 is possible).
        rss_bytes: resident memory summed over the tree.
        threads: threads summed over the tree.
        open_files: file descriptors held (``ls /proc/PID/fd | wc -l``), summed.
        pids: the tree's process ids (GPU processes are matched against them).
        gpu_memory_bytes: GPU memory its processes hold, when a GPU reports it.
    """

    name: str
    pid: int
    cpu_percent: float
    rss_bytes: int
    threads: int
    open_files: int
    pids: tuple[int, ...]
    gpu_memory_bytes: int | None = None


class ServiceSampler:
    """Samples process trees; blocking (a few /proc reads per process).

    Finding a tree's members reads every process on the machine (``children()`` scans all
    of /proc), so trees are looked up every :data:`TREE_REFRESH_TICKS` samples and reused
    in between; a new child (Ollama starting a model's runner) shows up within seconds.
    """

    def __init__(self) -> None:
        self._known: dict[int, psutil.Process] = {}
        self._trees: dict[int, list[psutil.Process]] = {}
        self._ticks = 0

    def sample(self, targets: Sequence[tuple[str, int]]) -> list[ServiceSample]:
        """``targets``: (service name, root pid) pairs; a vanished root is left out."""
        seen: dict[int, psutil.Process] = {}
        out = []
        refresh = self._ticks % TREE_REFRESH_TICKS == 0
        self._ticks += 1
        for name, pid in targets:
            root = self._process(pid, seen)
            if root is None:
                continue
            try:
                if root.status() == psutil.STATUS_ZOMBIE:  # exited, not yet reaped
                    continue
                if refresh or pid not in self._trees:
                    self._trees[pid] = [root, *root.children(recursive=True)]
                tree = self._trees[pid]
            except psutil.Error:
                continue
            cpu = 0.0
            rss = threads = files = 0
            pids = []
            for member in tree:
                proc = self._process(member.pid, seen, member)
                if proc is None:
                    continue
                try:
                    with proc.oneshot():
                        cpu += proc.cpu_percent()
                        rss += proc.memory_info().rss
                        threads += proc.num_threads()
                        files += proc.num_fds()
                except psutil.Error:
                    continue
                pids.append(proc.pid)
            out.append(ServiceSample(name, pid, cpu, rss, threads, files, tuple(pids)))
        self._known = seen  # forget processes that are gone
        self._trees = {pid: tree for pid, tree in self._trees.items() if pid in seen}
        return out

    def _process(
        self, pid: int, seen: dict[int, psutil.Process], fresh: psutil.Process | None = None
    ) -> psutil.Process | None:
        proc = seen.get(pid) or self._known.get(pid)
        try:
            if proc is not None and proc.is_running():  # same pid, same start time
                seen[pid] = proc
                return proc
            proc = fresh or psutil.Process(pid)
            proc.cpu_percent()  # prime; this tick counts it as 0
        except psutil.Error:
            return None
        seen[pid] = proc
        return proc
