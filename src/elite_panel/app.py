"""Composition root of the desktop panel: builds the services, hands them to the widgets.

Closing the window keeps the panel in the tray when the desktop has one (without a tray,
closing quits, or nothing could bring the window back).  Quit stops the stack when the
profile's ``stack.stop_on_quit`` is true; otherwise the supervisor keeps it running and the
next panel shows it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# isort: split
from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from elite_panel.adapters.backup_adapter import BackupAdapter
from elite_panel.adapters.chat_adapter import ChatAdapter
from elite_panel.adapters.error_reporter import ErrorReporter
from elite_panel.adapters.monitor_adapter import MonitorAdapter
from elite_panel.adapters.profile_service import ProfileService
from elite_panel.adapters.projects_adapter import ProjectsAdapter
from elite_panel.adapters.remote_adapter import RemoteAdapter
from elite_panel.adapters.server_follower import ServerFollower
from elite_panel.adapters.stack_adapter import StackAdapter
from elite_panel.adapters.tasks import TaskGroup
from elite_panel.core.errors import ConfigError
from elite_panel.core.paths import AppPaths
from elite_panel.core.services import ServiceStatus
from elite_panel.stack.control import ControlClient
from elite_panel.ui import window_state
from elite_panel.ui.first_run import FirstRun
from elite_panel.ui.main_window import MainWindow
from elite_panel.ui.pages.chat_page import ChatPage
from elite_panel.ui.theme_follower import ThemeFollower
from elite_panel.ui.tray import Tray, TrayLink, scheduled_backup_text
from elite_panel.ui.widgets.command_palette import Command

if TYPE_CHECKING:
    from elite_panel.adapters.models_adapter import ModelsAdapter
    from elite_panel.adapters.secrets_adapter import SecretsAdapter
    from elite_panel.adapters.settings_adapter import SettingsAdapter
    from elite_panel.adapters.welcome_adapter import WelcomeAdapter
    from elite_panel.client.server_state import RemoteState
    from elite_panel.core.profile_store import ProfileStore
    from elite_panel.core.profiles import Profile
    from elite_panel.core.secret_store import SecretStore

log = logging.getLogger(__name__)


class Panel(QObject):
    """The running panel: adapters, window and tray, wired together.

    Attributes:
        finished: set when the panel has quit (after stopping the stack if asked to).
    """

    def __init__(
        self,
        paths: AppPaths,
        profile_name: str,
        use_tray: bool | None = None,
        monitor: MonitorAdapter | None = None,
        window: MainWindow | None = None,
    ) -> None:
        super().__init__()
        self.paths = paths
        # Each Qt-free service once, handed to the adapters that use it.
        self.profile = ProfileService(paths, profile_name, parent=self)
        self.profile.switched.connect(self._on_profile_switched)
        self.profile.changed.connect(self._on_profile_loaded)
        self.profile.failed.connect(self._on_profile_failed)
        control = ControlClient(paths)
        self.stack = StackAdapter(paths, self.profile, control, self)
        self.chat = ChatAdapter(paths, self)
        self.monitor = monitor or MonitorAdapter(paths, self.profile, control, self)
        self.stack.statusChanged.connect(self.chat.on_stack_status)
        self.remote = RemoteAdapter(lambda: self.secret_store, self)
        self.remote.credentials.connect(self.chat.connect_to)
        self.remote.unavailable.connect(lambda reason: self.chat.set_remote(True, reason))
        self.remote.stateChanged.connect(self.monitor.on_remote_state)
        self.remote.stateChanged.connect(self._on_remote_state)
        self.server = ServerFollower(self.stack, self.chat, self.remote, self.monitor)
        self.projects = ProjectsAdapter(
            paths, lambda: self.chat.client, lambda: self.secret_store.names(), self
        )
        self.chat.reference_for = self.projects.reference
        self.chat.availableChanged.connect(self._on_chat_available)
        # The window may already be painted (the start shows it before the panel exists);
        # its pages get their factories once the adapters are wired, below.
        self.window = window or MainWindow.shell()
        self.secrets: SecretsAdapter | None = None
        self.settings: SettingsAdapter | None = None
        self.models: ModelsAdapter | None = None
        self.welcome: WelcomeAdapter | None = None
        self.about: QWidget | None = None
        # Built now (not with its page): it watches for the scheduled backups' results.
        self.backups = BackupAdapter(paths, self.stack, self)
        self.backups.scheduledResult.connect(self._on_scheduled_backup)
        self.finished = asyncio.Event()
        self._tasks = TaskGroup("panel")
        self.tray: Tray | None = None
        if use_tray if use_tray is not None else Tray.available():
            self.tray = Tray(self)
            TrayLink(
                self.tray,
                self.stack,
                self.remote,
                self.monitor,
                self.backups,
                self.window.bring_to_front,
                self.quit,
            )
        self.stack.statusChanged.connect(self._on_status_changed)
        self.first_run = FirstRun(paths, self.profile, self.window, self)
        self.stack.actionFailed.connect(self.first_run.on_action_failed)
        self.stack.notice.connect(lambda text: self.window.statusBar().showMessage(text, 30_000))
        self.stack.connectedChanged.connect(lambda _c: self._on_status_changed(self.stack.statuses))
        self.window.closeRequested.connect(self._on_close_requested)
        self.theme = ThemeFollower(paths, self)
        self.errors = ErrorReporter(self)
        self.errors.errorOccurred.connect(self._on_error)
        QShortcut(QKeySequence.StandardKey.Quit, self.window, self.quit)
        self.window.extra_commands += [  # (the Stack page's buttons, before it is built)
            Command("Start stack", "Ctrl+S", self.stack.start_stack),
            Command("Stop stack", "", self.stack.stop_stack),
            Command("Restart stack", "", self.stack.restart_stack),
            Command("Diagnose… (what is wrong, a support bundle)", "F1", self.show_diagnose),
            Command("About Elite Coding Assistant", "", self.show_about),
            Command("Quit", "Ctrl+Q", self.quit),
        ]
        QShortcut(QKeySequence("Ctrl+S"), self.window, self.stack.start_stack)
        QShortcut(QKeySequence("F1"), self.window, self.show_diagnose)
        factories: dict[str, Callable[[], QWidget]] = {
            "chat": self._chat_page,
            "dashboard": self._dashboard_page,
            "stack": self._stack_page,
            "settings": self._settings_page,
            "secrets": self._secrets_page,
            "models": self._models_page,
            "backups": self._backups_page,
            "projects": self._projects_page,
            "welcome": self._welcome_page,
        }
        for name, factory in factories.items():
            self.window.pages[name].set_factory(factory)  # (the page showing is built now)

    # The stores are built on first use, once: the window opens without pydantic, tomlkit
    # or keyring (the pages that need them are built when first shown).

    @functools.cached_property
    def profile_store(self) -> ProfileStore:
        from elite_panel.core.profile_store import ProfileStore

        return ProfileStore(self.paths)

    @functools.cached_property
    def secret_store(self) -> SecretStore:
        from elite_panel.core.secret_store import SecretStore

        return SecretStore(self.paths)

    def _chat_page(self) -> QWidget:
        page = ChatPage(self.chat, self.projects)
        page.startStackRequested.connect(self.stack.start_stack)
        return page

    def _dashboard_page(self) -> QWidget:
        from elite_panel.ui.pages.dashboard_page import DashboardPage

        return DashboardPage(self.monitor)

    def _stack_page(self) -> QWidget:
        from elite_panel.ui.pages.stack_page import StackPage

        return StackPage(self.stack, self.remote)

    def _settings_page(self) -> QWidget:
        from elite_panel.adapters.settings_adapter import SettingsAdapter
        from elite_panel.ui.pages.settings_page import SettingsPage

        self.settings = SettingsAdapter(self.profile_store, self.stack, self)
        self.settings.activeChanged.connect(self.profile.use)
        page = SettingsPage(self.settings)
        page.welcomeRequested.connect(lambda: self.window.show_page("welcome"))
        page.aboutRequested.connect(self.show_about)
        page.diagnoseRequested.connect(self.show_diagnose)
        return page

    def show_diagnose(self) -> None:
        """The Diagnose dialog (Help → Diagnose…, F1): the doctor's checks run as it opens."""
        from elite_panel.adapters.diagnose_adapter import DiagnoseAdapter
        from elite_panel.ui.widgets.diagnose_dialog import DiagnoseDialog

        self.diagnose = DiagnoseDialog(DiagnoseAdapter(self.paths, self.profile), self.window)
        self.diagnose.resize(960, 480)
        self.diagnose.open()

    def show_about(self) -> None:
        from elite_panel.ui.widgets.about_dialog import AboutDialog

        self.about = AboutDialog(self.paths.folders(), self.window)
        self.about.open()

    def _secrets_page(self) -> QWidget:
        from elite_panel.adapters.secrets_adapter import SecretsAdapter
        from elite_panel.ui.pages.secrets_page import SecretsPage

        self.secrets = SecretsAdapter(self.secret_store, self)
        return SecretsPage(self.secrets)

    def _models_page(self) -> QWidget:
        from elite_panel.ui.pages.models_page import ModelsPage

        return ModelsPage(self._models_adapter())

    def _models_adapter(self) -> ModelsAdapter:
        """One models adapter, for the Models page and the welcome page alike."""
        from elite_panel.adapters.models_adapter import ModelsAdapter

        if self.models is None:
            self.models = ModelsAdapter(self.chat, self.stack, self.remote, self)
        return self.models

    def _welcome_page(self) -> QWidget:
        from elite_panel.adapters.welcome_adapter import WelcomeAdapter
        from elite_panel.ui.pages.welcome_page import WelcomePage

        self.welcome = WelcomeAdapter(self.profile, self.stack, self)
        page = WelcomePage(self.welcome, self._models_adapter())
        page.skipped.connect(self.first_run.leave)
        page.askRequested.connect(self.first_run.ask)
        return page

    def _projects_page(self) -> QWidget:
        from elite_panel.ui.pages.projects_page import ProjectsPage

        return ProjectsPage(self.projects)

    def _backups_page(self) -> QWidget:
        from elite_panel.ui.pages.backups_page import BackupsPage

        return BackupsPage(self.backups, self.remote)

    def _on_chat_available(self, available: bool) -> None:
        """An assistant answers: the projects' watchers can embed what changes."""
        if available:
            self.projects.refresh()

    def _on_profile_switched(self, name: str) -> None:
        """Another profile became the active one: the next start of the stack uses it."""
        self.window.statusBar().showMessage(f"Profile: {name}", 5000)

    def _on_profile_loaded(self, profile: Profile) -> None:
        """The active profile as loaded now (at start, on a switch, after any edit of its
        file): its theme, and the server it follows."""
        self.theme.apply(profile.window.theme)
        self.server.follow(profile)
        self.projects.use_settings(profile.projects)

    def _on_profile_failed(self, message: str) -> None:
        """A profile that no longer loads: shown on the Stack page and in the status bar."""
        self.stack.actionFailed.emit("stack", message, ConfigError.code)
        self.window.statusBar().showMessage(f"Profile error: {message}")

    def layout_settings(self) -> QSettings:
        """Where the window's geometry and splitters are kept (in the config folder)."""
        return window_state.layout_settings(self.paths)

    def show(self, page: str | None = None, hidden: bool = False) -> None:
        """Show the window on ``page``; without one, the welcome guide at the first run.
        ``hidden``: only the tray (the window stays hidden where there is a tray)."""
        self.errors.install()
        start = window_state.start_page(self.paths, self.profile.name, page)
        self.window.present(self.layout_settings(), start, show=not (hidden and self.tray))
        if self.tray:
            self.tray.show()
        self.stack.start_watching()

    def check_profile(self) -> None:
        """Validate the profile once the window is up (pydantic stays out of start-up);
        a broken profile is shown on the Stack page and in the status bar.  Sampling for the
        dashboard and its alerts starts then too."""
        self.profile.reload()
        self.monitor.start()

    def quit(self) -> None:
        self._tasks.start("quit", self._quit())

    async def _quit(self) -> None:
        try:
            stop = (await self.profile.load()).stack.stop_on_quit
        except ConfigError as exc:
            log.warning("%s; stopping the stack on quit", exc)
            stop = True
        self.window.hide()
        if stop:
            await self.stack.stop_stack_and_wait()
        self.close()
        self.finished.set()

    def close(self) -> None:
        """Stop every adapter's background work (the stack itself is left as it is)."""
        self.window.save_layout(self.layout_settings())
        self.errors.uninstall()
        self.profile.close()
        self.stack.close()
        self.remote.close()
        self.chat.close()
        self.projects.close()
        self.monitor.close()
        for adapter in (self.secrets, self.models, self.settings, self.welcome):
            if adapter is not None:
                adapter.close()
        self.backups.close()

    def _on_close_requested(self) -> None:
        self.window.save_layout(self.layout_settings())
        if self.tray:
            self.window.hide()
        else:
            self.quit()

    def _on_scheduled_backup(self, result: dict[str, Any]) -> None:
        _ok, text = scheduled_backup_text(result)
        self.window.statusBar().showMessage(f"Scheduled backup {text}", 15_000)

    def _on_error(self, message: str) -> None:
        self.window.statusBar().showMessage(f"Error: {message} (details in the log)", 15_000)

    def _on_remote_state(self, state: RemoteState | None) -> None:
        """A remote profile's server in the status bar (None: the local stack's state
        again)."""
        self.window.show_remote_state(state)
        if state is None:
            self._on_status_changed(self.stack.statuses)

    def _on_status_changed(self, statuses: list[ServiceStatus]) -> None:
        if self.remote.state is not None:
            return  # the status line is the remote server's
        self.window.show_stack_state(statuses, self.stack.connected)
