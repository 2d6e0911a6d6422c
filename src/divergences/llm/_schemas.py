r"""Declared schemas of the documents the ``llm`` layer reads back (pydantic v2, read by
:func:`divergences.documents.read_document`; imported only when a document is read).

* :class:`NGramPriorDocument`: the JSON written by :meth:`divergences.llm.NGramPrior.save`;
* :class:`FrequencyTableDocument`: the arrays of the ``.npz`` written by
  :meth:`divergences.llm.FrequencyTable.save`.

Caps: ``vocab_size`` < 2³¹; every n-gram count and every history's total ≤ 2⁵³ (exact in float64, where the
probabilities are formed); a frequency table's total count < 2⁶³ (int64).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict, StrictInt, field_validator, model_validator

from ..documents import FieldError
from .dcpdd import _checked_counts

MAX_VOCAB = 2**31 - 1
MAX_COUNT = 2**53
StrictFloat = Annotated[float, Strict()]

History = list[StrictInt]
Entry = tuple[StrictInt, StrictInt]


class NGramPriorDocument(BaseModel):
    """An n-gram prior: ``counts[n]`` lists ``[history, [[token, count], ...]]`` for histories of n tokens."""

    model_config = ConfigDict(extra="forbid", strict=False, allow_inf_nan=False, frozen=True)

    format_version: Literal[1] = 1
    vocab_size: StrictInt = Field(ge=1, le=MAX_VOCAB)
    k: StrictFloat = Field(gt=0)
    weights: list[Annotated[StrictFloat, Field(ge=0)]] = Field(min_length=1)
    combine: Literal["log-linear", "linear"]
    counts: list[list[tuple[History, list[Entry]]]] = Field(min_length=1)

    @field_validator("counts", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:  # the pairs are JSON arrays: only lists are read as tuples
        if not isinstance(value, list):
            raise ValueError(f"must be a list (one table per order), got {type(value).__name__}")
        return value

    @model_validator(mode="after")
    def _relations(self) -> NGramPriorDocument:
        order = len(self.counts)
        if len(self.weights) != order:
            raise FieldError("weights", f"holds {len(self.weights)} weights for {order} orders (one per order)")
        if not math.isclose(math.fsum(self.weights), 1.0, abs_tol=1e-9):
            raise FieldError("weights", f"sum to {math.fsum(self.weights)!r}, not 1")
        v = self.vocab_size
        for n, table in enumerate(self.counts):
            seen: set[tuple[int, ...]] = set()
            for j, (history, items) in enumerate(table):
                if len(history) != n:
                    raise FieldError(f"counts[{n}][{j}][0]", f"a history of the order-{n + 1} table has {n} tokens, "
                                     f"got {len(history)}")
                for i, t in enumerate(history):
                    if not 0 <= t < v:
                        raise FieldError(f"counts[{n}][{j}][0][{i}]", f"token {t} outside [0, vocab_size={v})")
                key = tuple(history)
                if key in seen:
                    raise FieldError(f"counts[{n}][{j}][0]", f"history {list(key)} is listed twice")
                seen.add(key)
                tokens: set[int] = set()
                total = 0
                for i, (t, c) in enumerate(items):
                    if not 0 <= t < v:
                        raise FieldError(f"counts[{n}][{j}][1][{i}][0]", f"token {t} outside [0, vocab_size={v})")
                    if t in tokens:
                        raise FieldError(f"counts[{n}][{j}][1][{i}][0]", f"token {t} is listed twice for one history")
                    tokens.add(t)
                    if not 0 <= c <= MAX_COUNT:
                        raise FieldError(f"counts[{n}][{j}][1][{i}][1]", f"count {c} outside [0, 2**53]")
                    total += c
                if total > MAX_COUNT:
                    raise FieldError(f"counts[{n}][{j}][1]", f"the counts of one history sum to {total}, beyond 2**53")
        return self


class FrequencyTableDocument(BaseModel):
    """A token frequency table: ``counts`` a 1-D integer array, ``counts[v]`` ≥ 0 occurrences of token v."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)

    format_version: Literal[1] = 1
    counts: Any

    @field_validator("counts", mode="before")
    @classmethod
    def _counts(cls, value: Any) -> np.ndarray:
        return _checked_counts(value)
