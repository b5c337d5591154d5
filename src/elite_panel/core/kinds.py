"""Small enumerations shared by the CLI, the panel and the profile schema.

Kept apart from :mod:`elite_panel.core.profiles` so that using them does not import
pydantic (the panel's start-up does without it until it is needed).
"""

from enum import StrEnum


class RunnerKind(StrEnum):
    """Which model runner a profile asks for."""

    AUTO = "auto"
    BUILTIN = "builtin"
    OLLAMA = "ollama"
    EXTERNAL = "external"
    DOCKER = "docker"
