"""The incremental renderer: same HTML as rendering at once, whatever the chunking, and
work per update bounded by the open tail."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from elite_panel.chat import markdown_render
from elite_panel.chat.markdown_render import CODE_SEGMENT_LINES, IncrementalMarkdown, render_whole

ANSWER = (
    "Sure! Here is a function:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\n"
    "It works like this:\n\n1. takes *two* numbers\n2. returns their sum\n\n"
    "## Notes\nUse `add(1, 2)` <b>carefully</b>.\n\n~~~\nplain block\n~~~\nThe end."
)


def anchors_named(html: str) -> str:
    """The HTML with each renderer's random Copy-link value taken out (``copy:N``)."""
    return re.sub(r"copy:[0-9a-f]{16}-", "copy:", html)


def streamed(text: str, cuts: list[int]) -> tuple[str, IncrementalMarkdown]:
    renderer = IncrementalMarkdown()
    html: list[str] = []
    tail = ""
    previous = 0
    for cut in [*sorted(set(cuts)), len(text)]:
        update = renderer.update(text[: max(cut, previous)])
        previous = max(cut, previous)
        html += update.closed
        tail = update.tail
    return "".join(html) + tail, renderer


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(ANSWER)), max_size=40))
def test_any_chunking_gives_the_same_html(cuts: list[int]) -> None:
    html, _ = streamed(ANSWER, cuts)
    assert anchors_named(html) == anchors_named(render_whole(ANSWER))


def test_blocks_code_and_escaping() -> None:
    html = anchors_named(render_whole(ANSWER))
    assert '<a href="copy:0">Copy</a>' in html and '<a href="copy:1">Copy</a>' in html
    assert "<ol>" in html and "<h2>Notes</h2>" in html
    assert "&lt;b&gt;carefully&lt;/b&gt;" in html  # model output cannot inject markup
    assert "```" not in html and "~~~" not in html
    _, renderer = streamed(ANSWER, list(range(len(ANSWER))))
    assert [b.code for b in renderer.code_blocks] == [
        "def add(a, b):\n    return a + b\n",
        "plain block\n",
    ]
    assert all(b.closed for b in renderer.code_blocks)


def test_work_per_update_is_bounded_by_the_tail(monkeypatch: object) -> None:
    rendered: list[int] = []
    original = markdown_render.IncrementalMarkdown._render

    def counting(self: IncrementalMarkdown, source: str) -> str:
        rendered.append(len(source))
        return original(self, source)

    monkeypatch.setattr(markdown_render.IncrementalMarkdown, "_render", counting)  # type: ignore[attr-defined]
    renderer = IncrementalMarkdown()
    paragraph = "word " * 30 + "\n\n"
    code = "```python\n" + "x = 1\n" * (CODE_SEGMENT_LINES * 20) + "```\n"
    for piece in [paragraph] * 200 + [code[i : i + 7] for i in range(0, len(code), 7)]:
        renderer.append(piece)
    biggest = max(rendered)
    assert biggest < len(paragraph) + CODE_SEGMENT_LINES * len("x = 1\n") + 16
    assert len(renderer.text) > 50 * biggest  # while the whole answer is far larger


def test_a_different_text_starts_over() -> None:
    renderer = IncrementalMarkdown()
    renderer.update("first answer\n\n")
    update = renderer.update("second")
    assert update.closed == [] and "second" in update.tail


def test_only_the_renderers_own_copy_links_act() -> None:
    """A model's answer can contain links that look like ours: they map to no code block."""
    text = "[x](copy:abc) [y](copy:0)\n\n```py\nprint(1)\n```\n"
    renderer = IncrementalMarkdown()
    html = renderer.update(text).html()
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert "copy:abc" in hrefs and "copy:0" in hrefs
    own = [h for h in hrefs if renderer.code_index(h) is not None]
    assert len(own) == 1 and renderer.code_index(own[0]) == 0
    for href in ("copy:abc", "copy:0", "copy:", own[0] + "7", own[0][:-1] + "x", "http://x"):
        assert renderer.code_index(href) is None


def test_code_blocks_follow_a_dark_theme() -> None:
    from elite_panel.chat.markdown_render import DARK_CODE, LIGHT_CODE

    text = "```python\nprint('hi')\n```\n"
    dark, light = render_whole(text, DARK_CODE), render_whole(text, LIGHT_CODE)
    assert DARK_CODE.background in dark and LIGHT_CODE.background not in dark
    assert LIGHT_CODE.background in light
    assert dark != light.replace(LIGHT_CODE.background, DARK_CODE.background)  # colours too


def test_a_finished_answer_closes_its_last_fence() -> None:
    html = render_whole("Here:\n\n```python\nprint('hi')\n```")  # no newline at the very end
    assert "```" not in html and "print" in html


def test_a_finished_code_block_says_its_language_and_length() -> None:
    html = anchors_named(render_whole("```python\ndef f():\n    return 1\n```\n\n```\nx\n```\n"))
    assert 'python · 2 lines · <a href="copy:0">Copy</a>' in html
    assert 'code · 1 line · <a href="copy:1">Copy</a>' in html
    streaming = IncrementalMarkdown()
    assert "Copy" not in streaming.update("```python\ndef f():\n").html()  # not yet whole
