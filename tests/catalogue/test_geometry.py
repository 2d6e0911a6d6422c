"""The records that compare other objects than distributions over unordered categories: Wasserstein-1
over ordered categories and the cosine distance of raw vectors, against SciPy and torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import divergences as dv


def test_they_are_records_listed_apart_from_the_divergences_between_distributions():
    assert "wasserstein" not in dv.available() and "cosine" not in dv.available()
    assert dv.available(inputs="ordered") == ["wasserstein"] and dv.available(inputs="vectors") == ["cosine"]
    assert {"wasserstein", "cosine"} <= set(dv.available(inputs=None))
    with pytest.raises(ValueError, match="inputs must be one of"):
        dv.available(inputs="tensors")


@given(arrays(np.float64, st.integers(2, 9), elements=st.floats(0, 1)), st.data())
def test_wasserstein_equals_scipy(p, data):
    q = data.draw(arrays(np.float64, p.shape, elements=st.floats(0, 1)))
    if p.sum() <= 0 or q.sum() <= 0:
        return
    k = np.arange(p.size)
    want = scipy.stats.wasserstein_distance(k, k, p, q)
    assert float(dv.wasserstein(p, q, normalize=True)) == pytest.approx(want, rel=1e-9, abs=1e-12)
    t = dv.wasserstein(torch.tensor(p), torch.tensor(q), normalize=True)
    assert float(t) == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_wasserstein_batches_gradients_and_logits():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(6), size=(2, 4))
    want = [scipy.stats.wasserstein_distance(np.arange(6), np.arange(6), a, b) for a, b in zip(p, q)]
    np.testing.assert_allclose(dv.wasserstein(p, q), want, rtol=1e-12)
    np.testing.assert_allclose(dv.wasserstein(p.T, q.T, axis=0), want, rtol=1e-12)
    z = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    t = torch.randn(3, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: dv.wasserstein(t, a, from_logits=True), (z,))
    assert dv.wasserstein(p, p)[0] == 0.0


@given(arrays(np.float64, st.integers(1, 8), elements=st.floats(-1e3, 1e3)), st.data(),
       st.sampled_from([1e-200, 1e-30, 1.0, 1e30, 1e200]))
def test_cosine_equals_scipy_at_any_scale(x, data, scale):
    y = data.draw(arrays(np.float64, x.shape, elements=st.floats(-1e3, 1e3)))
    a, b = x * scale, y / scale
    value = float(dv.cosine(a, b))
    assert 0.0 <= value <= 2.0
    if not np.any(a) or not np.any(b):
        assert value == 1.0  # an all-zero vector: cosine 0, as torch
        return
    # the cosine does not change when each vector is scaled on its own: SciPy sees each at unit size
    # (one common scale would still underflow a vector far smaller than the other)
    want = scipy.spatial.distance.cosine(a / np.abs(a).max(), b / np.abs(b).max())
    assert value == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_cosine_matches_torch_and_its_loss():
    from divergences.torch import DistillOptions, divergence_loss

    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(4, 7, dtype=torch.float64, generator=g), torch.randn(4, 7, dtype=torch.float64, generator=g)
    want = 1 - torch.nn.functional.cosine_similarity(s, t, dim=-1)
    assert torch.allclose(dv.cosine(s, t), want, rtol=1e-12, atol=1e-14)
    assert torch.allclose(divergence_loss(s, t, "cosine", options=DistillOptions(reduction="none")), dv.cosine(s, t), rtol=1e-12, atol=1e-14)
    assert torch.autograd.gradcheck(lambda a: dv.cosine(a, t), (s.clone().requires_grad_(True),))
    assert (dv.cosine(s, s) == 0).all() and (dv.cosine(s, 3 * s) <= 1e-15).all()  # ½‖x̂ − ŷ‖²: no 1 − cos residue


def test_cosine_refuses_what_does_not_apply_to_vectors():
    with pytest.raises(ValueError, match="raw vectors"):
        dv.cosine([1.0, 2.0], [2.0, 1.0], from_logits=True)
    with pytest.raises(ValueError, match="raw vectors"):
        dv.cosine([1.0, 2.0], [2.0, 1.0], normalize=True)
    with pytest.raises(ValueError, match="^x contains NaN"):
        dv.cosine([math.nan, 2.0], [2.0, 1.0])
    assert float(dv.cosine([-1.0, 0.0], [1.0, 0.0])) == 2.0  # negative entries are fine: vectors
