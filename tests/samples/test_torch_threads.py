"""The thread policy of the tiled kernels: small CPU work on one thread, scoped and restored."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import divergences.samples._torch_pairs as pairs  # noqa: E402
from divergences.samples import cauchy_schwarz, energy, mmd  # noqa: E402


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_small_work_runs_on_one_thread_and_restores(two_threads):
    seen = []
    with pairs.serial_if_small(100 * 100, torch.device("cpu")):
        seen.append(torch.get_num_threads())
    assert seen == [1] and torch.get_num_threads() == 2
    with pairs.serial_if_small(pairs.SERIAL_BELOW, torch.device("cpu")):
        assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError, match="inside"):
        with pairs.serial_if_small(10, torch.device("cpu")):
            raise RuntimeError("inside")
    assert torch.get_num_threads() == 2


def test_values_and_gradients_do_not_depend_on_the_policy(two_threads, monkeypatch):
    rng = np.random.default_rng(0)
    x, y = torch.tensor(rng.normal(size=(60, 3))), torch.tensor(rng.normal(0.5, 1.0, size=(50, 3)))
    fns = (lambda a, b: mmd(a, b), lambda a, b: energy(a, b), lambda a, b: cauchy_schwarz(a, b))
    results = {}
    for below in (pairs.SERIAL_BELOW, 0):
        monkeypatch.setattr(pairs, "SERIAL_BELOW", below)
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
