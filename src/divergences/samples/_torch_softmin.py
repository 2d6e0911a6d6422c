r"""The tiled soft-min of the torch Sinkhorn solver: forward, closed-form backward and plan tiles.

For batched points x (B, n, d), y (B, m, d) and a log-weight vector h (B, m),

.. math::
    \operatorname{softmin}(x, y, h)_i = -\varepsilon \log \sum_j \exp\bigl(h_j - C(x_i, y_j)/\varepsilon\bigr),
    \qquad C(x, y) = \|x - y\|^p .

Panels. The pairs are visited in row panels of at most P = min(``block²``, 2²⁰) entries: ``r = P // m``
full rows at a time when m ≤ P (one log-sum-exp per row, no combination across panels), else
column panels of P columns combined by ``logaddexp``. Only one panel is alive at a time, so
memory is P · 8 bytes (8 MiB in float64) whatever n and m.

Scores. For p = 2 a panel of scores :math:`s_{ij} = h_j - C_{ij}/\varepsilon` is one batched
matrix product, :math:`s_{ij} = (h_j - \|y_j\|^2/\varepsilon) + \tfrac{2}{\varepsilon} x_i\cdot y_j
- \|x_i\|^2/\varepsilon` (``baddbmm``), and the log-sum-exp runs in place on it; other p form the
exact distances of the panel. Exponents are floored at
:data:`~._convergence.EXP_FLOOR` (an underflowing ``exp`` is 15× slower).

Backward. With the output f saved, the normalised row plan is :math:`\pi_{ij} = \exp(s_{ij} +
f_i/\varepsilon)` and :math:`\partial f_i/\partial h_j = -\varepsilon\pi_{ij}`, :math:`\partial
f_i/\partial C_{ij} = \pi_{ij}`. For p = 2 the cost's derivative is closed form: with
:math:`W_{ij} = \bar f_i\pi_{ij}`, :math:`\bar x_i = 2(x_i\sum_j W_{ij} - \sum_j W_{ij} y_j)` and
:math:`\bar y_j = 2(y_j\sum_i W_{ij} - \sum_i W_{ij} x_i)`, two matrix products per panel; other p
differentiate the panel's cost by autograd.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from ._convergence import EXP_FLOOR
from ._threads import solver_threads
from ._torch_pairs import safe_sqrt, sq_dists

__all__ = ["cost", "panels", "plan_entries", "scores", "softmin", "workspace"]


def cost(x: torch.Tensor, y: torch.Tensor, p: float) -> torch.Tensor:
    """‖x − y‖^p: the fast expansion for p = 2, exact distances otherwise (a root of the expansion's
    rounding would show as ≈1e-8·‖x‖ between coincident points)."""
    if p == 2:
        return sq_dists(x, y)
    d = safe_sqrt(sq_dists(x, y, exact=True))
    return d if p == 1 else d**p


#: panels hold at most this many pairs whatever ``block`` (8 MiB in float64: a panel stays in cache between
#: the passes of its log-sum-exp; measured 2× faster than 32 MiB panels at n = m = 2000)
PANEL_PAIRS = 1 << 20


def panels(n: int, m: int, block: int) -> Iterator[tuple[int, int, int, int]]:
    """Row and column bounds (i0, i1, j0, j1) of panels of at most min(``block²``, :data:`PANEL_PAIRS`) pairs
    (full rows while m fits)."""
    budget = min(block * block, PANEL_PAIRS)
    cols = min(m, budget)
    rows = max(1, budget // cols)
    for i0 in range(0, n, rows):
        for j0 in range(0, m, cols):
            yield i0, min(i0 + rows, n), j0, min(j0 + cols, m)


def workspace(like: torch.Tensor, batch: int, n: int, m: int, block: int) -> torch.Tensor:
    """One flat buffer for the largest panel of a pass: every panel of the pass is written into it, so a pass
    allocates it once (freeing and allocating a panel per step fragments glibc's heap: measured, the resident
    set then kept ~150 MiB more than the live memory at n = m = 6000)."""
    i0, i1, j0, j1 = next(panels(n, m, block))
    return like.new_empty(batch * (i1 - i0) * (j1 - j0))


def scores(x: torch.Tensor, y: torch.Tensor, h: torch.Tensor, eps: float, p: float,
           work: torch.Tensor | None = None) -> torch.Tensor:
    """s_ij = h_j − C(x_i, y_j)/ε for x (B, r, d), y (B, c, d), h (B, c): a (B, r, c) tensor. For p = 2 it is
    written into the front of ``work`` (see :func:`workspace`) when given; other p form their own panel of
    exact distances, so ``work`` is not used."""
    if p != 2:
        return cost(x, y, p).div_(-eps).add_(h[:, None, :])
    shape = (x.shape[0], x.shape[1], y.shape[1])
    out = None if work is None else work[:math.prod(shape)].view(shape)
    shifted = h - (y * y).sum(-1) / eps
    s = torch.baddbmm(shifted[:, None, :], x, y.transpose(1, 2), alpha=2 / eps, out=out)
    return s.sub_(((x * x).sum(-1) / eps)[:, :, None])


def _logsumexp_(s: torch.Tensor) -> torch.Tensor:
    """log Σ_j exp(s_ij) along the last axis, overwriting s (no second panel)."""
    top = s.amax(-1, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    return s.sub_(top).clamp_(min=EXP_FLOOR).exp_().sum(-1).log_().add_(top[..., 0])


class _Softmin(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y, h, eps, p, block):  # noqa: D102 - see the module notes
        B, n, m = x.shape[0], x.shape[1], y.shape[1]
        lse = x.new_empty(B, n)
        with torch.no_grad():
            work = workspace(x, B, n, m, block)
            for i0, i1, j0, j1 in panels(n, m, block):
                part = _logsumexp_(scores(x[:, i0:i1], y[:, j0:j1], h[:, j0:j1], eps, p, work))
                lse[:, i0:i1] = part if j0 == 0 else torch.logaddexp(lse[:, i0:i1], part)
        out = lse.mul_(-eps)
        ctx.save_for_backward(x, y, h, out)
        ctx.eps, ctx.p, ctx.block = eps, p, block
        return out

    @staticmethod
    def backward(ctx, gf):  # noqa: D102  # pyright: ignore[reportIncompatibleMethodOverride]
        x = ctx.saved_tensors[0]
        with solver_threads(x.shape[0] * x.shape[1] * ctx.saved_tensors[1].shape[1], x.device.type):
            return _Softmin._backward(ctx, gf)

    @staticmethod
    def _backward(ctx, gf):
        x, y, h, f = ctx.saved_tensors
        eps, p = ctx.eps, ctx.p
        need_x, need_y, need_h = ctx.needs_input_grad[:3]
        # accumulated only where needed (the others are returned as None)
        gx, gy, gh = torch.zeros_like(x), torch.zeros_like(y), torch.zeros_like(h)
        x, y, h = x.detach(), y.detach(), h.detach()
        work = workspace(x, x.shape[0], x.shape[1], y.shape[1], ctx.block)
        for i0, i1, j0, j1 in panels(x.shape[1], y.shape[1], ctx.block):
            xi, yj = x[:, i0:i1], y[:, j0:j1]
            w = scores(xi, yj, h[:, j0:j1], eps, p, work).add_(f[:, i0:i1, None] / eps).clamp_(min=EXP_FLOOR).exp_()  # π, rows normalised
            w.mul_(gf[:, i0:i1, None])
            if need_h:
                gh[:, j0:j1] -= eps * w.sum(1)
            if p == 2:
                if need_x:
                    gx[:, i0:i1] += 2 * (xi * w.sum(2, keepdim=True) - torch.bmm(w, yj))
                if need_y:
                    gy[:, j0:j1] += 2 * (yj * w.sum(1)[..., None] - torch.bmm(w.transpose(1, 2), xi))
            elif need_x or need_y:
                xg, yg = xi.requires_grad_(need_x), yj.requires_grad_(need_y)
                with torch.enable_grad():
                    grads = iter(torch.autograd.grad((w * cost(xg, yg, p)).sum(), [t for t in (xg, yg) if t.requires_grad]))
                if need_x:
                    gx[:, i0:i1] += next(grads)
                if need_y:
                    gy[:, j0:j1] += next(grads)
        return gx if need_x else None, gy if need_y else None, gh if need_h else None, None, None, None


def softmin(x: torch.Tensor, y: torch.Tensor, h: torch.Tensor, eps: float, p: float, block: int) -> torch.Tensor:
    """−ε log Σ_j exp(h_j − C(x_i, y_j)/ε), shape (B, n); differentiable in x, y and h."""
    return _Softmin.apply(x, y, h, eps, p, block)


def plan_entries(x: torch.Tensor, y: torch.Tensor, u: torch.Tensor, v: torch.Tensor, row: torch.Tensor,
                 eps: float, p: float, block: int, drop: float, limit: int):
    """The entries log π_ij = u_i + v_j − C_ij/ε ≥ row_i + log(drop) of one problem (x (n, d), y (m, d)),
    visited in panels, as NumPy (rows, cols, values = π_ij), or None as soon as there are more than ``limit``."""
    import numpy as np

    rows, cols, vals, total, floor = [], [], [], 0, row + math.log(drop)
    work = workspace(x, 1, x.shape[0], y.shape[0], block)
    for i0, i1, j0, j1 in panels(x.shape[0], y.shape[0], block):
        logp = scores(x[None, i0:i1], y[None, j0:j1], v[None, j0:j1], eps, p, work)[0].add_(u[i0:i1, None])
        i, j = (logp >= floor[i0:i1, None]).nonzero(as_tuple=True)
        total += len(i)
        if total > limit:
            return None
        rows.append((i + i0).to(torch.int32).cpu().numpy())
        cols.append((j + j0).to(torch.int32).cpu().numpy())
        vals.append(logp[i, j].exp().double().cpu().numpy())
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
