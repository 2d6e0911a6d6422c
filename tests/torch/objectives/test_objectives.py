"""Seed-paper objectives against direct definitions and peer libraries (SciPy, dcor), gradcheck."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import divergences as dv  # noqa: E402
from divergences.samples import cauchy_schwarz, sinkhorn  # noqa: E402
from divergences.torch.objectives import (  # noqa: E402
    HarmonicHead,
    ccdcov,
    conditional_cs_divergence,
    cs_divergence_loss,
    distance_correlation,
    distance_covariance,
    harmonic_distances,
    harmonic_logits,
    harmonic_loss,
    jdcov,
    monge_gap,
    plackett_luce_distillation_loss,
    soft_infonce_loss,
)

F = torch.nn.functional


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


# -- Cauchy–Schwarz ----------------------------------------------------------------------------


def test_cs_loss_matches_registry_and_is_stable():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 7)), rng.normal(size=(4, 7))
    pa, pb = F.softmax(_t(a), -1).numpy(), F.softmax(_t(b), -1).numpy()
    want = np.array([float(dv.divergence("cauchy_schwarz", pa[i], pb[i])) for i in range(4)])
    got = cs_divergence_loss(_t(a), _t(b), reduction="none")
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)
    assert float(cs_divergence_loss(_t(pa), _t(pb), from_logits=False)) == pytest.approx(want.mean(), rel=1e-10)
    za, zb = _t(a * 1e4, True), _t(b)
    value = cs_divergence_loss(za, zb)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(za.grad).all()
    assert torch.autograd.gradcheck(lambda u, v: cs_divergence_loss(u, v), (_t(a, True), _t(b, True)))
    masked = _t([[0.0, -np.inf, 1.0]], True)
    assert torch.isfinite(cs_divergence_loss(masked, _t([[0.0, 0.0, 0.0]])))
    with pytest.raises(ValueError, match="input"):
        cs_divergence_loss(_t([[np.nan, 0.0]]), _t([[0.0, 0.0]]))
    with pytest.raises(ValueError, match="reduction"):
        cs_divergence_loss(_t(a), _t(b), reduction="avg")


def test_conditional_cs_reduces_to_sample_cs_and_zero():
    rng = np.random.default_rng(1)
    y, yhat = rng.normal(size=(30, 2)), rng.normal(0.3, 1.0, size=(30, 2))
    const_x = np.zeros((30, 1))
    got = conditional_cs_divergence(_t(const_x), _t(y), _t(yhat), sigma_y=0.8)
    assert float(got) == pytest.approx(cauchy_schwarz(y, yhat, bandwidth=0.8), rel=1e-10)
    x = rng.normal(size=(30, 3))
    assert float(conditional_cs_divergence(_t(x), _t(y), _t(y))) == pytest.approx(0.0, abs=1e-12)
    xs, ys, yh = _t(x[:8]), _t(y[:8]), _t(yhat[:8], True)
    assert torch.autograd.gradcheck(lambda u: conditional_cs_divergence(xs, ys, u, sigma_x=1.5), (yh,))
    with pytest.raises(ValueError, match="sigma_x"):
        conditional_cs_divergence(xs, ys, yh, sigma_x=0)


# -- Monge gap --------------------------------------------------------------------------------


@pytest.mark.slow
def test_monge_gap_definition_and_properties():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(25, 2))
    eps = 0.2
    # a rotation by 90° is not optimal for ‖·‖²: a clearly positive gap
    rot = x @ np.array([[0.0, -1.0], [1.0, 0.0]])
    gap = monge_gap(_t(x), _t(rot), epsilon=eps)
    direct = np.mean(np.sum((x - rot) ** 2, 1)) - sinkhorn(x, rot, epsilon=eps, debiased=False)
    assert float(gap) == pytest.approx(direct, rel=1e-8)
    assert float(gap) > 0.5
    # the identity is optimal: the gap lies in [−ε log n, 0] (the entropy of its own coupling)
    same = monge_gap(_t(x), _t(x), epsilon=eps)
    assert -eps * np.log(len(x)) - 1e-9 <= float(same) <= 1e-9
    txt = _t(rot, True)
    (monge_gap(_t(x), txt, epsilon=eps) + sinkhorn(txt, _t(x + 2.0), epsilon=eps)).backward()
    assert torch.isfinite(txt.grad).all()
    small = _t(x[:5])
    assert torch.autograd.gradcheck(lambda t: monge_gap(small, t, epsilon=0.5, tol=1e-12, max_iter=100_000),
                                    (_t(rot[:5], True),), atol=1e-6, fast_mode=True)
    with pytest.raises(ValueError, match="tx"):
        monge_gap(_t(x), _t(x[:3]), epsilon=eps)


# -- Plackett–Luce distillation ---------------------------------------------------------------


def _pld_direct(s, t, y):
    total = 0.0
    for i in range(len(y)):
        others = sorted((k for k in range(s.shape[1]) if k != y[i]), key=lambda k: -t[i, k])
        perm = [y[i], *others]
        w = np.exp(t[i] - t[i].max())
        w /= w.sum()
        for k, c in enumerate(perm):
            rest = s[i, perm[k:]]
            total += w[c] * (np.log(np.exp(rest - rest.max()).sum()) + rest.max() - s[i, c])
    return total / len(y)


def test_pld_against_direct_definition():
    rng = np.random.default_rng(3)
    s, t = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    y = np.array([0, 3, 5, 2, 2])
    got = plackett_luce_distillation_loss(_t(s), _t(t), torch.tensor(y))
    assert float(got) == pytest.approx(_pld_direct(s, t, y), rel=1e-10)
    got2 = plackett_luce_distillation_loss(_t(s), _t(t), torch.tensor([0, 3, -100, 2, 2]))
    keep = [0, 1, 3, 4]
    assert float(got2) == pytest.approx(_pld_direct(s[keep], t[keep], y[keep]), rel=1e-10)
    assert torch.autograd.gradcheck(lambda u: plackett_luce_distillation_loss(u, _t(t), torch.tensor(y)),
                                    (_t(s, True),))
    big = _t(s * 1e4, True)
    plackett_luce_distillation_loss(big, _t(t), torch.tensor(y)).backward()
    assert torch.isfinite(big.grad).all()
    with pytest.raises(ValueError, match="labels"):
        plackett_luce_distillation_loss(_t(s), _t(t), torch.tensor([0, 1, 2, 3, 9]))


# -- Soft-InfoNCE -----------------------------------------------------------------------------


def test_soft_infonce_unit_weights_is_infonce_and_direct():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(4, 6))
    st = _t(scores)
    ref = F.cross_entropy(st / 0.1, torch.arange(4))
    assert float(soft_infonce_loss(st, temperature=0.1)) == pytest.approx(float(ref), rel=1e-12)
    assert float(soft_infonce_loss(st, np.ones((4, 6)), temperature=0.1)) == pytest.approx(float(ref), rel=1e-12)
    w = rng.random((4, 6))
    targets = torch.tensor([1, 0, 5, 3])
    s = scores / 0.5
    direct = 0.0
    for i, yi in enumerate(targets.tolist()):
        neg = sum(w[i, j] * np.exp(s[i, j]) for j in range(6) if j != yi)
        direct += -np.log(np.exp(s[i, yi]) / (np.exp(s[i, yi]) + neg))
    got = soft_infonce_loss(st, _t(w), targets=targets, temperature=0.5)
    assert float(got) == pytest.approx(direct / 4, rel=1e-10)
    wn = soft_infonce_loss(st, _t(w * 7.0), targets=targets, normalize=True)
    w_norm = soft_infonce_loss(st, _t(w), targets=targets, normalize=True)
    assert float(wn) == pytest.approx(float(w_norm), rel=1e-12)
    assert torch.autograd.gradcheck(lambda u: soft_infonce_loss(u, _t(w)), (_t(scores, True),))
    with pytest.raises(ValueError, match="weights"):
        soft_infonce_loss(st, -_t(w))
    with pytest.raises(ValueError, match="temperature"):
        soft_infonce_loss(st, temperature=0)


# -- harmonic heads ---------------------------------------------------------------------------


def test_harmonic_probabilities_of_the_paper():
    p = harmonic_logits(_t([[1.0, 2.0, 4.0]]), 2).softmax(-1)
    np.testing.assert_allclose(p.numpy()[0], [0.7619, 0.1905, 0.0476], atol=5e-5)
    loss = harmonic_loss(_t([[1.0, 2.0, 4.0]]), torch.tensor([0]), 2)
    assert float(loss) == pytest.approx(-np.log(16 / 21), rel=1e-12)


@pytest.mark.parametrize("name,scipy_name,kw", [
    ("euclidean", "euclidean", {}), ("manhattan", "cityblock", {}), ("cosine", "cosine", {}),
    ("minkowski", "minkowski", {"p": 3.0}), ("chebyshev", "chebyshev", {}), ("canberra", "canberra", {}),
    ("braycurtis", "braycurtis", {}), ("mahalanobis", "mahalanobis", {}),
])
def test_harmonic_distances_against_scipy(name, scipy_name, kw):
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(5)
    x, w = rng.normal(size=(6, 4)), rng.normal(size=(3, 4))
    x[0, 1] = w[0, 1] = 0.0  # a 0/0 Canberra term
    extra = {}
    if name == "mahalanobis":
        a = rng.normal(size=(4, 4))
        vi = a @ a.T + np.eye(4)
        extra = {"vi": _t(vi)}
        ref = cdist(x, w, "mahalanobis", VI=vi)
    else:
        ref = cdist(x, w, scipy_name, **kw)
    got = harmonic_distances(_t(x), _t(w), name, **kw, **extra)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10)
    xt = _t(x, True)
    assert torch.autograd.gradcheck(lambda u: harmonic_distances(u, _t(w), name, **kw, **extra), (xt,))


@pytest.mark.slow
def test_harmonic_head_trains_and_handles_zero_distance():
    torch.manual_seed(0)
    head = HarmonicHead(3, 4, distance="euclidean", dtype=torch.float64)
    x = head.weight.detach()[:2].clone()  # exactly on two centres: distance 0
    logits = head(x)
    assert torch.isfinite(logits).all()
    np.testing.assert_allclose(logits.softmax(-1).diagonal().detach().numpy(), [1.0, 1.0])
    rng = np.random.default_rng(6)
    centres = rng.normal(size=(4, 3)) * 3
    y = rng.integers(0, 4, 200)
    data = _t(centres[y] + rng.normal(size=(200, 3)) * 0.3)
    for dist in ("euclidean", "manhattan", "cosine"):
        model = HarmonicHead(3, 4, distance=dist, dtype=torch.float64)
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(400):
            opt.zero_grad()
            loss = F.cross_entropy(model(data), torch.tensor(y))
            loss.backward()
            opt.step()
        accuracy = (model(data).argmax(-1).numpy() == y).mean()
        assert accuracy > 0.9, dist
    maha = HarmonicHead(3, 4, distance="mahalanobis", n=2.0, dtype=torch.float64)
    with torch.no_grad():
        maha.factor.copy_(_t(rng.normal(size=(3, 3))))
    vi = (maha.factor @ maha.factor.T).detach()
    want = harmonic_logits(harmonic_distances(data[:5], maha.weight.detach(), "mahalanobis", vi=vi), 2.0)
    torch.testing.assert_close(maha(data[:5]).detach(), want)
    with pytest.raises(ValueError, match="distance"):
        HarmonicHead(3, 4, distance="hamming")


# -- distance covariance ------------------------------------------------------------------------


@pytest.mark.slow  # importing dcor compiles numba code
def test_dcov_dcor_against_dcor():
    dcor = pytest.importorskip("dcor")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, 2))
    y = np.c_[x[:, 0] ** 2 + 0.3 * rng.normal(size=40), rng.normal(size=40)]
    assert float(distance_covariance(_t(x), _t(y))) == pytest.approx(dcor.distance_covariance_sqr(x, y), rel=1e-10)
    assert float(distance_covariance(_t(x), _t(y), squared=False)) == pytest.approx(dcor.distance_covariance(x, y), rel=1e-10)
    assert float(distance_covariance(_t(x), _t(y), unbiased=True)) == pytest.approx(
        dcor.u_distance_covariance_sqr(x, y), rel=1e-10)
    assert float(distance_correlation(_t(x), _t(y))) == pytest.approx(dcor.distance_correlation(x, y), rel=1e-10)
    # dcor's documented example
    a = np.array([[1.0, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]])
    b = np.array([[1.0], [0], [0], [1]])
    assert float(distance_correlation(_t(a), _t(a))) == pytest.approx(dcor.distance_correlation(a, a))
    assert float(distance_covariance(_t(a), _t(b))) == pytest.approx(dcor.distance_covariance_sqr(a, b))
    assert float(distance_correlation(_t(a), _t(b))) == pytest.approx(dcor.distance_correlation(a, b))
    xt = _t(x[:10], True)
    assert torch.autograd.gradcheck(lambda u: distance_covariance(u, _t(y[:10])), (xt,))
    assert torch.autograd.gradcheck(lambda u: distance_correlation(u, _t(y[:10])), (xt,))
    dup = _t(np.r_[x[:3], x[:3]], True)
    value = distance_correlation(dup, _t(y[:6]))
    (g,) = torch.autograd.grad(value, dup)
    assert torch.isfinite(g).all()
    assert float(distance_correlation(_t(np.ones((5, 1))), _t(y[:5]))) == 0.0


def _jdcov_direct(vs, c, standardize):
    """Σ over subsets S (|S| ≥ 2) of c^{d−|S|} mean(Π_{i∈S} U_i), U_i = −A_i (independent expansion)."""
    us = []
    for v in vs:
        v = v.reshape(len(v), -1)
        a = np.sqrt(((v[:, None] - v[None]) ** 2).sum(-1))
        A = a - a.mean(0) - a.mean(1)[:, None] + a.mean()
        u = -A
        if standardize:
            u = u / np.sqrt((u * u).mean())
        us.append(u)
    d = len(us)
    total = 0.0
    for size in range(2, d + 1):
        for subset in itertools.combinations(range(d), size):
            total += c ** (d - size) * np.mean(np.prod([us[i] for i in subset], axis=0))
    return total


def test_jdcov_and_ccdcov():
    dcor = pytest.importorskip("dcor")
    rng = np.random.default_rng(8)
    x1, x2, x3 = rng.normal(size=30), rng.normal(size=(30, 2)), rng.normal(size=30)
    x3 = x3 + x1 * x2[:, 0]
    assert float(jdcov(_t(x1), _t(x2), standardize=False)) == pytest.approx(dcor.distance_covariance_sqr(x1, x2), rel=1e-10)
    for c, st in [(1.0, True), (0.5, False), (2.0, True)]:
        got = jdcov(_t(x1), _t(x2), _t(x3), c=c, standardize=st)
        assert float(got) == pytest.approx(_jdcov_direct([x1, x2, x3], c, st), rel=1e-9)
    # standardised JdCov is unit-free
    assert float(jdcov(_t(x1 * 1e3), _t(x2), _t(x3))) == pytest.approx(float(jdcov(_t(x1), _t(x2), _t(x3))), rel=1e-9)
    z = rng.normal(size=(30, 3))
    s1, s2 = rng.normal(size=30), rng.integers(0, 2, 30).astype(float)
    st = [s / s.std(ddof=1) for s in (s1, s2)]
    assert float(ccdcov(_t(z), _t(s1), _t(s2))) == pytest.approx(
        dcor.distance_covariance_sqr(z, np.c_[st[0], st[1]]), rel=1e-10)
    zt = _t(z[:8], True)
    assert torch.autograd.gradcheck(lambda u: jdcov(u, _t(x1[:8]), _t(x3[:8])), (zt,))
    with pytest.raises(ValueError, match="at least two"):
        jdcov(_t(x1))
    with pytest.raises(ValueError, match="rows"):
        distance_covariance(_t(x1), _t(x1[:5]))
    with pytest.raises(ValueError, match="c must"):
        jdcov(_t(x1), _t(x3), c=-1)
    with pytest.raises(ValueError, match="standardize"):
        jdcov(_t(x1), _t(x3), standardize="yes")
    with pytest.raises(ValueError, match="squared"):
        distance_covariance(_t(x1), _t(x3), squared=1)


def test_numbers_given_as_strings_are_refused_not_converted():
    """Issue 10: a keyword such as ``n="2"`` is a ValueError naming it, never silently float("2")."""
    d = torch.tensor([[1.0, 2.0, 4.0]])
    with pytest.raises(ValueError, match="n must be a real number"):
        harmonic_logits(d, "2")
    with pytest.raises(ValueError, match="eps"):
        harmonic_logits(d, 2.0, eps="1e-12")
    with pytest.raises(ValueError, match="c must be a real number"):
        jdcov(torch.randn(5, 1), torch.randn(5, 1), c="1")
    assert torch.allclose(harmonic_logits(d, 2.0), -2.0 * torch.log(d))  # the number itself still works
