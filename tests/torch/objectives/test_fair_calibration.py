"""group_js_divergence (the JS calibration measure of Lee et al. 2025) against SciPy, gradcheck, errors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
scipy_distance = pytest.importorskip("scipy.spatial.distance")
scipy_stats = pytest.importorskip("scipy.stats")

from divergences.torch.objectives import group_js_divergence  # noqa: E402


def _reference(y, groups, weights, h, m):
    """The paper repository's procedure written out in NumPy/SciPy (one KDE per group on a common grid)."""
    y = np.asarray(y, dtype=np.float64)
    labels = [tuple(np.atleast_1d(r)) for r in np.asarray(groups)]
    uniq = sorted(set(labels))
    grid = np.linspace(y.min(), y.max(), m)
    dens, shares = [], []
    for u in uniq:
        mask = np.array([lab == u for lab in labels])
        yi = y[mask]
        kde = np.exp(-0.5 * ((grid[:, None] - yi[None, :]) / h) ** 2).sum(1) / (len(yi) * h * np.sqrt(2 * np.pi))
        dens.append(kde / kde.sum())
        shares.append(mask.mean())
    dens = np.array(dens)
    pi = np.array(shares) if weights == "proportion" else np.full(len(uniq), 1 / len(uniq))
    mix = pi @ dens
    return scipy_stats.entropy(mix, base=2) - sum(w * scipy_stats.entropy(d, base=2) for w, d in zip(pi, dens))


@pytest.mark.parametrize("weights", ["proportion", "equal"])
def test_matches_scipy_reference(weights):
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal(0.0, 1.0, 40), rng.normal(0.7, 0.5, 25), rng.normal(-0.3, 2.0, 15)])
    g = np.repeat([0, 1, 2], [40, 25, 15])
    got = group_js_divergence(torch.tensor(y), torch.tensor(g), weights=weights, bandwidth=0.3, grid_size=200)
    assert got.item() == pytest.approx(_reference(y, g, weights, 0.3, 200), rel=1e-10, abs=1e-12)


def test_two_equal_groups_is_scipy_jensenshannon_squared():
    rng = np.random.default_rng(1)
    y = np.concatenate([rng.normal(0, 1, 30), rng.normal(1, 1, 30)])
    g = np.repeat([0, 1], 30)
    grid = np.linspace(y.min(), y.max(), 500)
    p = [np.exp(-0.5 * ((grid[:, None] - y[g == k][None, :]) / 0.15) ** 2).sum(1) for k in (0, 1)]
    want = scipy_distance.jensenshannon(p[0], p[1], base=2) ** 2
    got = group_js_divergence(torch.tensor(y), torch.tensor(g), weights="equal", grid_size=500)
    assert got.item() == pytest.approx(want, rel=1e-9)


def test_intersectional_rows_and_labels_agree():
    rng = np.random.default_rng(2)
    y = torch.tensor(rng.normal(size=48))
    gender = torch.tensor(rng.integers(0, 2, 48))
    region = torch.tensor(rng.integers(0, 3, 48))
    rows = torch.stack([gender, region], 1)
    flat = gender * 3 + region
    a = group_js_divergence(y, rows, grid_size=300)
    b = group_js_divergence(y, flat, grid_size=300)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    assert a.item() == pytest.approx(_reference(y.numpy(), rows.numpy(), "proportion", 0.15, 300), rel=1e-10)


def test_bounds_and_invariances():
    y = torch.tensor([0.1, 0.4, 0.2, 0.9], dtype=torch.float64)
    same = torch.cat([y, y])
    g = torch.tensor([0] * 4 + [1] * 4)
    assert group_js_divergence(same, g).item() == pytest.approx(0.0, abs=1e-12)
    far = torch.cat([y, y + 100.0])
    assert group_js_divergence(far, g).item() == pytest.approx(1.0, abs=1e-9)  # log2 K with K = 2
    three = torch.cat([y, y + 100.0, y + 200.0])
    g3 = torch.tensor([0] * 4 + [1] * 4 + [2] * 4)
    assert group_js_divergence(three, g3, weights="equal").item() == pytest.approx(np.log2(3), abs=1e-9)
    # relabelling groups changes nothing; a constant prediction vector gives 0
    assert group_js_divergence(far, 1 - g).item() == pytest.approx(1.0, abs=1e-9)
    assert group_js_divergence(torch.zeros(6, dtype=torch.float64), torch.tensor([0, 1] * 3)).item() == 0.0


def test_float32_and_extreme_values_are_finite():
    y = torch.tensor([-1e4, 1e4, 0.0, 3.0, -2.0, 5.0])
    g = torch.tensor([0, 1, 0, 1, 0, 1])
    out = group_js_divergence(y, g)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    yg = y.clone().requires_grad_(True)
    group_js_divergence(yg, g).backward()
    assert torch.isfinite(yg.grad).all()


def test_gradcheck_float64():
    rng = np.random.default_rng(3)
    y = torch.tensor(rng.normal(size=10), requires_grad=True)
    g = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 0, 1])
    assert torch.autograd.gradcheck(
        lambda t: group_js_divergence(t, g, bandwidth=0.5, grid_size=40, weights="equal"), (y,))


def test_does_not_modify_inputs():
    y = torch.tensor([0.3, 0.1, 0.5, 0.2])
    g = torch.tensor([1, 0, 1, 0])
    y0, g0 = y.clone(), g.clone()
    group_js_divergence(y, g)
    assert torch.equal(y, y0) and torch.equal(g, g0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"predictions": [0.1, 0.2]}, "predictions"),
        ({"predictions": torch.tensor([[0.1, 0.2]])}, "predictions"),
        ({"predictions": torch.tensor([0.1, float("nan"), 0.3, 0.4])}, "predictions"),
        ({"groups": torch.tensor([0, 1, 0])}, "groups"),
        ({"groups": torch.tensor([0, 0, 0, 0])}, "groups"),
        ({"groups": torch.tensor([0.0, float("nan"), 1.0, 1.0])}, "groups"),
        ({"weights": "uniform"}, "weights"),
        ({"bandwidth": 0.0}, "bandwidth"),
        ({"bandwidth": -1.0}, "bandwidth"),
        ({"grid_size": 1}, "grid_size"),
        ({"grid_size": 10.5}, "grid_size"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    args = {"predictions": torch.tensor([0.1, 0.2, 0.3, 0.4]), "groups": torch.tensor([0, 1, 0, 1])}
    args.update(kwargs)
    pred, groups = args.pop("predictions"), args.pop("groups")
    with pytest.raises(ValueError, match=match):
        group_js_divergence(pred, groups, **args)
