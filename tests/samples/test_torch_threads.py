"""The thread policy of the tiled kernels (the one of :mod:`divergences.samples._threads`): small CPU work on
one thread, scoped and restored; values and gradients do not depend on it."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import divergences.samples._threads as threads  # noqa: E402
from divergences.samples import cauchy_schwarz, energy, mmd  # noqa: E402


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.delenv("DIVERGENCES_THREADS", raising=False)
    monkeypatch.setattr(threads, "oversubscribed", lambda: False)  # the shared test machine must not decide
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_small_work_runs_on_one_thread_and_restores(two_threads):
    seen = []
    with threads.solver_threads(100 * 100, "cpu"):
        seen.append(torch.get_num_threads())
    assert seen == [1] and torch.get_num_threads() == 2
    with threads.solver_threads(threads.SINGLE_THREAD_PAIRS, "cpu"):
        assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError, match="inside"):
        with threads.solver_threads(10, "cpu"):
            raise RuntimeError("inside")
    assert torch.get_num_threads() == 2


def test_the_kernels_run_under_the_policy(two_threads, monkeypatch):
    """MMD, energy and Cauchy–Schwarz on a small CPU problem run on one thread (seen from inside the tiled sum)."""
    import divergences.samples._torch_kernels as kernels

    seen = []
    original = kernels.pair_sum

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(kernels, "pair_sum", spy)
    x, y = torch.randn(30, 2, dtype=torch.float64), torch.randn(20, 2, dtype=torch.float64)
    for fn in (mmd, energy, cauchy_schwarz):
        fn(x, y)
    assert seen and set(seen) == {1} and torch.get_num_threads() == 2


def test_values_and_gradients_do_not_depend_on_the_policy(two_threads, monkeypatch):
    rng = np.random.default_rng(0)
    x, y = torch.tensor(rng.normal(size=(60, 3))), torch.tensor(rng.normal(0.5, 1.0, size=(50, 3)))
    fns = (lambda a, b: mmd(a, b), lambda a, b: energy(a, b), lambda a, b: cauchy_schwarz(a, b))
    results = {}
    for below in (threads.SINGLE_THREAD_PAIRS, 0):
        monkeypatch.setattr(threads, "SINGLE_THREAD_PAIRS", below)
        out = []
        for fn in fns:
            xg = x.clone().requires_grad_(True)
            value = fn(xg, y)
            (grad,) = torch.autograd.grad(value, xg)
            out.append((float(value.detach()), grad))
            assert torch.get_num_threads() == 2
        results[below] = out
    for (v1, g1), (v0, g0) in zip(*results.values()):
        assert v1 == pytest.approx(v0, rel=1e-12)
        torch.testing.assert_close(g1, g0, rtol=1e-10, atol=1e-14)


def test_numpy_work_follows_the_same_policy(monkeypatch):
    """:func:`blas_threads` limits the BLAS pools by the same rule (small work or a busy machine: one thread;
    ``DIVERGENCES_THREADS`` overrides) and restores them on exit."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_counts():
        return [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]

    monkeypatch.delenv("DIVERGENCES_THREADS", raising=False)
    monkeypatch.setattr(threads, "oversubscribed", lambda: False)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = blas_counts()
        assert before
        with threads.blas_threads(100 * 100):
            assert set(blas_counts()) == {1}
        assert blas_counts() == before
        with threads.blas_threads(threads.SINGLE_THREAD_PAIRS):
            assert blas_counts() == before
        monkeypatch.setattr(threads, "oversubscribed", lambda: True)
        with threads.blas_threads(threads.SINGLE_THREAD_PAIRS):
            assert set(blas_counts()) == {1}
        monkeypatch.setenv("DIVERGENCES_THREADS", "keep")
        with threads.blas_threads(10):
            assert blas_counts() == before
