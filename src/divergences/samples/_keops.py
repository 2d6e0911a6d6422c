r"""The soft-min of the torch Sinkhorn solver on KeOps (``backend="keops"``, where ``pykeops`` is installed).

The same operator as :func:`._torch_softmin.softmin`,
:math:`-\varepsilon\log\sum_j\exp(h_j - \|x_i - y_j\|^p/\varepsilon)` for batches x (B, n, d), y (B, m, d),
h (B, m), written as a KeOps symbolic reduction (``LazyTensor.logsumexp``): KeOps compiles it to a loop that
streams the pairs through registers, so no panel of pairs is ever stored (GeomLoss's ``backend="online"``),
and differentiates it symbolically (autograd in x, y and h). The first call of each formula compiles C++ (or
CUDA) code into KeOps' cache (tens of seconds on a CPU); later calls reuse it. KeOps computes the distances as
Σ_k (x_ik − y_jk)², exactly, in the input dtype.
"""

from __future__ import annotations

import torch

__all__ = ["keops_available", "keops_softmin"]


def keops_available() -> bool:
    """Whether ``pykeops`` imports (it is an optional dependency: ``pip install divergences[keops]``)."""
    try:
        import pykeops.torch  # noqa: F401  # pyright: ignore[reportMissingImports]
    except ImportError:
        return False
    return True


def keops_softmin(x: torch.Tensor, y: torch.Tensor, h: torch.Tensor, eps: float, p: float,
                  block: int = 0) -> torch.Tensor:
    """−ε log Σ_j exp(h_j − C(x_i, y_j)/ε), shape (B, n), by a KeOps reduction (``block`` is not used)."""
    from pykeops.torch import LazyTensor  # pyright: ignore[reportMissingImports]

    xi = LazyTensor(x.contiguous()[:, :, None, :])
    yj = LazyTensor(y.contiguous()[:, None, :, :])
    hj = LazyTensor(h.contiguous()[:, None, :, None])
    sq = ((xi - yj) ** 2).sum(-1)
    if p == 2:
        cost = sq
    elif p == 1:
        cost = sq.sqrt()
    else:
        cost = sq.sqrt() ** float(p)
    return -eps * (hj - cost / eps).logsumexp(dim=2)[..., 0]
