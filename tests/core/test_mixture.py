"""The pointwise mixture in the core: NumPy values against a direct definition, facts, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import divergences as dv
from divergences.core.mixture import Mixture, mixture

P = np.array([0.5, 0.3, 0.15, 0.05])
Q = np.array([0.1, 0.4, 0.3, 0.2])
P0 = np.array([0.5, 0.3, 0.2, 0.0])  # a zero: the components' boundary rules


def _kl(p, q):
    m = p > 0
    return float(np.sum(p[m] * np.log(p[m] / q[m])))


def _js(p, q, beta):
    m = beta * p + (1 - beta) * q
    return beta * _kl(p, m) + (1 - beta) * _kl(q, m)


def test_numpy_value_equals_the_weighted_sum_of_direct_definitions():
    mix = mixture({"kl": 0.25, "reverse_kl": 0.75})
    want = 0.25 * _kl(P, Q) + 0.75 * _kl(Q, P)
    assert np.isfinite(want)
    assert float(dv.divergence(mix, P, Q)) == pytest.approx(want, rel=1e-12)
    assert float(dv.spec(mix)(P, Q)) == pytest.approx(want, rel=1e-12)
    js = mixture([(dv.spec("js", beta=0.2), 2.0), (("tv", {}), 1.0)])
    want = 2.0 * _js(P, Q, 0.2) + 0.5 * float(np.abs(P - Q).sum())
    assert float(dv.divergence(js, P, Q)) == pytest.approx(want, rel=1e-12)


def test_boundary_rule_of_each_component_is_kept():
    # forward KL is +inf where q = 0 < p; the mixture with it is too
    assert np.isinf(float(dv.divergence(mixture({"kl": 0.5, "reverse_kl": 0.5}), Q, P0)))
    # reverse KL only: KL(P0‖Q) is finite, 0·log 0 = 0
    assert float(dv.divergence(mixture({"reverse_kl": 1.0}), Q, P0)) == pytest.approx(
        float(np.sum(P0[P0 > 0] * np.log(P0[P0 > 0] / Q[P0 > 0]))), rel=1e-12)


def test_facts_follow_the_components():
    sym = mixture({"kl": 0.5, "reverse_kl": 0.5})
    assert isinstance(sym, Mixture) and sym.bounded_gradient and sym.is_divergence
    assert not mixture({"kl": 1.0, "pearson": 1.0}).bounded_gradient
    assert not mixture({"kl": 1.0, "reverse_kl": -0.5}).is_divergence


@pytest.mark.parametrize(("components", "match"), [
    ({}, "at least one"),
    ({"kl": float("nan")}, "finite number"),
    ({"renyi": 1.0}, "not a sum of pointwise terms"),
    ({"nope": 1.0}, "nope"),
    ([("kl",)], r"\(divergence, weight\) pairs"),
])
def test_bad_components_are_refused_by_name(components, match):
    with pytest.raises(ValueError, match=match):
        mixture(components)
