"""Render a growing Markdown answer block by block, so each update costs only its tail.

Chat UIs that re-render the whole answer on every token slow down as the answer grows
(quadratic total work). Here the text is split into top-level blocks at points Markdown
cannot join across (a blank line outside code, a heading, a code fence); a block that can
no longer change is rendered once and never again. Only the open tail is re-rendered, and a
long open code block is cut into segments of :data:`CODE_SEGMENT_LINES` lines, so even a
single huge code block costs a bounded amount per update.

HTML in the Markdown source is escaped (``html`` off), so a model cannot inject markup, and
the Copy links carry a random value of this renderer's (:meth:`IncrementalMarkdown.code_index`),
so a link written by the model (``[x](copy:0)``) does nothing.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

CODE_SEGMENT_LINES = 40
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)")
_HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")


@dataclass(frozen=True)
class CodeTheme:
    """How code blocks look: their box, Pygments' colours, the caption above them."""

    background: str
    border: str
    pygments_style: str
    caption: str

    @property
    def pre_style(self) -> str:
        return (
            f"background:{self.background}; border:1px solid {self.border}; padding:6px;"
            " margin:0; font-family:monospace; white-space:pre-wrap;"
        )


LIGHT_CODE = CodeTheme("#f6f8fa", "#d0d7de", "default", "#57606a")
DARK_CODE = CodeTheme("#0d1117", "#30363d", "github-dark", "#8b949e")


def highlight_code(code: str, language: str, style: str = "default") -> str:
    """Code as HTML with inline colours (QTextDocument understands inline styles)."""
    from pygments import highlight
    from pygments.lexers import TextLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language) if language else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    return str(highlight(code, lexer, _formatter(style)))


@cache
def _formatter(style: str) -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True, noclasses=True, style=style)


@cache
def _markdown(theme: CodeTheme) -> MarkdownIt:
    """The parser, built on first use: markdown-it and Pygments stay out of start-up."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    md.options["highlight"] = lambda code, lang, _attrs: (
        f'<pre style="{theme.pre_style}">{highlight_code(code, lang, theme.pygments_style)}</pre>'
    )
    return md


@dataclass
class CodeBlock:
    """A fenced code block of the answer, for its Copy button."""

    language: str
    code: str = ""
    closed: bool = False


@dataclass
class RenderUpdate:
    """What changed since the last update.

    Attributes:
        closed: HTML of blocks that became final, in order (append them once).
        tail: HTML of the open tail (replaces the previous tail).
    """

    closed: list[str] = field(default_factory=list)
    tail: str = ""

    def html(self) -> str:
        """All of it, for a first render."""
        return "".join(self.closed) + self.tail


class IncrementalMarkdown:
    """Feed it the growing text; it returns only the HTML that changed."""

    def __init__(self, theme: CodeTheme = LIGHT_CODE) -> None:
        self.theme = theme
        self.text = ""
        self.code_blocks: list[CodeBlock] = []
        self._scan = 0  # start of the first complete line not yet classified
        self._block_start = 0  # start of the open block
        self._fence: tuple[str, int] | None = None  # (marker, index in code_blocks)
        self._segment_lines = 0
        self._anchor = f"copy:{secrets.token_hex(8)}-"  # the model's text cannot know it

    def code_index(self, href: str) -> int | None:
        """The code block whose Copy link is ``href``; None for any link this renderer
        did not make (a link in the model's own text)."""
        index = href.removeprefix(self._anchor)
        if index == href or not index.isdigit() or int(index) >= len(self.code_blocks):
            return None
        return int(index)

    def append(self, chunk: str) -> RenderUpdate:
        return self.update(self.text + chunk)

    def update(self, text: str) -> RenderUpdate:
        """``text`` must extend the previous text (a streamed answer only grows)."""
        if not text.startswith(self.text):
            self.__init__(self.theme)  # type: ignore[misc]  # a different answer: start over
        self.text = text
        out = RenderUpdate()
        while True:
            end = text.find("\n", self._scan)
            if end < 0:
                break
            self._classify(text[self._scan : end], end + 1, out)
            self._scan = end + 1
        out.tail = self._render_open()
        return out

    def _classify(self, line: str, next_start: int, out: RenderUpdate) -> None:
        if self._fence is not None:
            marker, index = self._fence
            stripped = line.strip()
            if stripped.startswith(marker[0] * len(marker)) and not stripped.strip(marker[0]):
                block = self.code_blocks[index]
                block.closed = True
                self._close(self._scan, out)  # the code, without its closing fence line
                out.closed.append(self._caption(index, block))  # once the code is whole
                self._fence = None
                self._block_start = next_start
                return
            self.code_blocks[index].code += line + "\n"
            self._segment_lines += 1
            if self._segment_lines >= CODE_SEGMENT_LINES:
                self._close(next_start, out)
            return
        fence = _FENCE.match(line)
        if fence:
            self._close(self._scan, out)  # the paragraph before the fence
            self.code_blocks.append(CodeBlock(language=fence.group(2)))
            self._fence = (fence.group(1), len(self.code_blocks) - 1)
            self._segment_lines = 0
            self._block_start = next_start  # the fence line itself is not code
        elif not line.strip() or _HEADING.match(line):
            self._close(next_start, out)

    def _close(self, end: int, out: RenderUpdate) -> None:
        """Render ``text[block_start:end]`` for good and start a new block at ``end``."""
        if end > self._block_start:
            out.closed.append(self._render(self.text[self._block_start : end]))
        self._block_start = end
        self._segment_lines = 0

    def _render_open(self) -> str:
        return (
            self._render(self.text[self._block_start :])
            if self._block_start < len(self.text)
            else ""
        )

    def _render(self, source: str) -> str:
        if self._fence is not None:
            language = self.code_blocks[self._fence[1]].language
            code = highlight_code(source, language, self.theme.pygments_style)
            return f'<pre style="{self.theme.pre_style}">{code}</pre>'
        if not source.strip():
            return ""
        return str(_markdown(self.theme).render(source))

    def _caption(self, index: int, block: CodeBlock) -> str:
        """Under a finished code block: its language, its length and its Copy link."""
        label = html.escape(block.language or "code")
        lines = block.code.count("\n")
        length = f"{lines} line" + ("" if lines == 1 else "s")
        href = f"{self._anchor}{index}"
        style = f"margin:0 0 4px 0; color:{self.theme.caption};"
        return f'<p style="{style}">{label} · {length} · <a href="{href}">Copy</a></p>'


def render_whole(text: str, theme: CodeTheme = LIGHT_CODE) -> str:
    """The whole answer at once (finished messages loaded from history); its last line
    is complete (a closing fence without a newline after it closes its block)."""
    return IncrementalMarkdown(theme).update(finished(text)).html()


def finished(text: str) -> str:
    """A finished answer's text with its last line ended."""
    return text if not text or text.endswith("\n") else text + "\n"
