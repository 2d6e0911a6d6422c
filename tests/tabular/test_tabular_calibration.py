"""p-values calibrated under no drift, and bands that never contradict them (issue 21)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divergences.binning import bin_counts, quantile_edges
from divergences.tabular import compare
from divergences.tabular.metrics import evaluate, permutation_p_value, resolve


def _rate(kind: str, n: int, draws: int, metric: str, seed: int) -> float:
    rng = np.random.default_rng(seed)
    m = resolve(metric)
    shares = 1.0 / np.arange(1, 51) ** 1.1
    shares /= shares.sum()
    hits = 0
    for _ in range(draws):
        if kind == "numeric":
            a, b = rng.normal(size=n), rng.normal(size=n)
            edges = quantile_edges(a, 10)
            rc, cc = bin_counts(a, edges)[0], bin_counts(b, edges)[0]
        else:
            rc = np.bincount(rng.choice(50, n, p=shares), minlength=50)
            cc = np.bincount(rng.choice(50, n, p=shares), minlength=50)
        hits += evaluate(m, cc, rc, smoothing="auto", null_smoothing="auto").p_value < 0.05
    return hits / draws


@pytest.mark.slow
@pytest.mark.parametrize("kind, n, draws", [("numeric", 100, 1000), ("numeric", 115, 800), ("categorical", 100, 600),
                                            ("numeric", 400, 500)])
@pytest.mark.parametrize("metric", ["psi", "js"])
def test_p_values_are_calibrated_under_no_drift(kind, n, draws, metric):
    rate = _rate(kind, n, draws, metric, seed=n)
    assert 0.02 <= rate <= 0.08, rate


def test_permutation_p_value_is_deterministic_and_matches_a_direct_permutation():
    cur, ref = np.array([12, 30, 8, 0, 5]), np.array([20, 20, 10, 3, 2])
    psi = resolve("psi")
    observed = evaluate(psi, cur, ref, smoothing="auto").value
    p = permutation_p_value(psi, cur, ref, "auto", observed)
    assert p == permutation_p_value(psi, cur, ref, "auto", observed)
    # a direct permutation of the rows (labels shuffled), written independently
    def plug_in_psi(c, r):  # PSI = Σ (p − q) ln(p/q), a pseudo-count 0.5 when a bin is empty on one side
        kept = (c + r) > 0
        c, r = c[kept].astype(float), r[kept].astype(float)
        if (c == 0).any() or (r == 0).any():
            c, r = c + 0.5, r + 0.5
        p, q = c / c.sum(), r / r.sum()
        return float(np.sum((p - q) * np.log(p / q)))

    assert plug_in_psi(cur, ref) == pytest.approx(observed, rel=1e-12)
    rng = np.random.default_rng(1)
    rows = np.repeat(np.arange(5), cur + ref)
    hits, draws = 0, 4000
    for _ in range(draws):
        perm = rng.permutation(rows)
        hits += plug_in_psi(np.bincount(perm[: cur.sum()], minlength=5),
                            np.bincount(perm[cur.sum():], minlength=5)) >= observed - 1e-12
    assert p == pytest.approx(hits / draws, abs=0.02)


def test_a_high_cardinality_column_within_noise_is_not_called_significant():
    rng = np.random.default_rng(0)
    n = 115
    values = [f"v{i}" for i in range(60)]
    ref = pd.DataFrame({"c": rng.choice(values, n)})
    cur = pd.DataFrame({"c": rng.choice(values, n)})
    col = compare(ref, cur, columns=["c"])["c"]
    psi = col["psi"]
    assert psi.value > psi.null_mean * 0.3  # a large plug-in value ...
    assert psi.p_value > 0.05 and psi.band == "stable" and not col.drifted  # ... that is noise


counts = st.lists(st.integers(0, 60), min_size=2, max_size=12)


@settings(max_examples=60, deadline=None)
@given(counts, counts)
def test_band_threshold_and_p_value_never_contradict(a, b):
    k = min(len(a), len(b))
    cur, ref = np.array(a[:k]), np.array(b[:k])
    if cur.sum() == 0 or ref.sum() == 0:
        return
    e = evaluate(resolve("psi"), cur, ref, smoothing="auto", null_smoothing="auto")
    if e.band in ("moderate", "significant"):
        assert e.p_value < 0.05 and e.value >= 0.1
    if not math.isnan(e.p_value) and e.p_value >= 0.05:
        assert e.band == "stable"
    assert 0.0 <= e.p_value <= 1.0
