"""How the panel and the command line say what a prompt takes of its model's context
window: the composer's meter, the notice of what was left out, the warning before sending.

``context`` is what the server reports (the ``start`` event of an answer, a stored
answer's ``context``, ``POST /api/chat/count``): ``window``, ``prompt_tokens``,
``reserved``, ``omitted_messages``, ``truncated_tokens``, ``exact``.
"""

from __future__ import annotations

from typing import Any


def window_text(runs: int | None, trained: int | None) -> str:
    """A model's window as lists show it: "4,096 of 8,192" (what it runs with, of what it
    was trained for), "8,192" when they are the same, "-" when its runner cannot say."""
    if not runs:
        return "-"
    if trained and trained != runs:
        return f"{runs:,} of {trained:,}"
    return f"{runs:,}"


def meter_text(context: dict[str, Any]) -> str:
    """ "1,820 / 8,192 tokens" ("≈" before an estimate); "" when the window is unknown."""
    window, used = context.get("window"), context.get("prompt_tokens")
    if not window or used is None:
        return ""
    approx = "" if context.get("exact", True) else "≈"
    return f"{approx}{used:,} / {window:,} tokens"


def meter_tooltip(context: dict[str, Any]) -> str:
    window = context.get("window") or 0
    return (
        f"The next prompt (system prompt, the conversation and this draft) takes "
        f"{context.get('prompt_tokens', 0):,} tokens of the model's {window:,}-token window; "
        f"{context.get('reserved', 0):,} are kept for the answer."
        + ("" if context.get("exact", True) else " Estimated: the runner has no tokenizer.")
    )


def omitted_text(context: dict[str, Any], will: bool = False) -> str:
    """ "12 earlier messages are beyond this model's 8,192-token window" ("will be left
    out" of a draft's prompt when ``will``); "" when none is."""
    omitted, window = context.get("omitted_messages") or 0, context.get("window") or 0
    if not omitted:
        return ""
    earlier = "earlier message" if omitted == 1 else "earlier messages"
    if will:
        return (
            f"{omitted:,} {earlier} will be left out: beyond this model's {window:,}-token window"
        )
    verb = "is" if omitted == 1 else "are"
    return f"{omitted:,} {earlier} {verb} beyond this model's {window:,}-token window"


def truncated_text(context: dict[str, Any]) -> str:
    cut = context.get("truncated_tokens") or 0
    return f"{cut:,} tokens were cut from the middle of the message to fit it" if cut else ""


def notice(context: dict[str, Any]) -> str:
    """What an answer's prompt left out, in a line ("" when nothing)."""
    return "; ".join(part for part in (omitted_text(context), truncated_text(context)) if part)
