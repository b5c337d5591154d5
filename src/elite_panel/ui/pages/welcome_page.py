"""The welcome page: what this machine has, the runner to use, a coding model, a first answer.

Shown at the first start (no profile yet) and when the stack finds no runner; reachable
again from the Settings page. Four steps on one page, each enabled when the one before is
done, so the way ahead is visible from the start; Skip leaves at any point.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from elite_panel.adapters.models_adapter import ModelsAdapter
from elite_panel.adapters.welcome_adapter import WelcomeAdapter
from elite_panel.core.runner_choice import (
    GIB,
    MachineFacts,
    RunnerOption,
    coding_model,
    runner_options,
)
from elite_panel.core.services import ServiceState, ServiceStatus
from elite_panel.ui.icons import icon
from elite_panel.ui.style import badge_css

FIRST_PROMPT = "Write a Python function that tells whether a string is a palindrome."
NO_RUNNER = (
    "No runner can be used here yet. Install Ollama (https://ollama.com/download), or the "
    "built-in runner (pip install 'elite-coding-assistant[local]'), then look again."
)


def finding(facts: MachineFacts) -> list[tuple[str, bool, str]]:
    """The survey as rows: what, found or not, the detail."""
    if facts.ollama_binary:
        ollama = (True, facts.ollama_binary)
    elif facts.ollama_version:
        ollama = (True, f"version {facts.ollama_version} answering at {facts.ollama_url}")
    else:
        ollama = (False, f"not installed, nothing answers at {facts.ollama_url}")
    docker_detail = "answers" + (", with the NVIDIA runtime" if facts.docker_gpu else "")
    gpus = ", ".join(f"{g.name} ({g.memory_bytes / GIB:.0f} GiB)" for g in facts.gpus)
    return [
        ("Ollama", *ollama),
        ("Docker engine", not facts.docker, facts.docker or docker_detail),
        ("Built-in runner", not facts.builtin, facts.builtin or "llama.cpp and SmolLM2-135M"),
        (
            "Embedding model",
            not facts.embedding,
            facts.embedding or "all-MiniLM-L6-v2, bundled: project search on this machine",
        ),
        ("NVIDIA GPUs", bool(facts.gpus), gpus or facts.gpu_note or "none found"),
    ]


class WelcomePage(QWidget):
    """The first-run guide.

    Signals:
    askRequested(str, str): the first prompt and the model to answer it ("" = default).
    skipped(): the user left the guide.
    """

    title = "Welcome"
    askRequested = Signal(str, str)
    skipped = Signal()

    def __init__(
        self, welcome: WelcomeAdapter, models: ModelsAdapter, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.welcome = welcome
        self.models = models
        self.facts: MachineFacts | None = None
        self.options: list[RunnerOption] = []
        self.chosen: RunnerOption | None = None
        self.offered = ""  # the coding model to pull
        self.model_name = ""  # the model of the first answer: the pulled one, or the default
        self._pulling = False  # (the models adapter also reports the Models page's work)

        intro = QLabel(
            "From nothing to a first answer: see what this machine has, pick the runner that "
            "serves the models, get a coding model, ask. Everything stays on this machine."
        )
        intro.setWordWrap(True)
        self.skip_button = QPushButton("Skip")
        self.skip_button.setToolTip("Leave the guide (Settings → Run the welcome guide)")
        self.skip_button.clicked.connect(self.skipped)
        top = QHBoxLayout()
        top.addWidget(intro, 1)
        top.addWidget(self.skip_button, 0, Qt.AlignmentFlag.AlignTop)

        # 1. this machine
        self.machine_box = QGroupBox("1. This machine")
        self.machine_grid = QGridLayout(self.machine_box)
        self.survey_label = QLabel("Looking at this machine…")
        self.machine_grid.addWidget(self.survey_label, 0, 0, 1, 3)

        # 2. the runner
        self.runner_box = QGroupBox("2. Runner")
        self.runner_group = QButtonGroup(self)
        self.runner_layout = QVBoxLayout(self.runner_box)
        self.runner_note = QLabel()
        self.runner_note.setWordWrap(True)
        self.runner_note.hide()
        self.start_button = QPushButton(icon("start"), "Start the stack")
        self.start_button.setToolTip("Save the runner in the profile and start the stack")
        self.start_button.clicked.connect(self._on_start)
        self.again_button = QPushButton(icon("restart"), "Look again")
        self.again_button.clicked.connect(self.survey)
        self.start_progress = QProgressBar()
        self.start_progress.setRange(0, 0)  # busy: a start has no fraction to show
        self.start_progress.setTextVisible(False)
        self.start_progress.setMaximumWidth(160)
        self.start_progress.hide()
        self.start_state = QLabel()
        self.start_state.setWordWrap(True)
        start_row = QHBoxLayout()
        start_row.addWidget(self.start_button)
        start_row.addWidget(self.again_button)
        start_row.addWidget(self.start_progress)
        start_row.addWidget(self.start_state, 1)
        self.runner_options_layout = QVBoxLayout()
        self.runner_layout.addLayout(self.runner_options_layout)
        self.runner_layout.addWidget(self.runner_note)
        self.runner_layout.addLayout(start_row)

        # 3. the model
        self.model_box = QGroupBox("3. Coding model")
        self.model_text = QLabel("Once the stack runs.")
        self.model_text.setWordWrap(True)
        self.pull_button = QPushButton(icon("export"), "Pull")
        self.pull_button.setToolTip("Download the model into the runner")
        self.pull_button.clicked.connect(self._on_pull)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; nothing is added")
        self.cancel_button.clicked.connect(models.cancel)
        self.cancel_button.setEnabled(False)
        self.pull_progress = QProgressBar()
        self.pull_progress.setMaximumWidth(360)
        self.pull_progress.hide()
        pull_row = QHBoxLayout()
        pull_row.addWidget(self.pull_button)
        pull_row.addWidget(self.cancel_button)
        pull_row.addWidget(self.pull_progress, 1)
        pull_row.addStretch(0)
        model_layout = QVBoxLayout(self.model_box)
        model_layout.addWidget(self.model_text)
        model_layout.addLayout(pull_row)
        self.model_box.setEnabled(False)

        # 4. the first answer
        self.ask_box = QGroupBox("4. First answer")
        self.first_prompt = QLineEdit(FIRST_PROMPT)
        self.first_prompt.setAccessibleName("First prompt")
        self.ask_button = QPushButton(icon("send"), "Ask")
        self.ask_button.setToolTip("Ask on the Chat page; the answer streams there")
        self.ask_button.clicked.connect(self._on_ask)
        ask_row = QHBoxLayout(self.ask_box)
        ask_row.addWidget(self.first_prompt, 1)
        ask_row.addWidget(self.ask_button)
        self.ask_box.setEnabled(False)

        content = QWidget()
        column = QVBoxLayout(content)
        column.addLayout(top)
        for box in (self.machine_box, self.runner_box, self.model_box, self.ask_box):
            column.addWidget(box)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        welcome.surveyed.connect(self._on_surveyed)
        welcome.started.connect(self._on_started)
        welcome.failed.connect(self._on_failed)
        welcome.stack.statusChanged.connect(self._on_status)
        models.progress.connect(self._on_pull_progress)
        models.finished.connect(self._on_pull_finished)
        models.failed.connect(self._on_pull_failed)
        self.survey()

    # -- steps --------------------------------------------------------------------------

    def survey(self) -> None:
        self.survey_label.setText("Looking at this machine…")
        self.survey_label.show()
        self.start_button.setEnabled(False)
        self.welcome.survey()

    def _on_surveyed(self, facts: MachineFacts) -> None:
        self.facts = facts
        while self.machine_grid.count() > 1:  # keep the "looking" label
            item = self.machine_grid.takeAt(1)
            if item and item.widget():
                item.widget().deleteLater()  # type: ignore[union-attr]
        self.survey_label.hide()
        for row, (what, found, detail) in enumerate(finding(facts), start=1):
            badge = QLabel("found" if found else "missing")
            badge.setStyleSheet(badge_css(ServiceState.READY if found else ServiceState.STOPPED))
            note = QLabel(detail)
            note.setWordWrap(True)
            note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            self.machine_grid.addWidget(QLabel(what), row, 0)
            self.machine_grid.addWidget(badge, row, 1, Qt.AlignmentFlag.AlignLeft)
            self.machine_grid.addWidget(note, row, 2)
        self.machine_grid.setColumnStretch(2, 1)
        self._show_options(runner_options(facts))

    def _show_options(self, options: list[RunnerOption]) -> None:
        for button in self.runner_group.buttons():
            self.runner_group.removeButton(button)
            button.deleteLater()
        self.options = options
        for index, option in enumerate(options):
            label = f"{option.title}{' (recommended)' if index == 0 else ''}: {option.detail}"
            button = QRadioButton(label)
            button.setChecked(index == 0)
            self.runner_group.addButton(button, index)
            self.runner_options_layout.addWidget(button)
        self.runner_note.setText(NO_RUNNER)
        self.runner_note.setVisible(not options)
        self.start_button.setEnabled(bool(options))

    def _on_start(self) -> None:
        index = self.runner_group.checkedId()
        if index < 0:
            return
        self.chosen = self.options[index]
        self.start_button.setEnabled(False)
        self.start_progress.show()
        self.start_state.setText(f"Starting the stack with {self.chosen.title}…")
        self.welcome.choose(self.chosen)

    def _on_status(self, statuses: list[ServiceStatus]) -> None:
        if self.start_progress.isVisible():
            parts = ", ".join(f"{s.name} {s.state.value}" for s in statuses)
            self.start_state.setText(f"Starting: {parts}")

    def _on_started(self, _kind: str) -> None:
        self.start_progress.hide()
        self.start_button.setEnabled(True)
        self.start_state.setText("The stack is up.")
        self.model_box.setEnabled(True)
        chosen = self.chosen
        if chosen is not None and chosen.can_pull and self.facts is not None:
            name, size, why = coding_model(self.facts)
            self.offered = name
            self.model_text.setText(
                f"{name}, {size / 1e9:.1f} GB: {why}. Pull it, or skip this step to use a "
                "model the runner already has."
            )
            self.pull_button.show()
            self.cancel_button.show()
        else:
            self.offered = ""
            self.model_text.setText(
                "The built-in runner answers with its bundled SmolLM2-135M: nothing to "
                "download. It is small; for stronger code, install Ollama and run this guide "
                "again from the Settings page."
            )
            self.pull_button.hide()
            self.cancel_button.hide()
        self.ask_box.setEnabled(True)

    def _on_failed(self, message: str) -> None:
        self.start_progress.hide()
        self.start_button.setEnabled(bool(self.options))
        self.start_state.setText(f"Could not start: {message}")

    def _on_pull(self) -> None:
        if not self.offered:
            return
        self.pull_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.pull_progress.setRange(0, 0)
        self.pull_progress.show()
        self._pulling = True
        self.models.pull(self.offered)

    def _on_pull_progress(self, _name: str, event: dict[str, Any]) -> None:
        if not self._pulling:
            return
        total, done = event.get("total"), event.get("completed")
        if total and done is not None:
            self.pull_progress.setRange(0, 1000)
            self.pull_progress.setValue(int(1000 * done / total))
        self.pull_progress.setFormat(f"{event.get('status', '')} %p%")

    def _on_pull_finished(self, message: str) -> None:
        if self._pulling:
            self.model_name = self.offered
            self._end_pull(message)

    def _on_pull_failed(self, message: str) -> None:
        if self._pulling:
            self._end_pull(message)

    def _end_pull(self, message: str) -> None:
        self._pulling = False
        self.pull_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.pull_progress.hide()
        self.model_text.setText(message)

    def _on_ask(self) -> None:
        text = self.first_prompt.text().strip()
        if text:
            self.askRequested.emit(text, self.model_name)
