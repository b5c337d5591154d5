"""A file cut into chunks along its syntax: whole functions, classes and blocks.

Code in a language with a grammar here (tree-sitter, one package per language, all
offline) is cut at its top-level definitions; small neighbours are merged up to
:data:`MAX_LINES`, a definition larger than that is cut at its own members, and what is
still too long at line windows. Other text (Markdown, configuration) is cut at headings
and blank lines. Each chunk knows its lines (1-based, inclusive) and the name of what it
defines, when there is one.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

log = logging.getLogger(__name__)

MAX_LINES = 240  # a chunk's most lines (a long function is cut at its members, then windows)
WINDOW = 60  # lines of a window where there is no syntax to follow
# extension → (grammar package, its language function)
GRAMMARS = {
    ".py": ("tree_sitter_python", "language"),
    ".pyi": ("tree_sitter_python", "language"),
    ".js": ("tree_sitter_javascript", "language"),
    ".mjs": ("tree_sitter_javascript", "language"),
    ".cjs": ("tree_sitter_javascript", "language"),
    ".jsx": ("tree_sitter_javascript", "language"),
    ".ts": ("tree_sitter_typescript", "language_typescript"),
    ".tsx": ("tree_sitter_typescript", "language_tsx"),
    ".go": ("tree_sitter_go", "language"),
    ".rs": ("tree_sitter_rust", "language"),
    ".java": ("tree_sitter_java", "language"),
    ".c": ("tree_sitter_c", "language"),
    ".h": ("tree_sitter_c", "language"),
    ".cc": ("tree_sitter_cpp", "language"),
    ".cpp": ("tree_sitter_cpp", "language"),
    ".cxx": ("tree_sitter_cpp", "language"),
    ".hpp": ("tree_sitter_cpp", "language"),
    ".sh": ("tree_sitter_bash", "language"),
    ".bash": ("tree_sitter_bash", "language"),
}
# nodes whose members are cut apart when the node is too long
CONTAINERS = {"block", "class_body", "declaration_list", "field_declaration_list",
              "statement_block", "compound_statement", "body", "impl_item"}  # fmt: skip


@dataclass(frozen=True)
class Chunk:
    """Lines ``start`` to ``end`` (1-based, inclusive) of a file, and what they define."""

    path: str
    start: int
    end: int
    symbol: str
    text: str


@functools.cache
def _parser(extension: str) -> Any:
    """A tree-sitter parser for ``extension``'s language (None: no grammar here)."""
    found = GRAMMARS.get(extension)
    if found is None:
        return None
    try:
        from tree_sitter import Language, Parser

        module = importlib.import_module(found[0])
        return Parser(Language(getattr(module, found[1])()))
    except (ImportError, AttributeError, ValueError) as exc:
        log.warning("no %s grammar (%s): cut by lines", extension, exc)
        return None


def chunk(path: str, text: str) -> list[Chunk]:
    """``text`` (the file ``path``, relative) in chunks, in order; none for empty text."""
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        return []
    parser = _parser(PurePosixPath(path).suffix.lower())
    spans = None
    if parser is not None:
        tree = parser.parse(text.encode("utf-8"))  # (errors are recovered from)
        spans = list(_merged(_units(tree.root_node)))
    if not spans:
        spans = list(_text_spans(lines))
    chunks = []
    for start, end, symbol in spans:
        body = "\n".join(lines[start : end + 1])
        if body.strip():
            chunks.append(Chunk(path, start + 1, end + 1, symbol, body))
    return chunks


DEFINING = ("def", "class", "func", "method", "struct", "impl", "enum", "interface", "trait",
            "type", "module", "decl")  # fmt: skip


def _name(node: Any) -> str:
    """What ``node`` defines (a function's, a class's name), or ""."""
    for candidate in (node, *node.named_children[:2]):
        if not any(word in candidate.type for word in DEFINING):
            continue
        name = candidate.child_by_field_name("name")
        if name is not None and name.text is not None:
            return str(name.text.decode("utf-8", "replace"))
    return ""


def _units(node: Any) -> Iterator[tuple[int, int, str]]:
    """(first line, last line, name) of ``node``'s children, 0-based; one longer than
    :data:`MAX_LINES` is cut at its members (its header stays with the first)."""
    for child in node.children:
        start, end = child.start_point[0], child.end_point[0]
        if end - start < MAX_LINES:
            yield start, end, _name(child)
            continue
        body = next((c for c in _descendants(child) if c.type in CONTAINERS), None)
        if body is None or not body.children:
            yield from _windows(start, end, _name(child))
            continue
        name = _name(child)
        members = list(_units(body))
        first = members[0]
        yield start, max(first[1], start), name  # the header (signature, docstring start)
        for member_start, member_end, member_name in members[1:]:
            qualified = f"{name}.{member_name}" if name and member_name else member_name or name
            yield member_start, member_end, qualified


def _descendants(node: Any) -> Iterator[Any]:
    """``node``'s children, then theirs (a class's body is one or two levels down)."""
    for child in node.children:
        yield child
    for child in node.children:
        yield from child.children


def _windows(start: int, end: int, name: str) -> Iterator[tuple[int, int, str]]:
    for first in range(start, end + 1, WINDOW):
        yield first, min(first + WINDOW - 1, end), name


def _merged(units: Iterator[tuple[int, int, str]]) -> Iterator[tuple[int, int, str]]:
    """Neighbouring units joined while they stay within :data:`MAX_LINES` (named after the
    first that has a name); the gaps between them (comments, blank lines) go along."""
    current: list[int | str] | None = None
    for start, end, name in units:
        if current is not None and end - int(current[0]) < MAX_LINES:
            current[1] = end
            current[2] = current[2] or name
            continue
        if current is not None:
            yield int(current[0]), int(current[1]), str(current[2])
        current = [start, end, name]
    if current is not None:
        yield int(current[0]), int(current[1]), str(current[2])


def _text_spans(lines: list[str]) -> Iterator[tuple[int, int, str]]:
    """Plain text cut at Markdown headings, else at the blank line nearest a window's end;
    a heading names the chunks under it."""
    start, heading = 0, ""
    for number, line in enumerate(lines):
        is_heading = line.startswith("#") and line.lstrip("#").startswith(" ")
        long = number - start >= WINDOW and not line.strip()
        if number > start and (is_heading or long or number - start >= MAX_LINES):
            yield start, number - 1, heading
            start = number
        if is_heading:
            heading = line.lstrip("#").strip()
    yield start, len(lines) - 1, heading
