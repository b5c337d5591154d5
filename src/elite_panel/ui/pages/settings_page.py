"""The Settings page: profiles (list, create, duplicate, rename, delete, switch, import,
export) and the editor of one profile, as a generated form or as its raw TOML.

Apply validates, shows what changes and which services restart, and only then writes
(atomically, refusing when the file changed on disk since it was opened).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from elite_panel.adapters.settings_adapter import Plan, SettingsAdapter
from elite_panel.core.autostart import Autostart
from elite_panel.core.profile_store import with_values
from elite_panel.ui import theme
from elite_panel.ui.icons import icon
from elite_panel.ui.widgets import dialogs
from elite_panel.ui.widgets.actions import add_buttons
from elite_panel.ui.widgets.profile_form import ProfileForm


def describe(plan: Plan) -> str:
    if not plan.changes:
        return "Nothing changes."
    lines = [f"{c.key}: {c.old!r} → {c.new!r}" for c in plan.changes]
    if not plan.running:
        lines.append("\nThe stack does not run with this profile: nothing restarts.")
    elif plan.restarts:
        lines.append(f"\nRestarts: {', '.join(plan.restarts)}.")
    else:
        lines.append("\nNo service needs a restart.")
    return "\n".join(lines)


class SettingsPage(QWidget):
    """The Settings page: profiles, the form of their keys, and Apply.

    Signals:
    welcomeRequested(): the user asked for the welcome guide again.
    aboutRequested(): the user asked for the About dialog.
    diagnoseRequested(): the user asked for the Diagnose dialog.
    """

    title = "Settings"
    welcomeRequested = Signal()
    aboutRequested = Signal()
    diagnoseRequested = Signal()

    def __init__(self, settings: SettingsAdapter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.confirm = dialogs.confirm
        self.ask_text = dialogs.ask_text
        self.choose_file = dialogs.choose_file
        self.current: str | None = None
        self.loaded_text = ""
        self._after_load = ""
        self._saving: Plan | None = None  # the plan being written
        self._exported_to: Path | None = None

        self.profiles = QListWidget()
        self.profiles.setAccessibleName("Profiles")
        self.profiles.setFixedWidth(180)
        self.profiles.currentTextChanged.connect(self._on_selected)
        buttons = QVBoxLayout()
        actions = (
            ("Use", "Make it the active profile (the next stack start uses it)", self._use),
            ("New…", "A new profile with the defaults", self._new),
            ("Duplicate…", "A copy of this profile, comments and all", self._duplicate),
            ("Rename…", "Rename this profile", self._rename),
            ("Delete…", "Delete this profile (asks first)", self._delete),
            ("Import…", "Add a profile from a TOML file (validated first)", self._import),
            (
                "Export…",
                "Save this profile as a TOML file (profiles hold no secrets)",
                self._export,
            ),
            (
                "Welcome guide…",
                "Look for runners again, start the stack with one, get a coding model",
                self.welcomeRequested.emit,
            ),
            (
                "Diagnose…",
                "Check what the panel needs and save a support bundle (F1)",
                self.diagnoseRequested.emit,
            ),
            ("About…", "Version, where your data is, licence", self.aboutRequested.emit),
        )
        self.buttons = add_buttons(buttons, actions)
        state = settings.autostart()
        self.autostart = QCheckBox("Start at login")
        self.autostart.setToolTip("Open the panel in the tray when you log in")
        self.autostart.setChecked(state.enabled)
        self.autostart_stack = QCheckBox("and start the stack")
        self.autostart_stack.setToolTip("Bring the stack up as the panel starts at login")
        self.autostart_stack.setChecked(state.start_stack)
        self.autostart_stack.setEnabled(state.enabled)
        for box in (self.autostart, self.autostart_stack):
            box.toggled.connect(self._on_autostart)
        left = QVBoxLayout()
        left.addWidget(QLabel("Profiles"))
        left.addWidget(self.profiles, 1)
        left.addLayout(buttons)
        left.addWidget(self.autostart)
        left.addWidget(self.autostart_stack)

        self.form = ProfileForm()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        self.raw = QPlainTextEdit()
        self.raw.setAccessibleName("The profile as TOML")
        self.raw.setObjectName("rawToml")
        self.raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.tabs = QTabWidget()
        self.tabs.addTab(scroll, "Form")
        self.tabs.addTab(self.raw, "TOML")
        self.tabs.currentChanged.connect(self._on_tab)
        self.message = QLabel()
        self.message.setObjectName("settingsMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.apply_button = QPushButton(icon("check"), "Apply")
        self.apply_button.setToolTip("Validate, show the changes, save (Ctrl+Return)")
        self.apply_button.clicked.connect(self.apply)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Read the file again, dropping unsaved edits")
        self.reload_button.clicked.connect(self.reload)
        bottom = QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.reload_button)
        bottom.addWidget(self.apply_button)
        right = QVBoxLayout()
        right.addWidget(self.tabs, 1)
        right.addLayout(bottom)

        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addLayout(right, 1)
        QShortcut(QKeySequence("Ctrl+Return"), self, self.apply)
        settings.profilesChanged.connect(self._on_profiles)
        settings.viewLoaded.connect(self._on_view_loaded)
        settings.done.connect(self._on_done)
        settings.refused.connect(self._on_refused)
        settings.planned.connect(self._on_planned)
        settings.refresh()

    # -- the list -----------------------------------------------------------------------

    def _on_profiles(self, names: list[str], active: str) -> None:
        keep = self.current or active
        self.profiles.blockSignals(True)
        self.profiles.clear()
        for name in names:
            self.profiles.addItem(f"{name}  (active)" if name == active else name)
            self.profiles.item(self.profiles.count() - 1).setData(Qt.ItemDataRole.UserRole, name)
        self.profiles.blockSignals(False)
        fallback = active if active in names else names[0]  # (names has "default")
        row = names.index(keep if keep in names else fallback)
        self.profiles.setCurrentRow(row)
        self._on_selected()

    def _on_selected(self, *_args: Any) -> None:
        item = self.profiles.currentItem()
        if item is None:
            return
        name = str(item.data(Qt.ItemDataRole.UserRole))
        if name != self.current:
            self.current = name
            self._say("")  # what was said was about the previous profile
            self.reload()

    def _use(self) -> None:
        if self.current:
            self.settings.use(self.current)

    def _new(self) -> None:
        name = self.ask_text(self, "New profile", "Name:")
        if name:
            self.settings.create(name)

    def _duplicate(self) -> None:
        source = self.current
        name = self.ask_text(self, "Duplicate profile", "Name of the copy:", f"{source}-copy")
        if source and name:
            self.settings.create(name, source)

    def _rename(self) -> None:
        old = self.current
        new = self.ask_text(self, "Rename profile", "New name:", old or "")
        if old and new and new != old:
            self.settings.rename(old, new)

    def _delete(self) -> None:
        name = self.current
        if name and self.confirm(self, "Delete profile", f"Delete profile {name!r}?"):
            self.settings.delete(name)

    def _import(self) -> None:
        path = self.choose_file(self, "Import profile", False, "TOML (*.toml)")
        if path is not None:
            self.settings.import_file(path)

    def _export(self) -> None:
        path = self.choose_file(self, "Export profile", True, "TOML (*.toml)")
        if path and self.current:
            self._exported_to = path
            self.settings.export(self.current, path)

    def _on_done(self, action: str, name: str) -> None:
        """An action on the list (or a save) went through: the list shows it already."""
        if action == "use":
            self._say(
                f"{name} is the active profile (a local stack already running takes it at "
                "its next start; a team server is followed at once)."
            )
        elif action in ("create", "rename", "import"):
            self._select(name)
        elif action == "export":
            self._say(f"Exported to {self._exported_to}")
        elif action == "save" and self._saving is not None:
            self.reload(then_say=f"Saved. {describe(self._saving).splitlines()[-1]}")
            self._saving = None

    def _on_refused(self, action: str, message: str) -> None:
        self._saving = None
        prefix = "Not saved: " if action in ("plan", "save") else ""
        self._say(f"{prefix}{message}", error=True)

    def _select(self, name: str) -> None:
        for row in range(self.profiles.count()):
            if self.profiles.item(row).data(Qt.ItemDataRole.UserRole) == name:
                self.profiles.setCurrentRow(row)
        self._on_selected()

    # -- the editor ---------------------------------------------------------------------

    def reload(self, then_say: str = "") -> None:
        """Read the selected profile again (off the UI thread); ``then_say`` once shown."""
        if self.current is None:
            return
        self._after_load = then_say
        self.settings.load_view(self.current)

    def _on_autostart(self) -> None:
        enabled = self.autostart.isChecked()
        self.autostart_stack.setEnabled(enabled)
        choice = Autostart(enabled, enabled and self.autostart_stack.isChecked())
        error = self.settings.set_autostart(choice)
        if error:
            self._say(error, error=True)
        else:
            self._say("Starts at login." if enabled else "Does not start at login.")

    def _on_view_loaded(self, view: dict[str, Any]) -> None:
        if view["name"] != self.current:  # another profile was selected meanwhile
            return
        self.loaded_text = view["text"]
        self.raw.setPlainText(self.loaded_text)
        if "error" in view:  # a broken file: fix it in the TOML view
            self.form.setEnabled(False)
            self.tabs.setCurrentIndex(1)
            self._say(view["error"], error=True)
            return
        self.form.load(view["values"], view["sources"])
        self.form.setEnabled(True)
        if self._after_load:  # (an empty one would hide what was said while it loaded)
            self._say(self._after_load)

    def _on_tab(self, index: int) -> None:
        if index == 1 and self.form.isEnabled() and self.form.edits():
            # Form edits carry over into the text view.
            self.raw.setPlainText(with_values(self.raw.toPlainText(), self.form.edits()))

    def edited_text(self) -> str | None:
        if self.tabs.currentIndex() == 1:
            return self.raw.toPlainText()
        problems = self.form.problems()
        if problems:
            self._say("; ".join(f"{k}: {v}" for k, v in problems.items()), error=True)
            return None
        return with_values(self.loaded_text, self.form.edits())

    def apply(self) -> None:
        """Check the edited text (off the UI thread); :meth:`_on_planned` confirms and saves."""
        if self.current is None:
            return
        text = self.edited_text()
        if text is not None:
            self.settings.plan(self.current, text)

    def _on_planned(self, plan: Plan) -> None:
        if plan.name != self.current:  # another profile was selected meanwhile
            return
        if not plan.changes and plan.text == self.loaded_text:
            self._say("Nothing to apply.")
            return
        if self.confirm(self, f"Apply to {plan.name}", describe(plan)):
            self._saving = plan
            self.settings.save(plan, self.loaded_text)

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(theme.error_style(error))
        self.message.setText(text)
