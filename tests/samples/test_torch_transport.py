"""Torch optimal transport: values against NumPy, POT, SciPy and GeomLoss on the same inputs;
gradients by gradcheck (float64), finite differences and the plan; batches, weights, bad input."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ot = pytest.importorskip("ot")

from divergences.samples import (  # noqa: E402
    SinkhornConvergenceError,
    SinkhornConvergenceWarning,
    sinkhorn,
    sliced_wasserstein,
    wasserstein,
)


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


@pytest.fixture
def clouds():
    rng = np.random.default_rng(11)
    return rng.normal(size=(40, 2)), rng.normal(0.7, 1.1, size=(31, 2))


def test_wasserstein_1d_against_scipy_and_pot_with_weights():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(0)
    u, v = rng.normal(size=25), rng.normal(1, 2, size=18)
    a, b = rng.random(25), rng.random(18)
    assert float(wasserstein(_t(u), _t(v), weights=(a, b))) == pytest.approx(wasserstein_distance(u, v, a, b), rel=1e-12)
    for p in (2, 3):
        ref = float(ot.wasserstein_1d(u, v, a / a.sum(), b / b.sum(), p=p)) ** (1 / p)
        assert float(wasserstein(_t(u), _t(v), p=p, weights=(a, b))) == pytest.approx(ref, rel=1e-10)


def test_wasserstein_gradients():
    rng = np.random.default_rng(1)
    u, v = _t(rng.normal(size=9), True), _t(rng.normal(size=7), True)
    a = _t(rng.random(9) + 0.1, True)
    assert torch.autograd.gradcheck(lambda s, t, w: wasserstein(s, t, p=2, weights=(w, None)), (u, v, a))
    x, y = _t(rng.normal(size=(8, 3)), True), _t(rng.normal(size=(6, 3)), True)
    assert float(wasserstein(x, y, p=2).detach()) == pytest.approx(wasserstein(x.detach().numpy(), y.detach().numpy(), p=2))
    assert torch.autograd.gradcheck(lambda s, t: wasserstein(s, t, p=2), (x, y))
    # identical samples: zero with a zero subgradient, never NaN
    z = _t(rng.normal(size=5), True)
    value = wasserstein(z, z.detach(), p=2)
    (g,) = torch.autograd.grad(value, z)
    assert float(value.detach()) == 0.0 and torch.isfinite(g).all()


def test_sliced_against_pot_same_projections(clouds):
    x, y = clouds
    rng = np.random.default_rng(2)
    theta = rng.normal(size=(2, 20))
    theta /= np.linalg.norm(theta, axis=0)
    a, b = rng.random(len(x)), rng.random(len(y))
    ref = ot.sliced_wasserstein_distance(x, y, a / a.sum(), b / b.sum(), p=2, projections=theta)
    assert sliced_wasserstein(x, y, weights=(a, b), projections=theta) == pytest.approx(ref, rel=1e-12)
    ours = sliced_wasserstein(_t(x), _t(y), weights=(a, b), projections=theta)
    assert float(ours) == pytest.approx(ref, rel=1e-10)
    # the seeded directions are the same on both paths
    assert float(sliced_wasserstein(_t(x), _t(y), seed=5)) == pytest.approx(sliced_wasserstein(x, y, seed=5), rel=1e-10)
    xs, ys = _t(x[:10], True), _t(y[:8], True)
    assert torch.autograd.gradcheck(lambda s, t: sliced_wasserstein(s, t, projections=theta), (xs, ys))


@pytest.mark.slow
@pytest.mark.parametrize("block", [7, 2048])
@pytest.mark.parametrize("debiased", [True, False])
def test_sinkhorn_torch_equals_numpy(clouds, block, debiased):
    x, y = clouds
    rng = np.random.default_rng(3)
    a, b = rng.random(len(x)) + 0.1, rng.random(len(y)) + 0.1
    for p in (1, 2):
        want = sinkhorn(x, y, epsilon=0.3, p=p, debiased=debiased, weights=(a, b), tol=1e-10)
        got = sinkhorn(_t(x), _t(y), epsilon=0.3, p=p, debiased=debiased, weights=(a, b), tol=1e-10, block=block)
        assert float(got) == pytest.approx(want, rel=1e-8)


def test_sinkhorn_against_pot_entropic_value(clouds):
    """POT's ot.sinkhorn2 returns ⟨π, C⟩; add ε KL(π‖a⊗b) from its plan to get the entropic value."""
    x, y = clouds
    eps = 0.3
    cost = ot.dist(x, y)
    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    plan = ot.sinkhorn(a, b, cost, eps, method="sinkhorn_log", stopThr=1e-13, numItermax=100_000)
    mask = plan > 0
    value = (plan * cost).sum() + eps * (plan[mask] * np.log(plan[mask] / np.outer(a, b)[mask])).sum()
    got = sinkhorn(_t(x), _t(y), epsilon=eps, debiased=False, tol=1e-11)
    assert float(got) == pytest.approx(value, rel=1e-8)


