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
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from embedded_server.backends.base import ChatBackend

log = logging.getLogger(__name__)

MESSAGE_OVERHEAD = 8
PROMPT_OVERHEAD = 32  # SmolLM2's template adds a 20-token system prompt to a request without one
PRIOR_FACTOR = 1.2  # before any report: a fifth over the raw count
RECENT = 16  # reports a factor is the ceiling of
MARGIN = 1.02  # over the ceiling
MIN_RAW = 50.0  # raw tokens a prompt needs to teach the factors
TEMPLATE_FLOOR = 4  # tokens the lightest chat template adds per message (and per prompt)
CACHE_SIZE = 8192  # texts whose count is kept (a history's messages, the drafts' parts)
TOKENIZER_DEADLINE_S = 2.0  # a runner's tokenizer slower than this: the estimate instead

# The pieces a byte-pair tokenizer starts from: words, digits, symbols, line breaks, and the
# bytes of other scripts (spaces mostly join the word after them). What each costs was
# fitted (least squares) to the bundled model's tokenizer on the prompts of
# tests/data/token_prompts: a word, each letter of a word past its fifth, a digit, a
# symbol, a line break (with the indentation after it), a byte of another script.
_WORDS = re.compile(r"[A-Za-z]+")
_DIGITS = re.compile(r"[0-9]")
_SYMBOLS = re.compile(r"[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]")
_WORD, _LONG, _DIGIT, _SYMBOL, _LINE, _BYTE = 1.0, 0.04, 1.0, 0.75, 2.5, 0.54


def raw_parts(text: str) -> tuple[float, float]:
    """Tokens of ``text`` before any learning, from its pieces: those of Latin letters,
    digits and symbols, and those of other scripts (whose share of a vocabulary differs
    most from model to model)."""
    words = _WORDS.findall(text)
    long_letters = sum(len(word) - 5 for word in words if len(word) > 5)
    latin = (
        _WORD * len(words)
        + _LONG * long_letters
        + _DIGIT * len(_DIGITS.findall(text))
        + _SYMBOL * len(_SYMBOLS.findall(text))
        + _LINE * text.count("\n")
    )
    ascii_chars = len(text.encode("ascii", "ignore"))
    other_bytes = len(text.encode("utf-8", "surrogatepass")) - ascii_chars
    return latin, _BYTE * other_bytes


@dataclass
class LearnedEstimate:
    """A model's tokens as a runner without a tokenizer counts them, learned from its
    reports: two factors over :func:`raw_parts`, for Latin text and for other scripts.
    Each is the largest ratio of reported to raw tokens among the last :data:`RECENT`
    reports whose prompt was mostly of that kind (a ceiling, not an average: the estimate
    stays on the high side), plus :data:`MARGIN`; the template's fewest tokens
    (:data:`TEMPLATE_FLOOR` a message) are taken out of the report first, and prompts of
    under :data:`MIN_RAW` raw tokens, mostly template, teach nothing."""

    latin: float = PRIOR_FACTOR
    other: float = PRIOR_FACTOR
    reports: int = 0
    _seen: tuple[deque[float], deque[float]] = field(
        default_factory=lambda: (deque(maxlen=RECENT), deque(maxlen=RECENT))
    )

    def count(self, text: str) -> int:
        latin, other = raw_parts(text)
        return math.ceil(latin * self.latin + other * self.other)

    def learn(self, latin: float, other: float, messages: int, reported: int) -> None:
        """Fold one answer's reported prompt tokens (for ``messages`` messages whose texts'
        raw parts are ``latin`` and ``other``) into the factors."""
        tokens = reported - TEMPLATE_FLOOR * (messages + 1)
        if latin + other < MIN_RAW or tokens <= 0:
            return
        if other <= 0.1 * (latin + other):  # mostly Latin
            seen = self._seen[0]
            seen.append((tokens - other * self.other) / latin)
            self.latin = max(seen) * MARGIN
        elif other >= 0.5 * (latin + other):  # mostly another script
            seen = self._seen[1]
            seen.append((tokens - latin * self.latin) / other)
            self.other = max(seen) * MARGIN
        else:
            return
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
            parts = [raw_parts(t) for t in texts]
            latin, other = sum(p[0] for p in parts), sum(p[1] for p in parts)
            self.estimate(model).learn(latin, other, len(texts), reported)


def prompt_overhead(messages: int) -> int:
    """The tokens a chat template adds to a prompt of ``messages`` messages."""
    return PROMPT_OVERHEAD + MESSAGE_OVERHEAD * messages
