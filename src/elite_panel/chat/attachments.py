"""Text files attached to a prompt: read, checked, and quoted as fenced code."""

from __future__ import annotations

from pathlib import Path

from elite_panel.core.errors import EliteError

MAX_ATTACHMENT_BYTES = 256 * 1024  # a big source file; more would drown a local model's context
LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".rs": "rust",
    ".go": "go",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".sh": "bash",
    ".toml": "toml",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".md": "markdown",
    ".sql": "sql",
    ".html": "html",
    ".css": "css",
}


def attachment_block(path: Path, limit: int = MAX_ATTACHMENT_BYTES) -> str:
    """The file as a fenced block headed by its name, ready to append to a prompt.

    Raises:
        EliteError: missing, too large, or not UTF-8 text; the message says which.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise EliteError(f"cannot attach {path.name}: {exc.strerror or exc}") from exc
    if size > limit:
        raise EliteError(
            f"cannot attach {path.name}: {size / 1024:.0f} KB is over the "
            f"{limit // 1024} KB limit for attached files"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EliteError(f"cannot attach {path.name}: not UTF-8 text") from exc
    except OSError as exc:
        raise EliteError(f"cannot attach {path.name}: {exc.strerror or exc}") from exc
    fence = "````" if "```" in text else "```"
    language = LANGUAGES.get(path.suffix.lower(), "")
    return f"File `{path.name}`:\n\n{fence}{language}\n{text.rstrip()}\n{fence}\n"
