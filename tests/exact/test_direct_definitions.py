"""Each divergence against its definition written differently: plain Python loops over floats."""

import math

import numpy as np
import pytest

import divergences as dv

from .conftest import random_simplex


def _sum(fn, p, q):
    return math.fsum(fn(float(a), float(b)) for a, b in zip(p, q))


def _xlogy(x, y):
    return 0.0 if x == 0 else (math.inf if y == 0 else x * math.log(y))


DIRECT = {
    "kl": lambda p, q: _sum(lambda a, b: 0.0 if a == 0 else (math.inf if b == 0 else a * math.log(a / b)), p, q),
    "reverse_kl": lambda p, q: _sum(lambda a, b: 0.0 if b == 0 else (math.inf if a == 0 else b * math.log(b / a)), p, q),
    "jeffreys": lambda p, q: DIRECT["kl"](p, q) + DIRECT["kl"](q, p),
    "tv": lambda p, q: 0.5 * _sum(lambda a, b: abs(a - b), p, q),
    "hellinger": lambda p, q: 1.0 - _sum(lambda a, b: math.sqrt(a * b), p, q),
    "pearson": lambda p, q: _sum(lambda a, b: 0.0 if a == b == 0 else (math.inf if b == 0 else (a - b) ** 2 / b), p, q),
    "neyman": lambda p, q: _sum(lambda a, b: 0.0 if a == b == 0 else (math.inf if a == 0 else (a - b) ** 2 / a), p, q),
    "triangular": lambda p, q: _sum(lambda a, b: 0.0 if a + b == 0 else (a - b) ** 2 / (a + b), p, q),
    "cross_entropy": lambda p, q: -_sum(lambda a, b: _xlogy(a, b) if not (a > 0 and b == 0) else -math.inf, p, q),
}


def _js(p, q, beta):
    m = [beta * a + (1 - beta) * b for a, b in zip(p, q)]
    return beta * DIRECT["kl"](p, m) + (1 - beta) * DIRECT["kl"](q, m)


def _alpha(p, q, al):
    s = _sum(lambda a, b: (a**al) * (b ** (1 - al)) if (a > 0 and b > 0) else (0.0 if (a == 0 and al > 0) or (b == 0 and al < 1) else math.inf), p, q)
    return (s - 1) / (al * (al - 1))


def _renyi(p, q, al):
    s = _sum(lambda a, b: 0.0 if a == 0 else (a**al) * (b ** (1 - al)) if b > 0 else (0.0 if al < 1 else math.inf), p, q)
    return math.log(s) / (al - 1)


@pytest.mark.parametrize("zeros", [0.0, 0.25])
@pytest.mark.parametrize("name", sorted(DIRECT))
def test_against_direct_definition(rng, name, zeros):
    for _ in range(5):
        p = random_simplex(rng, (9,), zeros)
        q = random_simplex(rng, (9,), zeros)
        want = DIRECT[name](p, q)
        got = float(dv.divergence(name, p, q))
        if math.isinf(want):
            assert got == want
        else:
            assert got == pytest.approx(want, rel=1e-11, abs=1e-14)


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9])
def test_js_beta(rng, beta):
    p, q = random_simplex(rng, (11,), 0.2), random_simplex(rng, (11,), 0.2)
    assert float(dv.js(p, q, beta=beta)) == pytest.approx(_js(p, q, beta), rel=1e-11, abs=1e-15)


@pytest.mark.parametrize("al", [-0.5, 0.3, 0.5, 2.0, 3.5])
def test_alpha(rng, al):
    p, q = random_simplex(rng, (11,)), random_simplex(rng, (11,))
    assert float(dv.alpha(p, q, alpha=al)) == pytest.approx(_alpha(p, q, al), rel=1e-10)


@pytest.mark.parametrize("al", [0.0, 0.5, 2.0, 7.0])
def test_renyi(rng, al):
    p, q = random_simplex(rng, (11,), 0.3), random_simplex(rng, (11,))
    if al == 0.0:
        want = -math.log(math.fsum(b for a, b in zip(p, q) if a > 0))
    else:
        want = _renyi(p, q, al)
    assert float(dv.renyi(p, q, alpha=al)) == pytest.approx(want, rel=1e-10, abs=1e-15)


