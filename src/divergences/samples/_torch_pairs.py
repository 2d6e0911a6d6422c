r"""Memory-bounded, differentiable sums over all pairs of two samples (torch).

:func:`pair_sum` returns :math:`\sum_{ij} u_i v_j\, k(d^2_{ij})` for squared Euclidean distances
:math:`d^2_{ij} = \|x_i - y_j\|^2` and an elementwise function ``k``. Problems of at most
``block × block`` pairs are computed directly (plain autograd, so higher derivatives work). Larger
ones go through :class:`_BlockedPairSum`: the forward pass visits tiles of side min(``block``, 1024)
under ``no_grad`` and keeps only the scalar; the backward pass visits the tiles again and forms each
tile's gradient from the closed-form :math:`k'(d^2)` of its :class:`PairFunction` and matrix
products, so no n × m matrix is ever held, in the forward or the
backward pass. Peak memory is a few tiles (8 MiB each in float64). Weights enter as matrix-vector
products (no weighted copy of a tile).

Squared distances are ``‖a‖² + ‖b‖² − 2a·b`` clipped at 0 (fast; inputs should be centred by the
caller); with ``exact=True`` (the energy distance and the Laplacian kernel, which use √d²) the
entries where that expansion cancels (d² below 1e-4·(‖a‖² + ‖b‖²): near or coincident points) are
recomputed from coordinate differences, so each distance has a relative error below ~1e-11 and
coincident points give exactly 0. In a within-sample sum (``same=True``) the diagonal is exactly 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..core import backend

__all__ = ["PairFunction", "distance", "pair_sum", "safe_sqrt", "sq_dists"]

Kernel = Callable[[torch.Tensor], torch.Tensor]

def _tracked(*tensors: torch.Tensor) -> bool:
    """Whether autograd records operations on these tensors now."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def safe_sqrt(d2: torch.Tensor) -> torch.Tensor:
    """√d2 with the subgradient 0 at d2 = 0 (no inf·0 = NaN in the backward pass); d2 ≥ 0. Untracked
    tensors take the plain square root (no masks)."""
    return backend.safe_sqrt(d2, torch) if _tracked(d2) else d2.sqrt()


#: ``exact=True``: entries of the expansion below EXACT_BELOW · (‖a‖² + ‖b‖²) are recomputed from coordinate
#: differences. The expansion's rounding is ≤ (d + 3)·2⁻⁵³·(‖a‖² + ‖b‖²), so every entry kept from it has a
#: relative error below ~1e-11 (d ≤ 100), and the cancellation-prone pairs (near or coincident points) are exact.
EXACT_BELOW = 1e-4


def sq_dists(a: torch.Tensor, b: torch.Tensor, *, exact: bool = False, diagonal_zero: bool = False) -> torch.Tensor:
    """Squared Euclidean distances between the rows of a (…, n, d) and b (…, m, d): the matrix-product
    expansion ‖a‖² + ‖b‖² − 2a·b clipped at 0; ``exact=True`` recomputes its cancellation-prone entries."""
    na, nb = (a * a).sum(-1).unsqueeze(-1), (b * b).sum(-1).unsqueeze(-2)
    if _tracked(a, b):
        d2 = (na + nb - 2 * (a @ b.transpose(-1, -2))).clamp_min(0)
    else:  # the same numbers, in place (no temporaries of the tile's size)
        d2 = torch.matmul(a, b.transpose(-1, -2)).mul_(-2).add_(na).add_(nb).clamp_(min=0)
    if exact:
        with torch.no_grad():  # a scalar bound below every EXACT_BELOW · (‖a_i‖² + ‖b_j‖²): conservative
            floor = EXACT_BELOW * (float(na.max()) + float(nb.max())) if na.numel() and nb.numel() else 0.0
            idx = (d2 <= floor).nonzero(as_tuple=True)
        if idx[0].numel():
            diff = a[idx[:-2] + (idx[-2],)] - b[idx[:-2] + (idx[-1],)]
            d2 = d2.index_put(idx, (diff * diff).sum(-1))
    if diagonal_zero:
        eye = torch.eye(d2.shape[-2], d2.shape[-1], dtype=torch.bool, device=d2.device)
        d2 = d2.masked_fill(eye, 0.0)
    return d2


