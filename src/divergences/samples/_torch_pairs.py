r"""Memory-bounded, differentiable sums over all pairs of two samples (torch).

:func:`pair_sum` returns :math:`\sum_{ij} u_i v_j\, k(d^2_{ij})` for squared Euclidean distances
:math:`d^2_{ij} = \|x_i - y_j\|^2` and an elementwise function ``k``. Problems of at most
``block × block`` pairs are computed directly (plain autograd, so higher derivatives work). Larger
ones go through :class:`_BlockedPairSum`: the forward pass visits ``block × block`` tiles under
``no_grad`` and keeps only the scalar; the backward pass visits the tiles again and forms each
tile's gradient in closed form from :math:`k'(d^2)` (two matrix products per tile), so no n × m
matrix is ever held, in the forward or the backward pass. Peak memory is a few tiles (``block² · 8`` bytes each in float64).

Squared distances are ``‖a‖² + ‖b‖² − 2a·b`` clipped at 0 (fast; inputs should be centred by the
caller) or, with ``exact=True``, from coordinate differences (``torch.cdist`` without the matrix
product form: no cancellation; used for the energy distance, which sums the distances themselves). In a within-sample sum (``same=True``)
the diagonal is exactly 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["pair_sum", "sq_dists", "safe_sqrt"]

Kernel = Callable[[torch.Tensor], torch.Tensor]


def safe_sqrt(d2: torch.Tensor) -> torch.Tensor:
    """√d2 with the subgradient 0 at d2 = 0 (no inf·0 = NaN in the backward pass)."""
    positive = d2 > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, d2, torch.ones_like(d2))), torch.zeros_like(d2))


def sq_dists(a: torch.Tensor, b: torch.Tensor, *, exact: bool = False, diagonal_zero: bool = False) -> torch.Tensor:
    """Squared Euclidean distances between the rows of a (…, n, d) and b (…, m, d)."""
    if exact:
        d2 = torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").pow(2)
    else:
        d2 = (a * a).sum(-1).unsqueeze(-1) + (b * b).sum(-1).unsqueeze(-2) - 2 * (a @ b.transpose(-1, -2))
        d2 = d2.clamp_min(0)
    if diagonal_zero:
        eye = torch.eye(d2.shape[-2], d2.shape[-1], dtype=torch.bool, device=d2.device)
        d2 = d2.masked_fill(eye, 0.0)
    return d2


def _tile(x, y, u, v, fn, exact, diagonal_zero):
    k = fn(sq_dists(x, y, exact=exact, diagonal_zero=diagonal_zero))
    if u is not None:
        k = k * u[:, None]
    if v is not None:
        k = k * v[None, :]
    return k.sum()


def _tiles(n: int, m: int, block: int):
    """Tile bounds (row and column slices of at most ``block``)."""
    for i0 in range(0, n, block):
        for j0 in range(0, m, block):
            yield i0, min(i0 + block, n), j0, min(j0 + block, m)


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
    def backward(ctx, grad):  # noqa: D102
        # per tile, with G_ij = u_i v_j k'(d²_ij): ∂/∂x_i = 2(x_i Σ_j G_ij − Σ_j G_ij y_j), and
        # symmetrically for y; ∂/∂u_i = Σ_j v_j k(d²_ij). k' comes from autograd on the tile of d² alone.
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
            d2 = sq_dists(xi, yj, exact=ctx.exact, diagonal_zero=ctx.same and i0 == j0).requires_grad_(True)
            with torch.enable_grad():
                k = ctx.fn(d2)
                weighted = k if ui is None else k * ui[:, None]
                weighted = weighted if vj is None else weighted * vj[None, :]
                (g,) = torch.autograd.grad(weighted.sum(), d2)
            k = k.detach()
            if gx is not None:
                gx[i0:i1] += 2 * (xi * g.sum(1, keepdim=True) - g @ yj)
            if gy is not None:
                gy[j0:j1] += 2 * (yj * g.sum(0)[:, None] - g.T @ xi)
            if gu is not None:
                gu[i0:i1] += (k if vj is None else k * vj[None, :]).sum(1)
            if gv is not None:
                gv[j0:j1] += (k if ui is None else k * ui[:, None]).sum(0)
        return tuple(None if g is None else g * grad for g in (gx, gy, gu, gv)) + (None,) * 4


def pair_sum(x: torch.Tensor, y: torch.Tensor, fn: Kernel, *, u: torch.Tensor | None = None,
             v: torch.Tensor | None = None, same: bool = False, block: int = 2048,
             exact: bool = False) -> torch.Tensor:
    """Σ_ij u_i v_j fn(‖x_i − y_j‖²), differentiable in x, y, u, v; memory bounded by ``block``.

    ``same=True`` says y is x (within-sample sum): the diagonal distances are exactly 0.
    """
    n, m = x.shape[0], y.shape[0]
    if n <= block and m <= block:
        return _tile(x, y, u, v, fn, exact, same)
    return _BlockedPairSum.apply(x, y, u, v, fn, same, block, exact)
