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


FACTS = {r.name: dv.spec(r.name).facts() for r in dv.records() if r.builtin}
#: parameter values at which each record's symmetry fact is checked, beside the defaults
OTHER_PARAMS = {"js": {"beta": 0.3}, "alpha": {"alpha": 2.0}, "renyi": {"alpha": 2.0}, "skew_kl": {"skew": 0.4}}


def _pair(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    if FACTS[name]["inputs"] == "vectors":  # raw vectors, any sign
        return rng.normal(size=(2, 5, 7))
    return rng.dirichlet(np.ones(7), size=(2, 5))


@pytest.mark.parametrize("name", sorted(FACTS))
def test_every_records_symmetry_fact_is_true_both_ways(name):
    """Function records too (Rényi, Bhattacharyya, Cauchy–Schwarz, cosine, Wasserstein): a symmetric record is
    symmetric, and one that says it is not really is not (the fact is not merely conservative)."""
    p, q = _pair(name)
    for params in ({}, OTHER_PARAMS.get(name, {})):
        value = dv.spec(name, **params)
        forward, backward = value(p, q), value(q, p)
        if value.facts()["symmetric"]:
            assert np.allclose(forward, backward, rtol=1e-12, atol=1e-15), (name, params)
        else:
            assert not np.allclose(forward, backward, rtol=1e-6), (name, params)


@pytest.mark.parametrize("name", sorted(n for n, f in FACTS.items() if f["upper_bound"] is not None))
def test_every_stated_upper_bound_is_reached_but_never_passed(name):
    """Disjoint supports (or opposite vectors) reach the bound; random pairs stay below it."""
    bound = FACTS[name]["upper_bound"]
    p, q = _pair(name)
    assert np.all(dv.spec(name)(p, q) <= bound)
    if FACTS[name]["inputs"] == "vectors":
        far = dv.spec(name)(np.array([1.0, 2.0]), np.array([-1.0, -2.0]))
    else:
        far = dv.spec(name)(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert far == pytest.approx(bound, rel=1e-12)


def test_facts_are_plain_values_for_every_record_and_a_users():
    import json

    for facts in FACTS.values():
        json.dumps(facts, default=str)
        assert facts["bounded_gradient"] is None if facts["kind"] == "function" else isinstance(
            facts["bounded_gradient"], bool)
    assert FACTS["js"]["drift"]["threshold"] > 0 and FACTS["renyi"]["drift"] is None
    assert FACTS["cosine"]["inputs"] == "vectors" and FACTS["wasserstein"]["inputs"] == "ordered"
    assert FACTS["jeffreys"]["aliases"] == ["psi"]
