"""The KeOps backend of the torch Sinkhorn (issue 23, item 5): the same values and gradients as the tiled
panels, where pykeops is installed (its first call compiles C++: slow); clear errors where it is not."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from divergences.samples import sinkhorn  # noqa: E402


def test_backend_is_checked(monkeypatch):
    import divergences.samples._keops as keops

    x, y = np.zeros((3, 2)), np.ones((4, 2))
    with pytest.raises(ValueError, match="backend"):
        sinkhorn(x, y, epsilon=0.1, backend="online")
    with pytest.raises(ValueError, match="keops.*torch tensors"):
        sinkhorn(x, y, epsilon=0.1, backend="keops")
    monkeypatch.setattr(keops, "keops_available", lambda: False)
    with pytest.raises(ValueError, match="pykeops"):
        sinkhorn(torch.tensor(x), torch.tensor(y), epsilon=0.1, backend="keops")


@pytest.mark.slow
@pytest.mark.parametrize("p", [1, 2])
def test_keops_equals_tiled(p):
    pytest.importorskip("pykeops")
    rng = np.random.default_rng(p)
    x = torch.tensor(rng.normal(size=(2, 60, 3)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(2, 45, 3)) + 0.5)
    w = torch.tensor(rng.uniform(0.5, 1.0, size=(2, 45)), requires_grad=True)
    results = []
    for backend in ("tiled", "keops"):
        value = sinkhorn(x, y, epsilon=0.1, p=p, weights=(None, w), backend=backend)
        gx, gw = torch.autograd.grad(value.sum(), (x, w))
        results.append((value.detach(), gx, gw))
    (v0, gx0, gw0), (v1, gx1, gw1) = results
    torch.testing.assert_close(v1, v0, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(gx1, gx0, rtol=1e-7, atol=1e-10)
    torch.testing.assert_close(gw1, gw0, rtol=1e-7, atol=1e-10)
