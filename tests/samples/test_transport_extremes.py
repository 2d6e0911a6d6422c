"""Transport at extreme scales (issue 19): large coordinates, ε tiny against the costs, weights whose sum
overflows, the scale law over 300 decades, bounded solvers that raise with the error reached, and the thread
choice of the torch solver on a shared machine (issue 23)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divergences.samples import SinkhornConvergenceError, sinkhorn, sliced_wasserstein, wasserstein

torch = pytest.importorskip("torch")
ot = pytest.importorskip("ot")


def _fifty(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 0.5


@pytest.mark.parametrize("scale", [1e5, 1e6])
@pytest.mark.parametrize("rel", [1e-2, 1e-4, 1e-6, 1e-8])
def test_fifty_points_at_large_coordinates_finish_on_both_backends(scale, rel):
    """The issue's case: 50 points with coordinates of order 1e5–1e6. Both backends converge (default tol and
    max_iter) at ε from 1e-2 down to 1e-8 × the squared scale, agree, follow the scale law, and tend to the
    exact W2² (network simplex) as ε → 0: OT_ε(x, y) ≤ W2² + ε log n and S_ε ≥ W2² − O(ε log n)."""
    x, y = _fifty()
    eps = rel * scale**2
    got_np = sinkhorn(x * scale, y * scale, epsilon=eps)
    got_t = float(sinkhorn(torch.tensor(x * scale), torch.tensor(y * scale), epsilon=eps))
    unit = sinkhorn(x, y, epsilon=rel)
    assert got_np == pytest.approx(got_t, rel=1e-7)
    assert got_np == pytest.approx(unit * scale**2, rel=1e-7)
    w2sq = wasserstein(x, y, p=2) ** 2
    assert abs(unit - w2sq) <= 2 * rel * math.log(50) + 1e-9 * w2sq


def test_monge_gap_at_large_coordinates():
    """Monge gap inherits the solver: it finishes at coordinates of 1e5 and follows the scale law; a
    translation is optimal for ‖·‖², so its gap is within the entropy term ε log n of 0."""
    from divergences.torch.objectives import monge_gap

    x, _ = _fifty(1)
    scale, rel = 1e5, 1e-6
    xt = torch.tensor(x * scale, requires_grad=True)
    gap = monge_gap(xt, xt + 0.3 * scale, epsilon=rel * scale**2)
    (grad,) = torch.autograd.grad(gap, xt)
    unit = float(monge_gap(torch.tensor(x), torch.tensor(x) + 0.3, epsilon=rel))
    assert float(gap.detach()) == pytest.approx(unit * scale**2, rel=1e-6, abs=1e-9 * scale**2)
    assert abs(unit) <= rel * math.log(50) * 1.01
    assert bool(torch.isfinite(grad).all())


def test_small_epsilon_starts_from_the_exact_dual(monkeypatch):
    """Below EXACT_START_BELOW × max C the potentials start from the exact dual: at 1e-6 × max C the same value
    as the ε-scaling path in fewer iterations; at 1e-10 the ε-scaling path has not converged after 2000
    iterations, the exact start converges in a few dozen."""
    import divergences.samples._convergence as conv
    from divergences.samples._sinkhorn_numpy import cost_matrix, entropic_ot

    x, y = _fifty(2)
    a = np.full(50, 1 / 50)
    cost = cost_matrix(x, y, 2)
    top = float(cost.max())
    fast = entropic_ot(cost, a, a, 1e-6 * top, max_iter=10_000, tol=1e-8, scaling=0.5)
    tiny = entropic_ot(cost, a, a, 1e-10 * top, max_iter=10_000, tol=1e-8, scaling=0.5)
    monkeypatch.setattr(conv, "EXACT_START_BELOW", 0.0)
    slow = entropic_ot(cost, a, a, 1e-6 * top, max_iter=100_000, tol=1e-8, scaling=0.5)
    stuck = entropic_ot(cost, a, a, 1e-10 * top, max_iter=2000, tol=1e-8, scaling=0.5)
    assert fast[2] < 1e-8 and slow[2] < 1e-8 and tiny[2] < 1e-8
    assert fast[1] <= slow[1] and tiny[1] < 100
    assert fast[0] == pytest.approx(slow[0], rel=1e-9)
    assert stuck[2] > 1e-8 and stuck[1] == 2000


@pytest.mark.parametrize("rel", [1e-10, 1e-12, 1e-14])
def test_tiny_epsilon_converges_or_raises_within_max_iter(rel):
    """Far below any useful ε the solver either converges (the plan is then a permutation: the value is W2²
    up to ε log n) or raises within max_iter, stating the error reached: never a hang, never a silent value."""
    x, y = _fifty(3)
    w2sq = wasserstein(x, y, p=2) ** 2
    for xs, ys in ((x, y), (torch.tensor(x), torch.tensor(y))):
        try:
            value = float(sinkhorn(xs, ys, epsilon=rel, max_iter=300))
        except SinkhornConvergenceError as err:
            iterations = int(str(err).split(" after ")[1].split()[0])
            assert iterations <= 300 and "marginal error" in str(err)
        else:
            assert value == pytest.approx(w2sq, rel=1e-6)


@settings(max_examples=12, deadline=None)
@given(k=st.integers(-140, 140), p=st.sampled_from([1, 2]), backend=st.sampled_from(["numpy", "torch"]))
def test_scale_law_over_three_hundred_decades(k, p, backend):
    """W_p(sx, sy) = s W_p(x, y), sliced likewise, and S_ε(sx, sy; s^p ε) = s^p S_ε(x, y; ε), from 1e-140 to
    1e140 (the data are rescaled internally by a power of two; the scale law undoes it)."""
    rng = np.random.default_rng(abs(k))
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(9, 2)) + 1.0
    s = 10.0**k
    conv = (lambda v: torch.tensor(v)) if backend == "torch" else (lambda v: v)
    pairs = [(wasserstein, {"p": p}, s), (sliced_wasserstein, {"p": p}, s), (sinkhorn, {"p": p, "epsilon": 0.5}, s**p)]
    for fn, kw, factor in pairs:
        base = float(fn(conv(x), conv(y), **kw))
        kw_s = dict(kw, epsilon=kw["epsilon"] * s**p) if "epsilon" in kw else kw
        scaled = float(fn(conv(x * s), conv(y * s), **kw_s))
        assert math.isfinite(scaled) and scaled > 0, fn.__name__
        assert scaled / factor == pytest.approx(base, rel=1e-6), fn.__name__


@settings(max_examples=12, deadline=None)
@given(k=st.integers(-300, 307), backend=st.sampled_from(["numpy", "torch"]))
def test_weights_of_any_scale_normalise(k, backend):
    """Weights are relative: w·10^k gives the value of w, also where Σw overflows (k near 307: the sum was
    inf and every normalised weight 0, so sliced Wasserstein and W1 returned 0) or where w is subnormal."""
    rng = np.random.default_rng(k + 400)
    x, y = rng.normal(size=(15, 2)), rng.normal(size=(11, 2)) + 0.5
    wx, wy = rng.uniform(0.2, 1.0, size=15), rng.uniform(0.2, 1.0, size=11)
    conv = (lambda v: torch.tensor(v, dtype=torch.float64)) if backend == "torch" else (lambda v: v)
    scaled = (conv(wx * 10.0**k), conv(wy * 10.0**k))
    plain = (conv(wx), conv(wy))
    for fn, kw in [(wasserstein, {}), (wasserstein, {"p": 2}), (sliced_wasserstein, {}),
                   (sinkhorn, {"epsilon": 0.3})]:
        want = float(fn(conv(x), conv(y), weights=plain, **kw))
        got = float(fn(conv(x), conv(y), weights=scaled, **kw))
        assert want > 0 and got == pytest.approx(want, rel=1e-7), (fn.__name__, kw)
    # one dimension: the closed forms
    want = float(wasserstein(conv(x[:, 0]), conv(y[:, 0]), weights=plain))
    assert float(wasserstein(conv(x[:, 0]), conv(y[:, 0]), weights=scaled)) == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_weights_down_to_the_smallest_subnormal(backend):
    """Weights at the bottom of the float range (the smallest subnormal 5e-324, whose power-of-two unit is
    beyond the float range) normalise like any others; non-numeric weights are a ValueError naming them."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(4, 2)), rng.normal(size=(3, 2)) + 0.5
    conv = (lambda v: torch.tensor(v, dtype=torch.float64)) if backend == "torch" else (lambda v: v)
    tiny = (conv(np.array([5e-324, 5e-324, 1e-323, 5e-324])), None)
    plain = (conv(np.array([1.0, 1.0, 2.0, 1.0])), None)
    for fn in (wasserstein, sliced_wasserstein):
        want = float(fn(conv(x), conv(y), weights=plain))
        assert float(fn(conv(x), conv(y), weights=tiny)) == pytest.approx(want, rel=1e-12), fn.__name__
    with pytest.raises(ValueError, match=r"weights\[0\] must be an array of non-negative numbers"):
        wasserstein(conv(x), conv(y), weights=(["a", "b", "c", "d"], None))


