"""Values against SciPy's independent implementations."""

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import entropy, power_divergence

import divergences as dv

from .conftest import random_simplex


@pytest.mark.parametrize("zeros", [0.0, 0.3])
def test_kl_matches_scipy_entropy_and_rel_entr(rng, zeros):
    p = random_simplex(rng, (50, 37), zeros)
    q = random_simplex(rng, (50, 37))
    np.testing.assert_allclose(dv.kl(p, q), entropy(p, q, axis=1), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dv.kl(p, q), rel_entr(p, q).sum(axis=1), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dv.kl(p, q, base=2), entropy(p, q, axis=1, base=2), rtol=1e-12)


def test_kl_infinite_where_q_has_no_mass():
    assert dv.kl([0.5, 0.5], [1.0, 0.0]) == np.inf == entropy([0.5, 0.5], [1.0, 0.0])


@pytest.mark.parametrize("zeros", [0.0, 0.3])
def test_js_matches_scipy_jensenshannon_squared(rng, zeros):
    p = random_simplex(rng, (40, 29), zeros)
    q = random_simplex(rng, (40, 29), zeros)
    ref = jensenshannon(p, q, axis=1) ** 2
    np.testing.assert_allclose(dv.js(p, q), ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dv.js_distance(p, q, base=2), jensenshannon(p, q, axis=1, base=2), rtol=1e-10)


def test_entropy_matches_scipy(rng):
    p = random_simplex(rng, (30, 17), 0.2)
    np.testing.assert_allclose(dv.entropy(p), entropy(p, axis=1), rtol=1e-12)
    np.testing.assert_allclose(dv.entropy(p, base=2), entropy(p, axis=1, base=2), rtol=1e-12)


def test_cross_entropy_is_entropy_plus_kl(rng):
    p = random_simplex(rng, (30, 17), 0.2)
    q = random_simplex(rng, (30, 17))
    np.testing.assert_allclose(dv.cross_entropy(p, q), entropy(p, axis=1) + entropy(p, q, axis=1), rtol=1e-12)


@pytest.mark.parametrize(
    ("lambda_", "fn"),
    [
        ("pearson", lambda p, q: dv.pearson(p, q)),
        ("neyman", lambda p, q: dv.neyman(p, q)),
        ("log-likelihood", lambda p, q: 2 * dv.kl(p, q)),
        ("mod-log-likelihood", lambda p, q: 2 * dv.reverse_kl(p, q)),
        ("freeman-tukey", lambda p, q: 8 * dv.hellinger(p, q)),  # 4 Σ(√O − √E)² = 8 n H²
        (0.7, lambda p, q: 2 * dv.alpha(p, q, alpha=1.7)),  # Cressie–Read λ = α − 1
        (-0.3, lambda p, q: 2 * dv.alpha(p, q, alpha=0.7)),
    ],
)
def test_chi2_family_matches_scipy_power_divergence(rng, lambda_, fn):
    n = 1000.0
    p = random_simplex(rng, (12,))
    q = random_simplex(rng, (12,))
    stat = power_divergence(n * p, n * q, lambda_=lambda_).statistic / n
    np.testing.assert_allclose(fn(p, q), stat, rtol=1e-10)
