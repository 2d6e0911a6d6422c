"""Issue 10 properties for the sample divergences, NumPy and torch: valid input → finite and ≥ 0,
exactly 0 on identical samples, at any finite scale (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divergences.samples import cauchy_schwarz, energy, mmd, sliced_wasserstein, wasserstein

torch = pytest.importorskip("torch")

#: estimator, and whether it uses the median bandwidth (undefined for one point mass)
FUNCS = {
    "mmd_biased": (lambda x, y: mmd(x, y, unbiased=False), True),
    "mmd_laplacian": (lambda x, y: mmd(x, y, kernel="laplacian", unbiased=False), True),
    "energy": (energy, False),
    "cauchy_schwarz": (cauchy_schwarz, True),
    "wasserstein": (wasserstein, False),
    "sliced": (lambda x, y: sliced_wasserstein(x, y, n_projections=5), False),
}


@st.composite
def samples(draw):
    n, m, d = draw(st.integers(2, 7)), draw(st.integers(2, 7)), draw(st.integers(1, 3))
    scale = 10.0 ** draw(st.integers(-300, 300))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)) * scale, rng.normal(size=(m, d)) * scale
    if draw(st.booleans()):  # duplicated points
        x[1] = x[0]
        y[0] = x[0]
    return x, y


@pytest.mark.parametrize("name", sorted(FUNCS))
@settings(max_examples=25)
@given(data=samples())
def test_finite_non_negative_zero_on_identical(name, data):
    fn, median = FUNCS[name]
    x, y = data
    for a, b in ((x, y), (torch.tensor(x), torch.tensor(y))):
        if median and len(np.unique(x, axis=0)) == 1:  # one point mass against itself: exactly 0 (any bandwidth)
            assert float(fn(a, a)) == 0.0
            continue
        value = float(fn(a, b))
        assert np.isfinite(value) and value >= 0, (name, value)
        same = float(fn(a, a))
        assert same == 0.0 or abs(same) <= 1e-9 * value, (name, same, value)  # 0 up to rounding, on D(x, y)'s scale
