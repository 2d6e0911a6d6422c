r"""Interpolated 1- to N-gram token model with add-k smoothing: a style prior for decoding.

Fitted on token-id sequences (the generating model's tokenizer), with counts c(context, token):

    pₙ(t | context) = (c(h, t) + k) / (c(h) + k·V),   h = the last n − 1 tokens of the context

(h is shorter at the start of a text: the first tokens use what context there is; an unseen h
gives the uniform 1/V). The orders are combined with weights wₙ (non-negative, summing to 1):

* ``combine="log-linear"`` (default; the form of the issue): log p(t) = Σₙ wₙ log pₙ(t) − log Z,
  a normalised product of experts;
* ``combine="linear"``: the classical interpolation p(t) = Σₙ wₙ pₙ(t).

:meth:`NGramPrior.log_prob` returns that normalised log-prior over the vocabulary; adding
λ·log p to the logits (:class:`divergences.hf.processors.NGramPriorLogitsProcessor`) is the same
next-token distribution as adding λ·Σₙ wₙ log pₙ, since softmax ignores a per-row constant.
:meth:`NGramPrior.perplexity` is the style perplexity of a text under the prior.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["NGramPrior"]


def _real(x: Any) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(float(x))


class NGramPrior:
    """Add-k smoothed, interpolated n-gram model over token ids (see the module doc).

    >>> prior = NGramPrior.fit([[0, 1, 2, 0, 1, 2]], vocab_size=4, order=2, weights=(0.5, 0.5))
    >>> lp = prior.log_prob([[0]])            # next token after 0: 1 is the likeliest
    >>> int(lp.argmax()), round(float(lp.exp().sum()), 6)
    (1, 1.0)
    """

    def __init__(self, counts: list[dict[tuple[int, ...], Counter]], *, vocab_size: int, k: float,
                 weights: Sequence[float], combine: str) -> None:
        self.counts, self.vocab_size, self.k = counts, vocab_size, float(k)
        self.weights = tuple(float(w) for w in weights)
        self.combine = combine
        self.totals = [{h: sum(c.values()) for h, c in table.items()} for table in counts]

    @property
    def order(self) -> int:
        return len(self.counts)

    @classmethod
    def fit(cls, corpus: Iterable[Any], *, vocab_size: int, order: int = 3, k: float = 1.0,
            weights: Sequence[float] | None = None, tokenizer: Any = None, combine: str = "log-linear") -> NGramPrior:
        """Count 1..``order``-grams over ``corpus`` (id sequences, or texts with ``tokenizer=``).

        ``weights`` default to equal weights; they must be ``order`` non-negative numbers summing to
        1. An empty corpus, ``k <= 0``, or ids outside ``[0, vocab_size)`` raise ``ValueError``.
        """
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be a positive integer, got {order!r}")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or not 1 <= vocab_size < 2**31:
            raise ValueError(f"vocab_size must be a positive integer below 2**31, got {vocab_size!r}")
        if not _real(k) or not k > 0:
            raise ValueError(f"k must be a finite number > 0 (add-k smoothing keeps every token possible), got {k!r}")
        weights = (1.0 / order,) * order if weights is None else tuple(weights)
        if len(weights) != order or any(not (_real(w) and w >= 0) for w in weights) \
                or not math.isclose(math.fsum(weights), 1.0, abs_tol=1e-9):
            raise ValueError(f"weights must be {order} non-negative numbers summing to 1, got {weights!r}")
        if combine not in ("log-linear", "linear"):
            raise ValueError(f"combine must be 'log-linear' or 'linear', got {combine!r}")
        counts: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(order)]
        seen = 0
        for document in corpus:
            if tokenizer is not None:
                encoded = tokenizer.encode(document)
                document = getattr(encoded, "ids", encoded)
            ids = [int(t) for t in (document.tolist() if hasattr(document, "tolist") else document)]
            for t in ids:
                if not 0 <= t < vocab_size:
                    raise ValueError(f"corpus holds token id {t} outside [0, vocab_size={vocab_size})")
            seen += len(ids)
            for i, t in enumerate(ids):
                for n in range(order):
                    if i >= n:
                        counts[n][tuple(ids[i - n:i])][t] += 1
        if seen == 0:
            raise ValueError("corpus is empty: no token to fit the n-gram prior on")
        return cls([dict(c) for c in counts], vocab_size=vocab_size, k=k, weights=weights, combine=combine)

    def save(self, path: str | os.PathLike) -> None:
        """Write the counts and settings to ``path`` (JSON, format version 1; no pickle), for :meth:`load`.

        The file is written atomically (:func:`divergences.files.write_atomic`)."""
        from ..files import write_atomic

        data = {"format_version": 1, "vocab_size": self.vocab_size, "k": self.k, "weights": list(self.weights),
                "combine": self.combine,
                "counts": [[[list(h), sorted(c.items())] for h, c in table.items()] for table in self.counts]}
        write_atomic(path, json.dumps(data, allow_nan=False))

    @classmethod
    def load(cls, path: str | os.PathLike) -> NGramPrior:
        """Read a prior written by :meth:`save`, checked against its declared schema
        (:class:`divergences.llm._schemas.NGramPriorDocument`): an unknown version, a missing field, a wrong
        type, a non-positive ``vocab_size`` or ``k``, weights that are not ``order`` non-negative numbers summing
        to 1, a history of the wrong length or listed twice, a token outside the vocabulary or listed twice,
        a negative count or counts beyond 2**53 are a ValueError naming the file and the field. A file without
        ``format_version`` (written before it existed) is read as version 1."""
        from ..documents import read_document
        from ._schemas import NGramPriorDocument

        doc = read_document(NGramPriorDocument, path)
        counts = [{tuple(h): Counter(dict(items)) for h, items in table} for table in doc.counts]
        return cls(counts, vocab_size=doc.vocab_size, k=doc.k, weights=doc.weights, combine=doc.combine)

    def _tokens(self, sequence: Any, name: str) -> list[int]:
        """``sequence`` as a list of token ids in [0, vocab_size), else ValueError naming ``name``."""
        values = sequence.tolist() if hasattr(sequence, "tolist") else sequence
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(f"{name} must be a sequence of token ids, got {type(sequence).__name__}")
        ids = []
        for t in values:
            if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
                raise ValueError(f"{name} must hold integer token ids, got {t!r}")
            if not 0 <= t < self.vocab_size:
                raise ValueError(f"{name} holds token id {t} outside [0, vocab_size={self.vocab_size})")
            ids.append(int(t))
        return ids

    def order_log_probs(self, context: Sequence[int]) -> np.ndarray:
        """``[order, V]`` array of log pₙ(· | context) for n = 1..order (float64)."""
        ctx = tuple(self._tokens(context, "context"))
        out = np.empty((self.order, self.vocab_size))
        for n in range(self.order):
            h = ctx[len(ctx) - min(n, len(ctx)):] if n else ()
            table = self.counts[len(h)]
            row = np.full(self.vocab_size, self.k)
            hits = table.get(h)
            total = self.totals[len(h)].get(h, 0)
            if hits:
                idx = np.fromiter(hits.keys(), dtype=np.int64)
                row[idx] += np.fromiter(hits.values(), dtype=np.float64)
            out[n] = np.log(row) - math.log(total + self.k * self.vocab_size)
        return out

    def _combined(self, context: Sequence[int]) -> np.ndarray:
        per_order = self.order_log_probs(context)
        w = np.asarray(self.weights)[:, None]
        if self.combine == "linear":
            live = w[:, 0] > 0
            mixed = per_order[live] + np.log(w[live])
            top = mixed.max(0)
            return top + np.log(np.exp(mixed - top).sum(0))
        score = (w * per_order).sum(0)
        top = score.max()
        return score - (top + math.log(np.exp(score - top).sum()))

    def log_prob(self, contexts: Sequence[Sequence[int]], *, dtype: Any = None, device: Any = None) -> Any:
        """Normalised log-prior ``[len(contexts), V]`` (torch) of the next token after each context."""
        import torch

        rows = np.stack([self._combined(c) for c in contexts]) if len(contexts) else np.zeros((0, self.vocab_size))
        return torch.as_tensor(rows, dtype=dtype or torch.float64, device=device)

    def token_log_probs(self, sequence: Sequence[int], *, start: int = 0) -> np.ndarray:
        """log p(tᵢ | t₍<ᵢ₎) for i = start..len − 1 under the prior."""
        ids = self._tokens(sequence, "sequence")
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
            raise ValueError(f"start must be an integer >= 0, got {start!r}")
        return np.array([self._combined(ids[:i])[ids[i]] for i in range(int(start), len(ids))])

    def perplexity(self, sequences: Iterable[Sequence[int]], *, start: int | Sequence[int] = 0) -> float:
        """Style perplexity exp(−mean log p) of the tokens of ``sequences`` (from index ``start``).

        ``start`` (an int or one per sequence) skips the prompt: only generated tokens are scored,
        with the prompt as context. All scored tokens are pooled (corpus perplexity).
        """
        sequences = [self._tokens(s, f"sequences[{i}]") for i, s in enumerate(sequences)]
        starts = [start] * len(sequences) if isinstance(start, (int, np.integer)) else list(start)
        if len(starts) != len(sequences):
            raise ValueError("start must be an int or one index per sequence")
        logs = np.concatenate([self.token_log_probs(s, start=b) for s, b in zip(sequences, starts)] or [np.zeros(0)])
        if logs.size == 0:
            raise ValueError("no token to score: sequences are empty after start")
        return float(np.exp(-logs.mean()))
