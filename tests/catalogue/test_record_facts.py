"""The facts a record states are true: layers read them instead of comparing divergence names."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import divergences as dv
from divergences.core.conventions import PSI, DriftRule

POINTWISE = [r for r in dv.records() if r.builtin and r.factory is not None]
BOUNDED = [r.name for r in POINTWISE if r.term_attribute("bounded_gradient")]


def test_the_terms_that_claim_a_bounded_gradient():
    assert set(BOUNDED) == {"kl", "reverse_kl", "cross_entropy", "jeffreys", "js", "tv", "hellinger", "triangular",
                            "le_cam", "skew_kl", "skew_reverse_kl"}


@pytest.mark.parametrize("name", BOUNDED)
def test_bounded_gradient_terms_stay_finite_for_any_finite_log_probabilities(name):
    term = dv.get(name).generator()
    grid = torch.tensor([-1e4, -700.0, -50.0, -1.0, -1e-12, 0.0], dtype=torch.float64)
    a, b = torch.meshgrid(grid, grid, indexing="ij")
    for value in term.phi_dphi(a, b):
        assert torch.isfinite(value).all(), name


def test_unbounded_terms_do_overflow_somewhere():
    """The flag is not merely conservative: χ²-type terms overflow at finite logits."""
    for name in ("pearson", "neyman"):
        term = dv.get(name).generator()
        a, b = torch.tensor([0.0, -1e4], dtype=torch.float64), torch.tensor([-1e4, 0.0], dtype=torch.float64)
        assert not all(torch.isfinite(v).all() for v in term.phi_dphi(a, b)), name


def test_drift_rules():
    assert dv.get("psi").term_attribute("drift") is PSI
    assert [PSI.band(v) for v in (0.0, 0.099, 0.1, 0.249, 0.25, math.inf)] == [
        "stable", "stable", "moderate", "moderate", "significant", "significant"]
    assert PSI.band(math.nan) == ""
    for r in POINTWISE:
        rule = r.term_attribute("drift")
        assert rule is None or (isinstance(rule, DriftRule) and rule.threshold > 0 and rule.source)
    with pytest.raises(ValueError, match="positive"):
        DriftRule(0.0)
    with pytest.raises(ValueError, match="increasing"):
        DriftRule(0.1, ((0.2, "a"), (0.1, "b")))


BOUNDED_ABOVE = [r.name for r in POINTWISE if r.term_attribute("upper_bound") is not None]


@pytest.mark.parametrize("name", BOUNDED_ABOVE)
@given(arrays(np.float64, 6, elements=st.floats(0, 1)), arrays(np.float64, 6, elements=st.floats(0, 1)))
def test_values_never_exceed_the_stated_upper_bound(name, x, y):
    if x.sum() <= 0 or y.sum() <= 0:
        return
    bound = dv.get(name).term_attribute("upper_bound")
    assert dv.divergence(name, x, y, normalize=True) <= bound
    assert float(dv.divergence(name, torch.tensor(x), torch.tensor(y), normalize=True)) <= bound


@pytest.mark.parametrize("name", [r.name for r in POINTWISE if r.term_attribute("symmetric")])
def test_symmetric_terms_are_symmetric(name):
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(7), size=(2, 5))
    assert np.allclose(dv.divergence(name, p, q), dv.divergence(name, q, p), rtol=1e-12, atol=1e-15)
