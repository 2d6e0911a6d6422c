"""Reproducible binning of numeric data from a reference sample alone (NumPy only).

Bins are right-closed intervals with open ends, ``(-inf, e1], (e1, e2], …, (e_k, +inf)``, whose
inner edges ``e1 < … < e_k`` are quantiles of the *reference* at levels 1/B, …, (B−1)/B. Edges never
move with the data being compared (a common drift-monitoring bug is to compute them on
reference + current). Ties: equal quantiles are merged, so a column with few distinct values gets
fewer bins rather than empty duplicates; every distinct value that is an edge falls in the bin it
closes. Missing values (NaN) are not binned: they are counted separately.

The same edges serve :func:`divergences.samples.histogram` and :mod:`divergences.tabular`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bin_counts", "bin_index", "edges_from_quantiles", "quantile_edges", "quantile_levels"]


def quantile_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges: the distinct reference quantiles at levels k/bins, k = 1 … bins−1.

    NaN values are ignored. Raises ValueError when ``bins < 1`` or when the reference has no finite
    value. The result has at most ``bins − 1`` strictly increasing finite edges (fewer with ties).

    >>> quantile_edges(np.arange(10.0), bins=2)
    array([4.5])
    """
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    x = np.asarray(reference, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    if x.size == 0:
        raise ValueError("the reference has no non-missing value to bin")
    if not np.isfinite(x).all():
        x = x[np.isfinite(x)]
        if x.size == 0:
            raise ValueError("the reference has no finite value to bin")
    if bins == 1:
        return np.empty(0)
    edges = np.quantile(x, quantile_levels(bins), method="linear")
    return edges_from_quantiles(edges, float(x.max()))


def quantile_levels(bins: int) -> np.ndarray:
    """The quantile levels k/bins, k = 1 … bins−1, at which inner edges are taken.

    >>> quantile_levels(4)
    array([0.25, 0.5 , 0.75])
    """
    return np.arange(1, bins) / bins


def edges_from_quantiles(quantiles: np.ndarray, maximum: float, minimum: float | None = None) -> np.ndarray:
    """Inner edges from reference quantiles (computed by any engine) and the reference extremes.

    Equal quantiles (ties) are merged and an edge at the maximum, which would close an empty upper
    bin, is dropped: the same rule as :func:`quantile_edges`, for quantiles computed elsewhere
    (DuckDB, Spark, a dataframe library). Engines interpolate between two equal order statistics
    with a rounding error of an ulp or two (DuckDB's ``quantile_cont`` does); a quantile within
    4 ulps of the minimum or maximum is snapped to it, so that a column with a point mass at an
    extreme (a constant column, say) is binned as NumPy bins it. An extreme that is 0 or subnormal is
    never a snap target: interpolating between equal such values is exact, and the values an ulp
    away from it (5e-324 next to 0.0) are distinct data, not rounding.

    >>> edges_from_quantiles(np.array([1.0, 1.0, 2.0, 3.0]), 3.0)
    array([1., 2.])
    """
    edges = np.asarray(quantiles, dtype=np.float64).copy()
    for extreme in (maximum, minimum):
        if extreme is not None and np.isfinite(extreme) and abs(extreme) >= np.finfo(np.float64).tiny:
            near = np.abs(edges - extreme) <= 4 * np.spacing(abs(extreme))
            edges[near] = extreme
    edges = np.unique(edges)
    return edges[edges < maximum] if edges.size else edges


def bin_index(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin number of each value (0 … len(edges)); −1 for NaN."""
    x = np.asarray(x, dtype=np.float64)
    idx = np.searchsorted(edges, x, side="left")
    return np.where(np.isnan(x), -1, idx)


def bin_counts(x: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """(counts per bin, number of missing values) of ``x`` on the bins given by ``edges``.

    >>> bin_counts(np.array([0.0, 1.0, 2.0, np.nan]), np.array([0.5]))
    (array([1, 2]), 1)
    """
    idx = bin_index(x, edges)
    missing = int((idx < 0).sum())
    counts = np.bincount(idx[idx >= 0], minlength=len(edges) + 1)
    return counts, missing
