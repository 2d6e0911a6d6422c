r"""Multivariate drift: one two-sample test over the numeric columns together, so that a change of the
joint distribution that leaves every column's own distribution as it was (a correlation that flips,
say) is caught.

``compare(..., multivariate=True)`` (``--multivariate``): complete rows (no missing value in the
numeric and time columns compared) are sampled from both tables — at most ``MAX_ROWS`` per table, a
seeded reservoir sample inside the engine (DuckDB, Spark) or a seeded choice of rows (in-memory
frames), so that millions of rows cost a sample's time — each column is scaled by the reference
sample's standard deviation, and the **energy distance** (:func:`divergences.samples.energy`, SciPy's
scale √(2E|X−Y| − E|X−X′| − E|Y−Y′|)) is tested by **permutation** (:func:`divergences.samples.
permutation_test`, 199 permutations, seeded: p = (1 + #{≥}) / 200, exact in level). The effect size is
Székely and Rizzo's coefficient of inhomogeneity H = (2E|X−Y| − E|X−X′| − E|Y−Y′|) / (2E|X−Y|) ∈ [0, 1]
(0: the same distribution).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_ROWS", "MultivariateTest", "multivariate_test"]

#: rows sampled per table for the multivariate test
MAX_ROWS = 500
#: permutations of the multivariate test
PERMUTATIONS = 199


@dataclass(frozen=True)
class MultivariateTest:
    """The multivariate two-sample test over ``columns`` (see :mod:`divergences.tabular.multivariate`)."""

    columns: tuple[str, ...]
    method: str
    statistic: float
    p_value: float
    effect_size: float
    null_mean: float
    rows_reference: int
    rows_current: int
    drifted: bool


def _sample(engine, columns: list[str], limit: int, seed: int) -> np.ndarray:
    return engine.sample_rows(columns, limit, seed)


def multivariate_test(reference, current, columns: list[str], *, confidence: float = 0.95, limit: int = MAX_ROWS,
                      seed: int = 0) -> MultivariateTest | None:
    """The test between two engines over ``columns`` (numeric or time); None when fewer than two columns
    or fewer than 5 complete rows in either table."""
    from scipy.spatial.distance import cdist

    from ..samples import energy, permutation_test

    if len(columns) < 2:
        return None
    x = _sample(reference, columns, limit, seed)
    y = _sample(current, columns, limit, seed + 1)
    if len(x) < 5 or len(y) < 5:
        return None
    scale = x.std(axis=0)
    scale = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
    centre = x.mean(axis=0)
    xs, ys = (x - centre) / scale, (y - centre) / scale
    result = permutation_test(xs, ys, energy, PERMUTATIONS, seed=seed)
    a = float(cdist(xs, ys).mean())
    value = float(result.value)
    effect = (value * value) / (2 * a) if a > 0 else 0.0
    drifted = bool(result.pvalue < 1 - confidence)
    return MultivariateTest(tuple(columns), "energy distance, permutation test", value, float(result.pvalue),
                            float(min(max(effect, 0.0), 1.0)), float(np.mean(result.null_distribution)),
                            len(x), len(y), drifted)


def _finite_rows(values: np.ndarray) -> np.ndarray:
    return values[np.all(np.isfinite(values), axis=1)] if values.size else values.reshape(0, values.shape[1])


def numpy_sample(values: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` complete rows of ``values`` (rows × columns), chosen at random (seeded)."""
    rows = _finite_rows(values)
    if len(rows) <= limit:
        return rows
    pick = np.random.default_rng(seed).choice(len(rows), size=limit, replace=False)
    return rows[np.sort(pick)]