def test_coordinates_near_the_float_limit():
    """Data up to 1.5e308: the power-of-two rescaling must not form 2^1024 (an OverflowError before); a value
    beyond the float64 range is inf, never NaN; an ε that the rescaling makes subnormal is refused by name."""
    x = np.array([[1.5e308, 0.0], [0.0, 1e308]])
    y = np.array([[1e308, 1e308], [0.0, 0.0]])
    assert wasserstein(x, y) == pytest.approx(wasserstein(x / 1e300, y / 1e300) * 1e300, rel=1e-12)
    assert wasserstein(x[:, 0], y[:, 0], p=2) == pytest.approx(3.5355339059327378e307, rel=1e-12)
    assert sliced_wasserstein(x, y) == pytest.approx(sliced_wasserstein(x / 1e300, y / 1e300) * 1e300, rel=1e-12)
    for xs, ys in ((x / 4, y / 4), (torch.tensor(x / 4), torch.tensor(y / 4))):
        with pytest.raises(ValueError, match="epsilon"):
            sinkhorn(xs, ys, epsilon=1e300)
        assert float(sinkhorn(xs, ys, epsilon=1e300, p=1)) == pytest.approx(
            sinkhorn(x / 1e300, y / 1e300, epsilon=1e-3, p=1) * 0.25e300, rel=1e-6)


