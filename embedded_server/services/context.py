"""Fitting a prompt into its model's context window, by the overflow policy.

The prompt is the system prompt, the conversation's earlier turns and the request's new
ones; the window must hold it and the room kept for the answer (``max_tokens``, else
:meth:`Budgeter.reserve`). When it does not:

- ``drop_oldest`` (default) leaves out the oldest earlier turns until it fits;
- ``truncate_middle`` does the same and, when the newest message cannot fit even alone,
  cuts its middle out and says so in a marker;
- ``refuse`` sends nothing.

Whatever the policy, a prompt that cannot fit (the system prompt and the newest message
alone are too long, or the answer's room is larger than the window) raises
:class:`ContextOverflow` with the numbers and what to do: it is never sent to the runner.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from embedded_server.backends.base import ChatBackend, ContextOverflow
from embedded_server.config import ContextPolicy
from embedded_server.services.tokens import (
    MESSAGE_OVERHEAD,
    PROMPT_OVERHEAD,
    TokenCounter,
    prompt_overhead,
)

log = logging.getLogger(__name__)

MARKER = "\n\n[… {tokens} tokens of this message were left out to fit the context window …]\n\n"


@dataclass(frozen=True)
class ContextReport:
    """What a prompt took of its window: the stream's first event and the stored answer
    carry it."""

    window: int
    prompt_tokens: int
    reserved: int
    omitted_messages: int = 0
    truncated_tokens: int = 0  # taken out of the middle of the newest message
    exact: bool = True  # counted by the runner's tokenizer (else estimated)

    def public(self) -> dict[str, int | bool]:
        return asdict(self)


@dataclass(frozen=True)
class Fitted:
    """A prompt that fits: the messages to send and what they take."""

    messages: list[dict[str, str]]
    report: ContextReport


def overflow(tokens: int, window: int, reserved: int, what: str) -> ContextOverflow:
    """The refusal of a prompt of ``tokens`` that cannot fit, with what to do."""
    return ContextOverflow(
        f"{what} needs {tokens:,} tokens and the answer {reserved:,}, but the model's context "
        f"window is {window:,} tokens: attach less (or a smaller part of the file), choose a "
        "model with a larger context, or give the runner a larger window "
        "(runner.context_tokens in the profile, num_ctx for Ollama)",
        tokens=tokens,
        window=window,
        reserved=reserved,
    )


class Budgeter:
    """Counts prompts for a backend's models and fits them into their windows."""

    def __init__(self, backend: ChatBackend, reserve_tokens: int) -> None:
        self.backend = backend
        self.counter = TokenCounter(backend)
        self.reserve_tokens = reserve_tokens

    def reserve(self, window: int, max_tokens: int | None, default: bool = True) -> int:
        """Room kept for the answer: ``max_tokens``, else (``default``) the setting, at
        most a quarter of the window; without ``default`` (the OpenAI API, whose clients
        budget their own prompts) none."""
        if max_tokens:
            return max_tokens
        return min(self.reserve_tokens, window // 4) if default else 0

    async def check_completion(
        self, model: str, prompt: str, suffix: str | None, max_tokens: int | None
    ) -> ContextReport:
        """Raises :class:`ContextOverflow` when a completion's prompt (and suffix) and its
        ``max_tokens`` cannot fit."""
        window = (await self.backend.context_window(model)).tokens
        reserved = self.reserve(window, max_tokens, default=False)
        counts = await self.counter.count(model, [prompt, suffix or ""])
        tokens = PROMPT_OVERHEAD + sum(counts.tokens)
        if tokens + reserved > window:
            raise overflow(tokens, window, reserved, "this prompt")
        return ContextReport(window, tokens, reserved, exact=counts.exact)

    async def fit(
        self,
        model: str,
        system: list[dict[str, str]],
        history: list[dict[str, str]],
        new: list[dict[str, str]],
        max_tokens: int | None,
        policy: ContextPolicy,
        default_reserve: bool = True,
        num_ctx: int | None = None,
    ) -> Fitted:
        """``system`` (none or one message), then ``history`` (oldest first, what may be
        left out), then ``new`` (the request's turns, always sent); ``num_ctx``: the
        window the request asks the runner for, when smaller than its own."""
        window = (await self.backend.context_window(model)).tokens
        window = min(window, num_ctx or window)
        reserved = self.reserve(window, max_tokens, default_reserve)
        messages = [*system, *history, *new]
        counts = await self.counter.count(model, [m["content"] for m in messages])
        cost = [tokens + MESSAGE_OVERHEAD for tokens in counts.tokens]
        earlier = slice(len(system), len(system) + len(history))
        total = PROMPT_OVERHEAD + sum(cost)
        fixed = total - sum(cost[earlier])  # the system prompt and the new turns
        room = window - reserved
        if total <= room:
            return Fitted(messages, ContextReport(window, total, reserved, exact=counts.exact))
        if policy == "refuse":
            raise overflow(total, window, reserved, "this conversation")
        if fixed > room:
            if policy == "truncate_middle":
                return await self._truncated(model, system, new, window, reserved, fixed)
            raise overflow(fixed, window, reserved, _what(new))
        omitted = 0
        for dropped in cost[earlier]:
            if total <= room:
                break
            total -= dropped
            omitted += 1
        report = ContextReport(window, total, reserved, omitted, exact=counts.exact)
        return Fitted([*system, *history[omitted:], *new], report)

    async def _truncated(
        self,
        model: str,
        system: list[dict[str, str]],
        new: list[dict[str, str]],
        window: int,
        reserved: int,
        needed: int,
    ) -> Fitted:
        """The newest message with its middle cut out so that the system prompt and the
        request's turns fit (every earlier turn left out)."""
        text = new[-1]["content"]
        others = [m["content"] for m in [*system, *new[:-1]]]
        counted_others = (await self.counter.count(model, others)).tokens if others else []
        room = window - reserved - prompt_overhead(len(others) + 1) - sum(counted_others)
        full = (await self.counter.count(model, [text])).tokens[0]
        share = (room - 40) / full  # 40: the marker's own tokens, and some
        for _ in range(4):  # each try cuts by what was still over
            if share <= 0:
                break
            keep = int(len(text) * share) // 2
            left_out = full - int(full * share)
            cut = text[:keep] + MARKER.format(tokens=f"{left_out:,}") + text[len(text) - keep :]
            counted = await self.counter.count(model, [cut])
            tokens = counted.tokens[0]
            if tokens <= room:
                report = ContextReport(
                    window,
                    window - reserved - room + tokens,
                    reserved,
                    truncated_tokens=left_out,
                    exact=counted.exact,
                )
                return Fitted([*system, *new[:-1], {**new[-1], "content": cut}], report)
            share *= room / tokens * 0.97
        raise overflow(needed, window, reserved, _what(new))


def _what(new: Sequence[dict[str, str]]) -> str:
    return "this message" if len(new) == 1 else "these messages"
