"""The welcome page's Qt side: surveys the machine, writes the chosen runner into the
active profile and starts the stack with it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from elite_panel.adapters.profile_service import ProfileService
from elite_panel.adapters.stack_adapter import StackAdapter
from elite_panel.adapters.tasks import TaskGroup, off_the_window
from elite_panel.core.errors import ConfigError
from elite_panel.core.kinds import RunnerKind
from elite_panel.core.runner_choice import Gpu, MachineFacts, RunnerOption
from elite_panel.core.services import ServiceState, ServiceStatus

if TYPE_CHECKING:
    from elite_panel.monitor.nvml import GpuReader


class WelcomeAdapter(QObject):
    """Surveys the machine and starts the stack with the runner the user picks.

    Signals:
    surveyed(MachineFacts): what the machine has.
    started(str): the stack is up, every service ready, on the chosen runner (its kind).
    failed(str): the profile could not be written, or the stack did not start (why).
    """

    surveyed = Signal(object)
    started = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        profile: ProfileService,
        stack: StackAdapter,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.profile = profile
        self.stack = stack
        self._tasks = TaskGroup("welcome")
        self._waiting_for: str | None = None  # the runner kind being started
        stack.statusChanged.connect(self._on_status)
        stack.actionFailed.connect(self._on_action_failed)

    def survey(self) -> None:
        self._tasks.start("survey", self._survey())

    def choose(self, option: RunnerOption) -> None:
        """Write ``option`` into the active profile, then start (or restart) the stack."""
        self._tasks.start("choose", self._choose(option))

    def close(self) -> None:
        self._tasks.cancel_all()

    async def _survey(self) -> None:
        GpuReader, survey = await off_the_window(_survey_parts)
        profile = await self.profile.load()
        runner = profile.runner
        url = runner.url or f"http://127.0.0.1:{runner.port_for(RunnerKind.OLLAMA)}"
        reader = GpuReader()
        try:
            reading = await asyncio.to_thread(reader.sample)
        finally:
            reader.close()
        gpus = tuple(Gpu(g.name, g.memory_total_bytes or 0) for g in reading.gpus)
        note = reading.unavailable_reason or ""
        facts: MachineFacts = await asyncio.to_thread(survey, url, gpus, note)
        self.surveyed.emit(facts)

    async def _choose(self, option: RunnerOption) -> None:
        try:
            await self.profile.set_values(option.values)
        except ConfigError as exc:
            self.failed.emit(str(exc))
            return
        self._waiting_for = option.kind.value
        if self.stack.connected:
            self.stack.restart_stack()
        else:
            self.stack.start_stack()

    def _on_status(self, statuses: list[ServiceStatus]) -> None:
        if self._waiting_for is None:
            return
        failed = [s for s in statuses if s.state is ServiceState.FAILED]
        if failed:
            self._waiting_for = None
            self.failed.emit(f"{failed[0].name}: {failed[0].last_error or 'failed to start'}")
            return
        runner = next((s for s in statuses if s.name == "runner"), None)
        ready = all(s.state is ServiceState.READY for s in statuses)
        if ready and runner is not None and runner.kind == self._waiting_for:
            self._waiting_for = None
            self.started.emit(runner.kind)

    def _on_action_failed(self, target: str, message: str) -> None:
        if self._waiting_for is not None and target == "stack":
            self._waiting_for = None
            self.failed.emit(message)


def _survey_parts() -> tuple[type[GpuReader], Callable[..., MachineFacts]]:
    """What surveys the machine (NVML, the runners' probes)."""
    from elite_panel.monitor.nvml import GpuReader
    from elite_panel.stack.machine_survey import survey

    return GpuReader, survey
