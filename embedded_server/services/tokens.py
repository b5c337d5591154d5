"""Counting a prompt's tokens before it goes to a runner.

A runner with a tokenizer of its own (llama.cpp, llama-cpp-python) counts each text
exactly; the counts are kept per model and text, so a conversation's history is counted
once and only the new turn costs a request. A runner without one (Ollama) gets an
estimate: a count of the text's pieces (words, numbers, symbols, spaces, other scripts'
characters) scaled by a factor per model that learns from the prompt tokens the runner
reports after each answer. The factor rises at once when the runner counted more than we
did and comes down slowly, so the estimate stays on the high side (the error measured
against a real tokenizer is in the docs).

A chat template adds its own tokens around each message (the role, begin and end
markers): :data:`MESSAGE_OVERHEAD` per message and :data:`PROMPT_OVERHEAD` per prompt,
as much as the widest templates measured (Llama 3's headers; ChatML takes 5 a message).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from embedded_server.backends.base import ChatBackend

log = logging.getLogger(__name__)

MESSAGE_OVERHEAD = 8
PROMPT_OVERHEAD = 32  # SmolLM2's template adds a 20-token system prompt to a request without one
PRIOR_FACTOR = 1.2  # before any report: a fifth over the raw count
PRIOR_WEIGHT = 100.0  # the prior weighs as one report of a prompt of 100 raw tokens
DECAY = 0.9  # each older report weighs a tenth less
MARGIN = 1.03  # over the fitted count
CACHE_SIZE = 8192  # texts whose count is kept (a history's messages, the drafts' parts)
TOKENIZER_DEADLINE_S = 2.0  # a runner's tokenizer slower than this: the estimate instead

# The pieces a byte-pair tokenizer starts from: words, digits, symbols, line breaks, runs of
# other scripts (spaces mostly join the word after them).
_PIECES = re.compile(r"[A-Za-z]+|[0-9]|[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]|\n|[^\x00-\x7f]+")
# What each piece costs, fitted (least squares) to the bundled model's tokenizer on the
# prompts of tests/data/token_prompts: a word, each letter of a word past its fifth, a
# digit, a symbol, a line break (with the indentation after it), a byte of another script.
_WORD, _LONG, _DIGIT, _SYMBOL, _LINE, _BYTE = 1.0, 0.04, 1.0, 0.75, 2.5, 0.54


def raw_estimate(text: str) -> float:
    """Tokens of ``text`` before any learning, from its pieces (see :data:`_PIECES`)."""
    total = 0.0
    for match in _PIECES.finditer(text):
        piece = match.group()
        first = piece[0]
        if first == "\n":
            total += _LINE
        elif not first.isascii():
            total += _BYTE * len(piece.encode())
        elif first.isalpha():
            total += _WORD + _LONG * max(0, len(piece) - 5)
        elif first.isdigit():
            total += _DIGIT
        else:
            total += _SYMBOL
    return total


@dataclass
class LearnedEstimate:
    """A model's tokens as a runner without a tokenizer counts them, learned from its
    reports: ``reported ≈ factor * raw + overhead * (messages + 1)`` (the template's tokens
    per message and per prompt), fitted by least squares over the reports, the recent
    ones weighing more, pulled towards the prior :data:`PRIOR_FACTOR` and
    :data:`MESSAGE_OVERHEAD` while the reports are few or alike. A text is counted as
    ``factor * raw`` and a margin of :data:`MARGIN`."""

    factor: float = 0.0
    overhead: float = MESSAGE_OVERHEAD
    reports: int = 0
    # The weighted sums of the normal equations (x: raw, m: messages + 1, y: reported).
    _sums: list[float] = field(default_factory=lambda: [0.0] * 5)

    def __post_init__(self) -> None:
        self.factor = self.factor or PRIOR_FACTOR

    def count(self, text: str) -> int:
        return math.ceil(raw_estimate(text) * self.factor * MARGIN)

    def learn(self, raw: float, messages: int, reported: int) -> None:
        """Fold one answer's reported prompt tokens (for ``messages`` messages whose
        texts' raw count is ``raw``) into the fit."""
        if raw <= 0 or reported <= 0:
            return
        x, m, y = raw, messages + 1.0, float(reported)
        sums = [DECAY * s for s in self._sums]
        for i, value in enumerate((x * x, x * m, m * m, x * y, m * y)):
            sums[i] += value
        self._sums = sums
        sxx, sxm, smm, sxy, smy = sums
        kx, km = PRIOR_WEIGHT * PRIOR_WEIGHT, 4.0  # the prior: one prompt of that size
        a11, a12, a22 = sxx + kx, sxm, smm + km
        b1, b2 = sxy + kx * PRIOR_FACTOR, smy + km * MESSAGE_OVERHEAD
        determinant = a11 * a22 - a12 * a12
        factor = (b1 * a22 - a12 * b2) / determinant
        overhead = (a11 * b2 - a12 * b1) / determinant
        self.factor = min(max(factor, 0.3), 5.0)
        self.overhead = min(max(overhead, 0.0), 64.0)
        self.reports += 1


@dataclass(frozen=True)
class Counts:
    """The tokens of each text, and whether a tokenizer counted them (else estimated)."""

    tokens: list[int]
    exact: bool


class TokenCounter:
    """Counts texts for a model with its runner's tokenizer, or estimates them."""

    def __init__(self, backend: ChatBackend) -> None:
        self.backend = backend
        self._cache: OrderedDict[tuple[str, bytes], int] = OrderedDict()
        self._estimates: dict[str, LearnedEstimate] = {}
        self._no_tokenizer: set[str] = set()

    def estimate(self, model: str) -> LearnedEstimate:
        return self._estimates.setdefault(model, LearnedEstimate())

    async def count(self, model: str, texts: Sequence[str]) -> Counts:
        if model not in self._no_tokenizer:
            exact = await self._exact(model, texts)
            if exact is not None:
                return Counts(exact, True)
        estimate = self.estimate(model)
        return Counts([estimate.count(text) for text in texts], False)

    async def _exact(self, model: str, texts: Sequence[str]) -> list[int] | None:
        keys = [(model, hashlib.blake2b(t.encode(), digest_size=16).digest()) for t in texts]
        missing = {
            key: text for key, text in zip(keys, texts, strict=True) if key not in self._cache
        }
        if missing:
            try:
                async with asyncio.timeout(TOKENIZER_DEADLINE_S):
                    counted = await self.backend.count_tokens(model, list(missing.values()))
            except TimeoutError:
                log.info("the tokenizer of %s is busy: estimating this prompt", model)
                return None
            if counted is None:
                self._no_tokenizer.add(model)
                return None
            for key, tokens in zip(missing, counted, strict=True):
                self._cache[key] = tokens
        counts = []
        for key in keys:
            self._cache.move_to_end(key)
            counts.append(self._cache[key])
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return counts

    def learn(self, model: str, texts: Sequence[str], reported: int | None) -> None:
        """After an answer: the prompt tokens the runner reported for a prompt of
        ``texts`` (its messages), for a model whose counts are estimated."""
        if reported and model in self._no_tokenizer:
            raw = sum(raw_estimate(t) for t in texts)
            self.estimate(model).learn(raw, len(texts), reported)


def prompt_overhead(messages: int) -> int:
    """The tokens a chat template adds to a prompt of ``messages`` messages."""
    return PROMPT_OVERHEAD + MESSAGE_OVERHEAD * messages
