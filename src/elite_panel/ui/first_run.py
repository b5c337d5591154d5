"""Where the welcome guide leads: it opens at the first start and when a start finds no
runner, and once left (skipped, or its first question asked) it does not open by itself."""

from __future__ import annotations

from PySide6.QtCore import QObject

from elite_panel.adapters.profile_service import ProfileService
from elite_panel.core.errors import NoRunnerFound
from elite_panel.core.paths import AppPaths
from elite_panel.ui import window_state
from elite_panel.ui.main_window import MainWindow
from elite_panel.ui.pages.chat_page import ChatPage


class FirstRun(QObject):
    """The welcome guide's routing between the window's pages."""

    def __init__(
        self,
        paths: AppPaths,
        profile: ProfileService,
        window: MainWindow,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.paths, self.profile, self.window = paths, profile, window

    def is_first(self) -> bool:
        """No profile yet and the guide never left: the guide opens first."""
        return window_state.first_run(self.paths, self.profile.name)

    def leave(self) -> None:
        """The guide is done with (for good): the Chat page."""
        window_state.leave_welcome(self.paths)
        self.window.show_page("chat")

    def ask(self, prompt: str, model: str) -> None:
        """The guide's first question, asked on the Chat page."""
        self.leave()
        chat = self.window.page("chat")
        assert isinstance(chat, ChatPage)
        chat.ask(prompt, model)

    def on_action_failed(self, target: str, _message: str, code: str) -> None:
        """A start that found no runner opens the guide, which says what to do."""
        if target == "stack" and code == NoRunnerFound.code:
            self.window.show_page("welcome")
