"""What one numeric column's sorted values give, computed here in NumPy: its summary (counts,
extremes, mean, standard deviation, quantiles), its distinct values, and its counts (and sums) on
given bins.

Engines whose values are cheap to bring here (DuckDB, in-memory frames: :attr:`Engine.values_local`)
fetch and sort each numeric column once, and every question about it is answered from that one
sorted array: the reference's bins, counts and per-bin sums, the current table's counts, and the
exact Kolmogorov–Smirnov test between the two (:func:`~.stat_tests.ks_values`). A sort costs less
than the engine's exact quantiles (which hold and select among every value anyway) plus a counting
pass, and the KS test needs the sorted values regardless.

A column is ``(values, counts)`` as :meth:`Engine.sorted_values` returns it: values increasing (NaN
left out, ±inf kept), ``counts`` None (every value once) or the count of each distinct value.
Conventions are the engines': quantiles over the finite values with linear interpolation (NumPy's
``method="linear"``, as :func:`divergences.binning.quantile_edges`), right-closed bins
(e_{i−1}, e_i] with open ends, ±inf binned but in no sum, the population standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from .engines.base import BinCounts, NumericSummary

__all__ = ["KEEP_BUDGET", "ReferenceValues", "bin_counts_of", "distinct_count", "distinct_finite", "summary_of"]


def _finite_bounds(values: np.ndarray) -> tuple[int, int]:
    """Positions of the first finite value and one past the last (±inf sit at the ends)."""
    return (int(np.searchsorted(values, -np.inf, side="right")), int(np.searchsorted(values, np.inf, side="left")))


def summary_of(values: np.ndarray, rows: int, levels: np.ndarray) -> NumericSummary:
    """The :class:`NumericSummary` of a column from its sorted values (each once).

    :param values: the column's non-missing values, increasing.
    :param rows: the table's rows (missing values included).
    :param levels: quantile levels in [0, 1].
    :returns: the summary (NaN statistics where no value is finite).

    >>> s = summary_of(np.array([-np.inf, 1.0, 2.0, 4.0]), 5, np.array([0.5]))
    >>> s.nonmissing, s.finite, s.minimum, s.maximum, s.mean, s.quantiles.tolist()
    (4, 3, 1.0, 4.0, 2.3333333333333335, [2.0])
    """
    lo, hi = _finite_bounds(values)
    finite = values[lo:hi]
    if finite.size == 0:
        nan = math.nan
        return NumericSummary(rows, int(values.size), 0, nan, nan, nan, nan, np.full(len(levels), nan))
    quantiles = (np.quantile(finite, np.asarray(levels, dtype=np.float64), method="linear") if len(levels)
                 else np.zeros(0))
    return NumericSummary(rows, int(values.size), int(finite.size), float(finite[0]), float(finite[-1]),
                          float(finite.mean()), float(finite.std()), np.asarray(quantiles, dtype=np.float64))


def distinct_finite(values: np.ndarray, counts: np.ndarray | None, limit: int | None = None) -> np.ndarray:
    """The distinct finite values, increasing (the first ``limit`` + 1 of them when ``limit`` is given).

    >>> distinct_finite(np.array([1.0, 1.0, 2.0, np.inf]), None).tolist()
    [1.0, 2.0]
    """
    lo, hi = _finite_bounds(values)
    finite = values[lo:hi]
    if counts is None and finite.size:
        finite = finite[np.append(True, finite[1:] != finite[:-1])]
    return finite if limit is None else finite[: int(limit) + 1]


def distinct_count(values: np.ndarray, counts: np.ndarray | None) -> int:
    """The number of distinct non-missing values (±inf count as values)."""
    if counts is not None or values.size == 0:
        return int(values.size)
    return 1 + int(np.count_nonzero(values[1:] != values[:-1]))


def bin_counts_of(values: np.ndarray, counts: np.ndarray | None, rows: int, edges: np.ndarray, *,
                  sums: bool = False) -> BinCounts:
    """Counts on the right-closed bins with inner ``edges`` (and, with ``sums``, the sum of the finite
    values of each bin), the missing values being ``rows`` minus the values given.

    >>> b = bin_counts_of(np.array([1.0, 2.0, 2.0, 5.0, np.inf]), None, 6, np.array([2.0]), sums=True)
    >>> b.counts.tolist(), b.missing, b.sums.tolist()
    ([3, 2], 1, [5.0, 5.0])
    """
    edges = np.asarray(edges, dtype=np.float64)
    cut = np.concatenate([[0], np.searchsorted(values, edges, side="right"), [values.size]])
    cumulative = None if counts is None else np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))])
    at = cut if cumulative is None else cumulative[cut]
    total = None
    if sums:
        lo, hi = _finite_bounds(values)
        weights = values[lo:hi] if counts is None else values[lo:hi] * np.asarray(counts[lo:hi], dtype=np.float64)
        start, stop = np.clip(cut[:-1], lo, hi) - lo, np.clip(cut[1:], lo, hi) - lo
        total = np.zeros(edges.size + 1)
        used = stop > start
        if np.any(used):  # each bin's finite values are one run of the sorted array, summed in order; the
            # bins between two non-empty ones are empty, so each run ends where the next non-empty one starts
            total[used] = np.add.reduceat(weights, start[used])
    return BinCounts(np.diff(at).astype(np.int64), int(rows - at[-1]), total)


#: bytes of the reference's sorted columns kept from profiling it for the comparison that follows (the
#: others are fetched again): 1M rows × 16 numeric columns
KEEP_BUDGET = 128 * 2**20


class ReferenceValues:
    """The reference's sorted numeric columns for the KS test, handed out column by column: those kept
    while the reference was profiled (:meth:`offer`, up to ``budget`` bytes) at once, the others
    fetched from the engine in batches as they are asked for (:meth:`stream_from`, then :meth:`get`).

    :param budget: bytes of sorted values to keep (default :data:`KEEP_BUDGET`).
    """

    def __init__(self, budget: int | None = None) -> None:
        self._kept: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        self._room = int(KEEP_BUDGET if budget is None else budget)
        self._stream: Iterator[tuple[str, tuple[np.ndarray, np.ndarray | None]]] = iter(())

    def offer(self, column: str, pair: tuple[np.ndarray, np.ndarray | None]) -> None:
        """Keep ``column``'s sorted values if they fit in what is left of the budget."""
        size = pair[0].nbytes + (0 if pair[1] is None else pair[1].nbytes)
        if size <= self._room:
            self._kept[column] = pair
            self._room -= size

    def stream_from(self, engine, order: list[str]) -> None:
        """Fetch the columns of ``order`` not kept, in that order, as :meth:`get` asks for them."""
        self._stream = engine.sorted_values_many([c for c in order if c not in self._kept])

    def get(self, column: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The sorted values of ``column`` (columns of the order skipped before it are dropped)."""
        if column in self._kept:
            return self._kept.pop(column)
        for name, pair in self._stream:
            if name == column:
                return pair
        raise KeyError(column)  # pragma: no cover - asked for a column outside the order given
