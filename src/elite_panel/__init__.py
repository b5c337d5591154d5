"""Elite Coding Assistant: desktop control panel for a local AI coding assistant."""

__version__ = "0.1.0"
APP_NAME = "elite-coding-assistant"
DESKTOP_ID = "io.github.elitecoding.Assistant"  # the .desktop file and AppStream id