def test_sinkhorn_against_geomloss(clouds):
    """GeomLoss: cost ‖x−y‖²/2 and ε = blur², so its S_ε is half of ours at ε = 2·blur²."""
    geomloss = pytest.importorskip("geomloss")
    x, y = _t(clouds[0]), _t(clouds[1])
    blur = 0.5
    ref = geomloss.SamplesLoss("sinkhorn", p=2, blur=blur, scaling=0.999, backend="tensorized")(x, y)
    ours = sinkhorn(x, y, epsilon=2 * blur**2, tol=1e-10)
    assert float(ours) / 2 == pytest.approx(float(ref), rel=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("block", [3, 2048])
def test_sinkhorn_gradcheck_envelope(block):
    rng = np.random.default_rng(4)
    x, y = _t(rng.normal(size=(5, 2)), True), _t(rng.normal(size=(4, 2)), True)
    a = _t(rng.random(5) + 0.2, True)
    kw = dict(epsilon=0.5, tol=1e-13, max_iter=100_000, block=block)
    assert torch.autograd.gradcheck(lambda s, t, w: sinkhorn(s, t, weights=(w, None), **kw), (x, y, a), atol=1e-6)
    assert torch.autograd.gradcheck(lambda s, t: sinkhorn(s, t, p=1, debiased=False, **kw), (x, y), atol=1e-6)


def test_sinkhorn_gradient_is_the_plan_barycentric_map(clouds):
    """∇_{x_i} OT_ε = Σ_j π_ij ∇C_ij = 2 a_i (x_i − Σ_j π_ij y_j / a_i) for C = ‖x−y‖² (POT's plan)."""
    x, y = clouds
    eps = 0.4
    xt = _t(x, True)
    sinkhorn(xt, _t(y), epsilon=eps, debiased=False, tol=1e-12).backward()
    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    plan = ot.sinkhorn(a, b, ot.dist(x, y), eps, method="sinkhorn_log", stopThr=1e-14, numItermax=100_000)
    want = 2 * (a[:, None] * x - plan @ y)
    np.testing.assert_allclose(xt.grad.numpy(), want, atol=1e-9)


def test_sinkhorn_batched_equals_loop():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(3, 12, 2)), rng.normal(size=(3, 9, 2))
    got = sinkhorn(_t(x), _t(y), epsilon=0.1)
    assert got.shape == (3,)
    for k in range(3):
        assert float(got[k]) == pytest.approx(float(sinkhorn(_t(x[k]), _t(y[k]), epsilon=0.1)), rel=1e-7)
    # one side broadcast over the batch
    got = sinkhorn(_t(x[0]), _t(y), epsilon=0.1)
    assert float(got[2]) == pytest.approx(float(sinkhorn(_t(x[0]), _t(y[2]), epsilon=0.1)), rel=1e-7)


