"""System-prompt presets for the chat page. ``None`` means the server's own default (a
coding assistant, ``ASSISTANT_SYSTEM_PROMPT``)."""

from __future__ import annotations

DEFAULT_PRESET = "Coding assistant"
PRESETS: dict[str, str | None] = {
    DEFAULT_PRESET: None,
    "Code reviewer": (
        "You review code like a careful senior engineer: point out bugs, risky patterns and "
        "missing tests first, then style. Quote the lines you mean. Be concise."
    ),
    "Explain simply": (
        "You explain code and concepts to a developer new to them: short sentences, one idea "
        "at a time, a small example for each."
    ),
}
