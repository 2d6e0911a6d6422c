"""Torch (autograd) paths of mmd / energy / cauchy_schwarz: against NumPy, direct definitions,
SciPy, GeomLoss and dcor; gradients by gradcheck and finite differences; bad input; huge scales."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from divergences.samples import cauchy_schwarz, energy, median_bandwidth, mmd  # noqa: E402


@pytest.fixture
def xy():
    rng = np.random.default_rng(3)
    return rng.normal(size=(70, 3)), rng.normal(0.4, 1.2, size=(55, 3))


def _direct_mmd(x, y, kernel, sigmas, unbiased):
    def gram(a, b):
        d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
        if kernel == "rbf":
            return sum(np.exp(-(d**2) / (2 * s * s)) for s in sigmas)
        if kernel == "laplacian":
            return sum(np.exp(-d / s) for s in sigmas)
        return sum((1 + (d / s) ** 2) ** -0.5 for s in sigmas)

    kxx, kyy, kxy = gram(x, x), gram(y, y), gram(x, y)
    n, m = len(x), len(y)
    if unbiased:
        return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                - 2 * kxy.mean())
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


@pytest.mark.parametrize("kernel", ["rbf", "laplacian", "imq"])
@pytest.mark.parametrize("unbiased", [True, False])
@pytest.mark.parametrize("block", [16, 2048])
def test_mmd_torch_matches_direct_and_numpy(xy, kernel, unbiased, block):
    x, y = xy
    sig = [0.7, 2.5]
    want = _direct_mmd(x, y, kernel, sig, unbiased)
    got = mmd(torch.tensor(x), torch.tensor(y), kernel=kernel, bandwidth=sig, unbiased=unbiased, block=block)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    assert float(got) == pytest.approx(want, rel=1e-10, abs=1e-13)
    assert mmd(x, y, kernel=kernel, bandwidth=sig, unbiased=unbiased, block=block) == pytest.approx(want, rel=1e-10)


def test_mmd_against_geomloss_kernel_losses(xy):
    """GeomLoss's kernel losses are half the biased MMD²; its distances are √max(d², 1e-8) (in units
    of the blur), so each diagonal pair has distance 1e-4 instead of 0: corrected for exactly here."""
    geomloss = pytest.importorskip("geomloss")
    x, y = (torch.tensor(a) for a in xy)
    n, m = len(x), len(y)
    ref = geomloss.SamplesLoss("gaussian", blur=1.3, backend="tensorized")(x, y)
    assert float(mmd(x, y, kernel="gaussian", bandwidth=1.3, unbiased=False)) / 2 == pytest.approx(float(ref), rel=1e-9)
    ref = geomloss.SamplesLoss("laplacian", blur=1.3, backend="tensorized")(x, y)
    diagonal = 0.5 * np.expm1(-1e-4) * (1 / n + 1 / m)
    ours = float(mmd(x, y, kernel="laplacian", bandwidth=1.3, unbiased=False)) / 2 + diagonal
    assert ours == pytest.approx(float(ref), rel=1e-9)
    ref = geomloss.SamplesLoss("energy", backend="tensorized")(x, y)
    ours = float(energy(x, y)) ** 2 / 2 - 0.5 * 1e-4 * (1 / n + 1 / m)
    assert ours == pytest.approx(float(ref), rel=1e-9)


def test_energy_torch_against_scipy_with_weights():
    from scipy.stats import energy_distance

    rng = np.random.default_rng(4)
    a, b = rng.normal(size=40), rng.normal(0.5, 2, size=33)
    u, v = rng.random(40), rng.random(33)
    want = energy_distance(a, b, u, v)
    assert float(energy(torch.tensor(a), torch.tensor(b), weights=(torch.tensor(u), v))) == pytest.approx(want, rel=1e-10)
    assert float(energy(torch.tensor(a), torch.tensor(b), weights=(u, v), block=8)) == pytest.approx(want, rel=1e-10)
    assert energy(a, b, weights=(u, v)) == pytest.approx(want, rel=1e-10)


@pytest.mark.slow  # importing dcor compiles numba code (~6 s)
def test_energy_nd_weights_numpy_equals_torch_and_dcor(xy):
    x, y = xy
    rng = np.random.default_rng(5)
    u, v = rng.random(len(x)), rng.random(len(y))
    got_np = energy(x, y, weights=(u, v), block=16)
    got_t = float(energy(torch.tensor(x), torch.tensor(y), weights=(u, v), block=16))
    assert got_np == pytest.approx(got_t, rel=1e-11)
    dcor = pytest.importorskip("dcor")
    assert energy(x, y) ** 2 == pytest.approx(dcor.energy_distance(x, y), rel=1e-10)


def test_cauchy_schwarz_torch_matches_numpy(xy):
    x, y = xy
    for block in (8, 2048):
        got = cauchy_schwarz(torch.tensor(x), torch.tensor(y), bandwidth=0.9, block=block)
        assert float(got) == pytest.approx(cauchy_schwarz(x, y, bandwidth=0.9), rel=1e-10)
    far = cauchy_schwarz(torch.tensor([[0.0]]), torch.tensor([[60.0]]), bandwidth=1.0)
    assert float(far) == pytest.approx(3600.0)  # no underflow to inf


@pytest.mark.parametrize("block", [7, 2048])
def test_gradcheck_all(block):
    rng = np.random.default_rng(6)
    x = torch.tensor(rng.normal(size=(12, 2)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(10, 2)), requires_grad=True)
    w = torch.tensor(rng.random(12) + 0.1, requires_grad=True)
    for kernel in ("rbf", "laplacian", "imq"):
        assert torch.autograd.gradcheck(lambda a, b, k=kernel: mmd(a, b, kernel=k, bandwidth=[0.8, 2.0], block=block),
                                        (x, y))
    assert torch.autograd.gradcheck(lambda a, b, u: energy(a, b, weights=(u, None), block=block), (x, y, w))
    assert torch.autograd.gradcheck(lambda a, b: cauchy_schwarz(a, b, bandwidth=1.1, block=block), (x, y))


def test_gradient_against_finite_differences_numpy():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(15, 2)), rng.normal(size=(11, 2))
    xt = torch.tensor(x, requires_grad=True)
    energy(xt, torch.tensor(y), block=4).backward()
    h = 1e-6
    for i, j in [(0, 0), (3, 1), (14, 1)]:
        xp, xm = x.copy(), x.copy()
        xp[i, j] += h
        xm[i, j] -= h
        fd = (energy(xp, y) - energy(xm, y)) / (2 * h)
        assert float(xt.grad[i, j]) == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_duplicated_points_finite_gradients():
    x = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
    for value in (energy(x, y), mmd(x, y, kernel="laplacian"), cauchy_schwarz(x, y), energy(x, x.detach())):
        (g,) = torch.autograd.grad(value, x)
        assert torch.isfinite(value) and torch.isfinite(g).all()
    # identical samples: exactly zero and a zero (sub)gradient
    same = energy(x, x)
    assert float(same.detach()) == 0.0
    (g,) = torch.autograd.grad(same, x)
    assert torch.equal(g, torch.zeros_like(g))


def test_median_bandwidth_ignores_duplicates():
    x = np.array([0.0, 0.0, 0.0, 1.0])
    assert median_bandwidth(x, x) == pytest.approx(1.0)
    assert median_bandwidth(torch.tensor(x), torch.tensor(x)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="all points coincide"):
        median_bandwidth(torch.zeros(4, 2), torch.zeros(3, 2))
    # MMD² of one point mass against itself is 0 for every bandwidth: returned, not refused (issue 19)
    assert float(mmd(torch.zeros(4, 2), torch.zeros(3, 2))) == 0.0


@pytest.mark.parametrize("scale", [1e200, 1e300, 1e-300])
def test_huge_and_tiny_scales_are_finite(xy, scale):
    x, y = xy
    base_mmd, base_e = mmd(x, y), energy(x, y)
    assert mmd(x * scale, y * scale) == pytest.approx(base_mmd, rel=1e-9)
    assert energy(x * scale, y * scale) == pytest.approx(base_e * scale**0.5, rel=1e-9)
    assert energy(x[:, 0] * scale, y[:, 0] * scale) == pytest.approx(energy(x[:, 0], y[:, 0]) * scale**0.5, rel=1e-9)
    assert cauchy_schwarz(x * scale, y * scale) == pytest.approx(cauchy_schwarz(x, y), rel=1e-9)
    assert float(mmd(torch.tensor(x * scale), torch.tensor(y * scale))) == pytest.approx(base_mmd, rel=1e-9)
    assert float(energy(torch.tensor(x * scale), torch.tensor(y * scale))) == pytest.approx(base_e * scale**0.5, rel=1e-9)


@pytest.mark.parametrize("as_t", [False, True])
def test_bad_input_names_argument(xy, as_t):
    x, y = xy
    conv = torch.tensor if as_t else np.asarray
    x, y = conv(x), conv(y)
    cases = [
        (dict(bandwidth=None), "bandwidth"), (dict(bandwidth="silverman"), "bandwidth"),
        (dict(bandwidth=float("nan")), "bandwidth"), (dict(bandwidth=0.0), "bandwidth"),
        (dict(bandwidth=-1.0), "bandwidth"), (dict(bandwidth=[]), "bandwidth"), (dict(bandwidth=[1.0, -2.0]), "bandwidth"),
        (dict(kernel="poly"), "kernel"), (dict(unbiased="no"), "unbiased"), (dict(block=0), "block"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            mmd(x, y, **kwargs)
    with pytest.raises(ValueError, match="dimension"):
        mmd(x, y[:, :2])
    with pytest.raises(ValueError, match="at least 2"):
        mmd(x[:1], y)
    bad = conv(np.array(xy[0]))
    bad[0, 0] = float("nan")
    for fn in (mmd, energy, cauchy_schwarz):
        with pytest.raises(ValueError, match="x contains NaN"):
            fn(bad, y)
    with pytest.raises(ValueError, match="weights"):
        energy(x, y, weights=(np.ones(3), None))
    with pytest.raises(ValueError, match="weights"):
        energy(x, y, weights=(-np.ones(len(x)), None))
