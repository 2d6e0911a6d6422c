"""quantized_sinkhorn (issue 23, item 5, n ≥ 1e5): exact where the clouds fit, close to the full-resolution
value, the W2 bound of its distortions, torch gradients through the centroids, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from divergences.samples import quantized_sinkhorn, sinkhorn, wasserstein

torch = pytest.importorskip("torch")
pytest.importorskip("ot")


def _clouds(n=600, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 1.0


def test_small_clouds_are_exact():
    x, y = _clouds(40)
    res = quantized_sinkhorn(x, y, epsilon=0.2, clusters=64)
    assert res.clusters == (40, 40) and res.distortion_x == 0.0 == res.distortion_y
    assert res.value == pytest.approx(sinkhorn(x, y, epsilon=0.2), rel=1e-12)


def test_close_to_full_resolution_and_the_w2_bound():
    x, y = _clouds(600)
    full = sinkhorn(x, y, epsilon=0.2)
    res = quantized_sinkhorn(x, y, epsilon=0.2, clusters=150)
    assert abs(res.value - full) / full < 0.02
    assert res.distortion_x < 0.15 and res.distortion_y < 0.15
    # |W2(μ, ν) − W2(μ_K, ν_K)| ≤ D_x + D_y, the quantised W2 from the same centroids (p = 2, exact OT)
    from divergences.samples.quantized import _quantize

    def centroids(points):
        labels, k = _quantize(points, 150, 0, 20)
        mass = np.bincount(labels, minlength=k) / len(points)
        centres = np.stack([np.bincount(labels, weights=points[:, j], minlength=k) for j in range(2)], 1)
        return centres / (mass * len(points))[:, None], mass

    (cx, mx), (cy, my) = centroids(x), centroids(y)
    w_full = wasserstein(x, y, p=2)
    w_quant = wasserstein(cx, cy, p=2, weights=(mx, my))
    assert abs(w_full - w_quant) <= res.distortion_x + res.distortion_y
    # more clusters: closer
    finer = quantized_sinkhorn(x, y, epsilon=0.2, clusters=400)
    assert finer.distortion_x < res.distortion_x and abs(finer.value - full) < abs(res.value - full) + 1e-3


def test_torch_matches_numpy_and_differentiates_through_the_centroids():
    x, y = _clouds(300, seed=1)
    want = quantized_sinkhorn(x, y, epsilon=0.3, clusters=80)
    xt = torch.tensor(x, requires_grad=True)
    got = quantized_sinkhorn(xt, torch.tensor(y), epsilon=0.3, clusters=80)
    assert float(got.value.detach()) == pytest.approx(want.value, rel=1e-8)
    assert got.distortion_x == pytest.approx(want.distortion_x, rel=1e-12)
    (grad,) = torch.autograd.grad(got.value, xt)
    # a global translation keeps the clustering: the directional derivative by central differences
    v = np.array([0.3, -0.2])
    h = 1e-5
    plus = quantized_sinkhorn(x + h * v, y, epsilon=0.3, clusters=80, tol=1e-12).value
    minus = quantized_sinkhorn(x - h * v, y, epsilon=0.3, clusters=80, tol=1e-12).value
    assert float((grad * torch.tensor(v)).sum()) == pytest.approx((plus - minus) / (2 * h), rel=1e-5)


def test_reproducible_and_bad_input():
    x, y = _clouds(300, seed=2)
    one = quantized_sinkhorn(x, y, epsilon=0.3, clusters=50, seed=3).value
    assert quantized_sinkhorn(x, y, epsilon=0.3, clusters=50, seed=3).value == one
    for kw, name in [({"clusters": 0}, "clusters"), ({"clusters": 2.5}, "clusters"), ({"kmeans_iter": 0}, "kmeans_iter"),
                     ({"epsilon": -1.0}, "epsilon"), ({"tol": "x"}, "tol")]:
        with pytest.raises(ValueError, match=name):
            quantized_sinkhorn(x, y, **{"epsilon": 0.3, **kw})