@pytest.mark.slow
def test_small_epsilon_converges_and_tends_to_w2():
    """The issue's case, 200 points at ε = 0.05 (had not converged after 20 000 iterations), now
    converges with the defaults; ε = 0.01 converges to tol = 1e-4 within the default max_iter (not
    always to the default 1e-6: there Sinkhorn is in its sublinear phase, and says so). Fewer points
    are harder: 80 of these points need 16 000 iterations at ε = 0.1 for 1e-6 (25 000 without
    over-relaxation)."""
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 0.5
    exact = wasserstein(x, y, p=2) ** 2
    assert sinkhorn(x, y, epsilon=0.05) == pytest.approx(exact, rel=0.1)
    assert sinkhorn(x, y, epsilon=0.01, tol=1e-4) == pytest.approx(exact, rel=0.03)
    assert float(sinkhorn(_t(x[:80]), _t(y[:80]), epsilon=0.5)) == pytest.approx(
        sinkhorn(x[:80], y[:80], epsilon=0.5), rel=1e-6)


def test_non_convergence_is_loud_and_states_the_error(clouds):
    x, y = _t(clouds[0]), _t(clouds[1])
    with pytest.raises(SinkhornConvergenceError, match="marginal error .* after 3 iterations"):
        sinkhorn(x, y, epsilon=1e-3, max_iter=3)
    with pytest.warns(SinkhornConvergenceWarning, match="marginal error"):
        value = sinkhorn(x, y, epsilon=1e-3, max_iter=3, on_failure="warn")
    assert torch.isfinite(value)


def test_identical_and_duplicated_points():
    x = _t([[0.0, 0.0], [0.0, 0.0], [1.0, 2.0]], True)
    value = sinkhorn(x, x, epsilon=0.1)
    (g,) = torch.autograd.grad(value, x)
    assert abs(float(value.detach())) < 1e-12 and torch.isfinite(g).all()
    assert float(sliced_wasserstein(x, x)) == 0.0
    assert torch.isfinite(torch.autograd.grad(sliced_wasserstein(x, x.detach() + 0.0), x)[0]).all()


def test_huge_scale_is_finite(clouds):
    x, y = clouds
    base = sinkhorn(x, y, epsilon=0.3)
    got = sinkhorn(_t(x * 1e150), _t(y * 1e150), epsilon=0.3 * 1e300)
    assert float(got) == pytest.approx(base * 1e300, rel=1e-6)


@pytest.mark.parametrize("as_t", [False, True])
def test_bad_input_names_argument(clouds, as_t):
    x, y = (_t(a) if as_t else a for a in clouds)
    for kwargs, name in [(dict(epsilon=None), "epsilon"), (dict(epsilon=float("nan")), "epsilon"),
                         (dict(epsilon=0.0), "epsilon"), (dict(epsilon=0.1, scaling="fast"), "scaling"),
                         (dict(epsilon=0.1, max_iter=0), "max_iter"), (dict(epsilon=0.1, tol=-1.0), "tol"),
                         (dict(epsilon=0.1, on_failure="ignore"), "on_failure"), (dict(epsilon=0.1, p=0.5), "p"),
                         (dict(epsilon=0.1, debiased="yes"), "debiased"), (dict(epsilon=0.1, block=0), "block"),
                         (dict(epsilon=0.1, weights=(np.ones(3), None)), "weights")]:
        with pytest.raises(ValueError, match=name):
            sinkhorn(x, y, **kwargs)
    with pytest.raises(ValueError, match="dimension"):
        sinkhorn(x, y[:, :1], epsilon=0.1)
    with pytest.raises(ValueError, match="n_projections"):
        sliced_wasserstein(x, y, n_projections=0)
    with pytest.raises(ValueError, match="projections"):
        sliced_wasserstein(x, y, projections=np.ones((3, 4)))


def test_keywords_refuse_strings_and_none():
    """Issue 10: every public keyword is checked; strings are not silently converted."""
    from divergences.samples import histogram, mmd

    x, y = np.arange(10.0), np.arange(10.0) + 0.5
    for call, name in [(lambda: wasserstein(x, y, p="2"), "p"), (lambda: sinkhorn(x, y, epsilon="0.1"), "epsilon"),
                       (lambda: sinkhorn(x, y, epsilon=0.1, tol="1e-6"), "tol"),
                       (lambda: mmd(x, y, bandwidth=True), "bandwidth"), (lambda: mmd(x, y, bandwidth=["1"]), "bandwidth"),
                       (lambda: histogram(x, y, divergence=None), "divergence")]:
        with pytest.raises(ValueError, match=name):
            call()