class PairFunction:
    """An elementwise k(d²) with its derivative k′(d²) in closed form (``derivative(d2, k)``, given k(d²)):
    the blocked backward needs no autograd per tile."""

    def __init__(self, value: Kernel, derivative: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        self.value, self.derivative = value, derivative

    def __call__(self, d2: torch.Tensor) -> torch.Tensor:
        return self.value(d2)


def _sqrt_derivative(d2: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """d√d²/dd² = 1/(2√d²), with the subgradient 0 at d² = 0 (as :func:`safe_sqrt`)."""
    return k.reciprocal().mul_(0.5).masked_fill_(k == 0, 0.0)


#: the Euclidean distance √d² (energy distance) with its closed-form derivative
distance = PairFunction(safe_sqrt, _sqrt_derivative)


def _weighted_sum(k: torch.Tensor, u: torch.Tensor | None, v: torch.Tensor | None) -> torch.Tensor:
    """Σ_ij u_i v_j k_ij as matrix-vector products (no weighted copy of the tile)."""
    kv = k.sum(1) if v is None else k @ v
    return kv.sum() if u is None else u @ kv


def _tile(x, y, u, v, fn, exact, diagonal_zero):
    return _weighted_sum(fn(sq_dists(x, y, exact=exact, diagonal_zero=diagonal_zero)), u, v)


#: side of the tiles of the blocked path (at most ``block``): 1024² pairs, 8 MiB in float64, stay in cache
#: between the passes over a tile
TILE = 1024


def _tiles(n: int, m: int, block: int):
    """Tile bounds (row and column slices of at most min(``block``, :data:`TILE`))."""
    side = min(block, TILE)
    for i0 in range(0, n, side):
        for j0 in range(0, m, side):
            yield i0, min(i0 + side, n), j0, min(j0 + side, m)


class _BlockedPairSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y, u, v, fn, same, block, exact):  # noqa: D102 - see the module notes
        total = x.new_zeros(())
        with torch.no_grad():
            for i0, i1, j0, j1 in _tiles(len(x), len(y), block):
                total += _tile(x[i0:i1], y[j0:j1], None if u is None else u[i0:i1], None if v is None else v[j0:j1],
                               fn, exact, same and i0 == j0)
        ctx.save_for_backward(x, y, u, v)
        ctx.fn, ctx.same, ctx.block, ctx.exact = fn, same, block, exact
        return total

    @staticmethod
    def backward(ctx, *grad_outputs):  # noqa: D102
        (grad,) = grad_outputs
        # per tile, with G_ij = k'(d²_ij): ∂/∂x_i = 2 u_i (x_i (Gv)_i − (G (v∘y))_i), and symmetrically for y;
        # ∂/∂u_i = (K v)_i, with k' in closed form (PairFunction).
        x, y, u, v = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = torch.zeros_like(x) if need[0] else None
        gy = torch.zeros_like(y) if need[1] else None
        gu = torch.zeros_like(u) if u is not None and need[2] else None
        gv = torch.zeros_like(v) if v is not None and need[3] else None
        for i0, i1, j0, j1 in _tiles(len(x), len(y), ctx.block):
            xi, yj = x[i0:i1].detach(), y[j0:j1].detach()
            ui = None if u is None else u[i0:i1].detach()
            vj = None if v is None else v[j0:j1].detach()
            d2 = sq_dists(xi, yj, exact=ctx.exact, diagonal_zero=ctx.same and i0 == j0)
            k = ctx.fn(d2)
            g = ctx.fn.derivative(d2, k)
            if gx is not None:
                gvec = g.sum(1) if vj is None else g @ vj
                gyv = g @ (yj if vj is None else yj * vj[:, None])
                part = 2 * (xi * gvec[:, None] - gyv)
                gx[i0:i1] += part if ui is None else part * ui[:, None]
            if gy is not None:
                gvec = g.sum(0) if ui is None else ui @ g
                gxu = g.T @ (xi if ui is None else xi * ui[:, None])
                part = 2 * (yj * gvec[:, None] - gxu)
                gy[j0:j1] += part if vj is None else part * vj[:, None]
            if gu is not None:
                gu[i0:i1] += k.sum(1) if vj is None else k @ vj
            if gv is not None:
                gv[j0:j1] += k.sum(0) if ui is None else ui @ k
        return tuple(None if g is None else g * grad for g in (gx, gy, gu, gv)) + (None,) * 4


def pair_sum(x: torch.Tensor, y: torch.Tensor, fn: PairFunction, *, u: torch.Tensor | None = None,
             v: torch.Tensor | None = None, same: bool = False, block: int = 2048,
             exact: bool = False) -> torch.Tensor:
    """Σ_ij u_i v_j fn(‖x_i − y_j‖²), differentiable in x, y, u, v; memory bounded by ``block``.

    ``same=True`` says y is x (within-sample sum): the diagonal distances are exactly 0.
    """
    n, m = x.shape[0], y.shape[0]
    if n <= block and m <= block:
        return _tile(x, y, u, v, fn, exact, same)
    return _BlockedPairSum.apply(x, y, u, v, fn, same, block, exact)