@pytest.mark.filterwarnings("ignore:numItermax reached")
def test_exact_solver_stopped_short_states_the_duality_gap():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    with pytest.raises(RuntimeError, match="duality gap"):
        wasserstein(x, y, max_iter=3)
    with pytest.raises(RuntimeError, match="duality gap"):
        wasserstein(torch.tensor(x), torch.tensor(y), max_iter=3)


def test_epsilon_path_is_bounded():
    from divergences.samples._convergence import MAX_LEVELS, epsilon_path

    levels = list(epsilon_path(1e300, 1e-300, 0.999))
    assert len(levels) <= MAX_LEVELS + 1 and levels[0] == 1e300 and levels[-1] > 1e-300
    assert list(epsilon_path(1.0, 2.0, 0.5)) == [] and list(epsilon_path(8.0, 1.0, None)) == []
    assert list(epsilon_path(8.0, 1.0, 0.5)) == [8.0, 4.0, 2.0]


# ---------------------------------------------------------------------------------------------------------------
# threads (issue 23)
# ---------------------------------------------------------------------------------------------------------------


def test_thread_choice(monkeypatch):
    import divergences.samples._threads as th

    monkeypatch.delenv("DIVERGENCES_THREADS", raising=False)
    monkeypatch.setattr(th, "oversubscribed", lambda: False)
    assert th.chosen_threads(th.SINGLE_THREAD_PAIRS - 1, 4) == 1  # small: one thread
    assert th.chosen_threads(th.SINGLE_THREAD_PAIRS, 4) == 4  # large on a quiet machine: torch's setting
    monkeypatch.setattr(th, "oversubscribed", lambda: True)
    assert th.chosen_threads(10**9, 4) == 1  # shared machine: one thread
    monkeypatch.setenv("DIVERGENCES_THREADS", "keep")
    assert th.chosen_threads(10, 4) == 4
    monkeypatch.setenv("DIVERGENCES_THREADS", "3")
    assert th.chosen_threads(10, 4) == 3


def test_oversubscribed_reads_the_load_average(monkeypatch):
    import divergences.samples._threads as th

    monkeypatch.setattr(th, "_usable_cores", lambda: 2)
    monkeypatch.setattr(th.os, "getloadavg", lambda: (3.0, 0.0, 0.0))
    assert th.oversubscribed()
    monkeypatch.setattr(th.os, "getloadavg", lambda: (2.5, 0.0, 0.0))
    assert not th.oversubscribed()

    def missing():
        raise OSError("no load average here")

    monkeypatch.setattr(th.os, "getloadavg", missing)
    assert not th.oversubscribed()


def test_sinkhorn_restores_the_thread_count(monkeypatch):
    """A small solve runs on one thread (seen from inside the soft-min) and leaves torch's setting as it was,
    also when it raises; the gradient pass (outside the call) is scoped the same way."""
    import divergences.samples._torch_softmin as sm

    monkeypatch.delenv("DIVERGENCES_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []
        original = sm._Softmin.forward

        def spy(ctx, *args):
            seen.append(torch.get_num_threads())
            return original(ctx, *args)

        monkeypatch.setattr(sm._Softmin, "forward", staticmethod(spy))
        x, y = _fifty(5)
        xt = torch.tensor(x, requires_grad=True)
        sinkhorn(xt, torch.tensor(y), epsilon=0.1).backward()
        assert set(seen) == {1} and torch.get_num_threads() == 2
        with pytest.raises(SinkhornConvergenceError):
            sinkhorn(xt, torch.tensor(y), epsilon=1e-3, max_iter=2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