def test_renyi_infinity(rng):
    p, q = random_simplex(rng, (11,), 0.3), random_simplex(rng, (11,))
    want = max(math.log(a / b) for a, b in zip(p, q) if a > 0)
    assert float(dv.renyi(p, q, alpha=math.inf)) == pytest.approx(want, rel=1e-12)
    assert float(dv.renyi([0.5, 0.5], [1.0, 0.0], alpha=math.inf)) == math.inf


@pytest.mark.parametrize("skew", [0.0, 0.1, 0.5, 1.0])
def test_skew_kls(rng, skew):
    p, q = random_simplex(rng, (11,), 0.2), random_simplex(rng, (11,), 0.2)
    mix = [skew * a + (1 - skew) * b for a, b in zip(p, q)]
    assert float(dv.skew_kl(p, q, skew=skew)) == pytest.approx(DIRECT["kl"](p, mix), rel=1e-11, abs=1e-15)
    mix_r = [(1 - skew) * a + skew * b for a, b in zip(p, q)]
    got = float(dv.skew_reverse_kl(p, q, skew=skew))
    want = DIRECT["kl"](q, mix_r)
    assert got == want if math.isinf(want) else got == pytest.approx(want, rel=1e-11, abs=1e-15)


def test_bhattacharyya_and_cauchy_schwarz(rng):
    p, q = random_simplex(rng, (11,), 0.2), random_simplex(rng, (11,), 0.2)
    bc = math.fsum(math.sqrt(a * b) for a, b in zip(p, q))
    assert float(dv.bhattacharyya(p, q)) == pytest.approx(-math.log(bc), rel=1e-11)
    cs = -math.log(math.fsum(a * b for a, b in zip(p, q)) ** 2 / (math.fsum(a * a for a in p) * math.fsum(b * b for b in q)))
    assert float(dv.cauchy_schwarz(p, q)) == pytest.approx(cs, rel=1e-10)
    assert float(dv.bhattacharyya([1.0, 0.0], [0.0, 1.0])) == math.inf
    assert float(dv.cauchy_schwarz([1.0, 0.0], [0.0, 1.0])) == math.inf


def test_scales_documented():
    """Scales of the distance-like divergences on disjoint supports."""
    p, q = [1.0, 0.0], [0.0, 1.0]
    assert float(dv.tv(p, q)) == 1.0
    assert float(dv.hellinger(p, q)) == 1.0
    assert float(dv.hellinger_distance(p, q)) == 1.0
    assert float(dv.js(p, q)) == pytest.approx(math.log(2), rel=1e-15)
    assert float(dv.js(p, q, base=2)) == pytest.approx(1.0, rel=1e-15)
    assert float(dv.triangular(p, q)) == 2.0
    assert float(dv.jeffreys(p, q)) == math.inf


def test_fast_and_exact_paths_agree_with_zeros_broadcasting_and_axes(rng):
    p = random_simplex(rng, (7, 2000), 0.4)
    q = random_simplex(rng, (7, 2000), 0.1)
    for name in ("kl", "js", "cross_entropy"):
        gen = dv.core.terms.Generator(dv.get(name).generator().f) if name != "cross_entropy" else None
        fast = dv.divergence(name, p, q)
        exact = np.array([sum(DIRECT.get(name, lambda a, b: _js(a, b, 0.5))(p[i], q[i]) for _ in [0]) for i in range(7)])
        np.testing.assert_allclose(fast, exact, rtol=1e-10)
        if gen is not None:
            np.testing.assert_allclose(dv.f_divergence(p, q, gen), exact, rtol=1e-9)
    # axis=0 and broadcasting a single q against many p
    np.testing.assert_allclose(dv.kl(p.T, q.T, axis=0), dv.kl(p, q), rtol=1e-14)
    np.testing.assert_allclose(dv.js(p, q[0]), [dv.js(p[i], q[0]) for i in range(7)], rtol=1e-13)
    assert dv.kl(p, q, keepdims=True).shape == (7, 1)
    assert dv.kl(p.reshape(7, 1, 2000), q.reshape(1, 7, 2000)).shape == (7, 7)
