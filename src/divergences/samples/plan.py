r"""The entropic transport plan and its dual potentials, kept lazily: the plan is never formed unless asked for.

:func:`sinkhorn_plan` solves the entropic problem :math:`OT_\varepsilon(a, b) = \min_\pi \langle\pi, C\rangle +
\varepsilon\,\mathrm{KL}(\pi\|a\otimes b)`, :math:`C_{ij} = \|x_i - y_j\|^p`, with the solver of
:func:`~divergences.samples.sinkhorn` (same convergence rule and failure report), and returns a
:class:`TransportPlan`: the potentials f, g with

.. math::
    \pi_{ij} = a_i b_j \exp\bigl((f_i + g_j - C_{ij})/\varepsilon\bigr),

and the operations that use π without holding it: :meth:`TransportPlan.apply` (π v),
:meth:`TransportPlan.apply_transpose` (πᵀ u), the marginals, the barycentric map, each visiting the pairs in
panels of at most 2²⁰ entries, so memory stays that of a panel for any n and m; :meth:`TransportPlan.dense`
forms the n × m matrix when it is wanted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._convergence import EXP_FLOOR, check_solver_options, settle
from ._inputs import as_pair, power_of_two_scale
from ._torch_inputs import any_tensor
from ._transport_inputs import check_p, rescaled_epsilon, tensor_weights_pair, times_scale, weights_pair

__all__ = ["TransportPlan", "sinkhorn_plan"]

#: pairs per panel of the lazy products (8 MiB in float64)
PANEL_PAIRS = 1 << 20


class TransportPlan:
    r"""An entropic transport plan held as its dual potentials: :math:`\pi_{ij} = a_i b_j
    e^{(f_i + g_j - C_{ij})/\varepsilon}`, :math:`C_{ij} = \|x_i - y_j\|^p`.

    Built by :func:`sinkhorn_plan`, or from potentials computed elsewhere (any f, g define a plan; it has the
    marginals a, b only at the Sinkhorn fixed point). NumPy arrays in, NumPy out; torch tensors in, torch out
    (on their device, without autograd: for gradients use :func:`~divergences.samples.sinkhorn`).

    Attributes: ``f`` (n,), ``g`` (m,) the potentials in cost units; ``a``, ``b`` the normalised weights;
    ``epsilon``, ``p``; ``value`` the entropic cost :math:`OT_\varepsilon = \langle a, f\rangle + \langle b,
    g\rangle` (not debiased; NaN when built from arbitrary potentials); ``iterations`` and
    ``marginal_error`` (L1 error of the row marginals) of the solve.

    Convention map: POT's ``ot.sinkhorn(a, b, M, reg, method="sinkhorn_log", log=True)`` returns the dense plan
    and ``log_u``, ``log_v`` with :math:`\pi = e^{\log u_i - M_{ij}/\varepsilon + \log v_j}`, so
    :math:`f = \varepsilon(\log u - \log a)` and :math:`g = \varepsilon(\log v - \log b)` up to a constant moved
    between them; OTT-JAX's ``f``, ``g`` use this convention; GeomLoss's potentials ``F``, ``G``
    (``potentials=True``) are for the cost ‖·‖²/2, that is half of ours at ε = 2·blur².

    >>> import numpy as np
    >>> plan = sinkhorn_plan(np.array([[0.0], [1.0]]), np.array([[0.0], [1.0]]) + 3, epsilon=0.01)
    >>> np.round(plan.dense(), 6).tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    >>> np.round(plan.apply(np.array([1.0, 2.0])), 6).tolist()  # π v without forming π
    [0.5, 1.0]
    """

    def __init__(self, x: Any, y: Any, f: Any, g: Any, *, epsilon: float, p: float = 2,
                 weights: tuple[Any, Any] | None = None, value: float = math.nan, iterations: int = 0,
                 marginal_error: float = math.nan) -> None:
        self.epsilon = check_solver_options(epsilon=epsilon, tol=1.0, max_iter=1, scaling=None,
                                            on_failure="raise")[0]
        self.p = check_p(p)
        self._torch = any_tensor(x, y, f, g)
        # NumPy arrays or torch tensors, as the inputs (hence Any)
        self.x: Any
        self.y: Any
        self.a: Any
        self.b: Any
        self.f: Any
        self.g: Any
        if self._torch:
            import torch

            from ._torch_inputs import as_tensor_pair

            xt, yt = as_tensor_pair(x, y)
            a, b = tensor_weights_pair(weights, xt, yt)
            self.x, self.y, self.a, self.b = xt.detach(), yt.detach(), a.detach(), b.detach()
            self.f = torch.as_tensor(f, dtype=xt.dtype, device=xt.device).detach()
            self.g = torch.as_tensor(g, dtype=xt.dtype, device=xt.device).detach()
        else:
            self.x, self.y = as_pair(x, y)
            self.a, self.b = weights_pair(weights, len(self.x), len(self.y))
            self.f, self.g = np.asarray(f, dtype=np.float64), np.asarray(g, dtype=np.float64)
        n, m = self.x.shape[0], self.y.shape[0]
        if tuple(self.f.shape) != (n,) or tuple(self.g.shape) != (m,):
            raise ValueError(f"f must have shape ({n},) and g shape ({m},), got {tuple(self.f.shape)} and "
                             f"{tuple(self.g.shape)}")
        self.value, self.iterations, self.marginal_error = value, iterations, marginal_error
        # the frame the products are computed in: data divided by a power of two when huge or tiny (and, for
        # torch's matrix-product distances, centred), potentials and ε in the same units
        s = power_of_two_scale(self.x, self.y)
        if self._torch:
            import torch

            centre = torch.cat([self.x, self.y]).mean(0)
            self._xs, self._ys = (self.x - centre) / s, (self.y - centre) / s
        else:
            self._xs, self._ys = self.x / s, self.y / s
        self._eps = rescaled_epsilon(self.epsilon, s, self.p)
        self._fs, self._gs = times_scale(self.f, 1 / s, self.p), times_scale(self.g, 1 / s, self.p)

    # -- the plan, panel by panel ----------------------------------------------------------------------

    def _panels(self):
        """(i0, i1, π[i0:i1]) for row panels of at most :data:`PANEL_PAIRS` entries."""
        n, m = self.x.shape[0], self.y.shape[0]
        rows = max(1, PANEL_PAIRS // max(m, 1))
        eps = self._eps
        if self._torch:
            import torch

            from ._torch_softmin import cost

            with torch.no_grad():
                u = self.a.log() + self._fs / eps
                v = self.b.log() + self._gs / eps
                for i0 in range(0, n, rows):
                    i1 = min(i0 + rows, n)
                    logp = cost(self._xs[i0:i1], self._ys, self.p).div_(-eps).add_(v).add_(u[i0:i1, None])
                    yield i0, i1, logp.clamp_(min=EXP_FLOOR).exp_()
            return
        from ._sinkhorn_numpy import cost_matrix

        with np.errstate(divide="ignore"):
            u = np.log(self.a) + self._fs / eps
            v = np.log(self.b) + self._gs / eps
        zero_a, zero_b = self.a == 0, self.b == 0
        for i0 in range(0, n, rows):
            i1 = min(i0 + rows, n)
            logp = cost_matrix(self._xs[i0:i1], self._ys, self.p)
            logp *= -1.0 / eps
            logp += v
            logp += u[i0:i1, None]
            np.maximum(logp, EXP_FLOOR, out=logp)
            panel = np.exp(logp, out=logp)
            panel[zero_a[i0:i1]] = 0.0  # a weight 0 is a row of zeros (not e^EXP_FLOOR)
            panel[:, zero_b] = 0.0
            yield i0, i1, panel

    def _vector(self, v: Any, length: int, name: str):
        if self._torch:
            import torch

            out = torch.as_tensor(v, dtype=self.x.dtype, device=self.x.device)
        else:
            out = np.asarray(v, dtype=np.float64)
        if out.ndim not in (1, 2) or out.shape[0] != length:
            raise ValueError(f"{name} must have shape ({length},) or ({length}, k), got {tuple(out.shape)}")
        return out

    def apply(self, v: Any) -> Any:
        """π v for v of shape (m,) or (m, k), without forming π: shape (n,) or (n, k)."""
        v = self._vector(v, self.y.shape[0], "v")
        out = self._zeros((self.x.shape[0], *v.shape[1:]))
        for i0, i1, panel in self._panels():
            out[i0:i1] = panel @ v
        return out

    def apply_transpose(self, u: Any) -> Any:
        """πᵀ u for u of shape (n,) or (n, k), without forming π: shape (m,) or (m, k)."""
        u = self._vector(u, self.x.shape[0], "u")
        out = self._zeros((self.y.shape[0], *u.shape[1:]))
        for i0, i1, panel in self._panels():
            out += panel.T @ u[i0:i1]
        return out

    def _zeros(self, shape):
        if self._torch:
            import torch

            return torch.zeros(shape, dtype=self.x.dtype, device=self.x.device)
        return np.zeros(shape)

    def row_marginal(self) -> Any:
        """π 1 (equal to a within ``marginal_error`` in L1 after a solve)."""
        return self.apply(self._ones(self.y.shape[0]))

    def column_marginal(self) -> Any:
        """πᵀ 1 (equal to b up to rounding after a solve: the last update makes the columns exact)."""
        return self.apply_transpose(self._ones(self.x.shape[0]))

    def _ones(self, n):
        if self._torch:
            import torch

            return torch.ones(n, dtype=self.x.dtype, device=self.x.device)
        return np.ones(n)

    def barycentric_map(self) -> Any:
        """T(x_i) = Σ_j π_ij y_j / Σ_j π_ij, shape (n, d): where the plan sends each point on average (the
        Monge map estimate of entropic OT; rows of zero mass give NaN-free zeros)."""
        moved = self.apply(self.y)
        mass = self.row_marginal()
        if self._torch:
            return moved / mass.clamp_min(1e-300)[:, None]
        return moved / np.maximum(mass, 1e-300)[:, None]

    def dense(self) -> Any:
        """The n × m matrix π (formed: n·m numbers)."""
        out = self._zeros((self.x.shape[0], self.y.shape[0]))
        for i0, i1, panel in self._panels():
            out[i0:i1] = panel
        return out

    def __repr__(self) -> str:
        return (f"TransportPlan(n={self.x.shape[0]}, m={self.y.shape[0]}, epsilon={self.epsilon:g}, p={self.p:g}, "
                f"value={float(self.value):.6g}, marginal_error={float(self.marginal_error):.2g})")


def sinkhorn_plan(x: Any, y: Any, *, epsilon: float, p: float = 2, weights: tuple[Any, Any] | None = None,
                  max_iter: int = 10_000, tol: float = 1e-6, scaling: float | None = 0.5, on_failure: str = "raise",
                  block: int = 2048) -> TransportPlan:
    r"""The entropic transport plan between samples, as its dual potentials (:class:`TransportPlan`).

    Solves :math:`OT_\varepsilon(a, b)` (cost :math:`\|x_i - y_j\|^p`, ε in cost units) exactly as
    :func:`~divergences.samples.sinkhorn` with ``debiased=False`` does (ε-scaling, over-relaxation, Newton steps
    at small ε, the exact dual as the start below 1e-4 × max C; the same options), and returns the potentials
    with lazy products by the plan. ``plan.value`` equals ``sinkhorn(x, y, debiased=False, ...)``. A solve that
    does not reach ``tol`` raises :class:`~divergences.samples.SinkhornConvergenceError` (or warns with
    ``on_failure="warn"``), stating the marginal error reached. Points of weight 0 are left out of the solve;
    their potential is the soft c-transform of the other side's, so that their row (or column) of π is 0.

    >>> import numpy as np
    >>> plan = sinkhorn_plan(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 2.0], [1.0, 2.0]]), epsilon=0.01)
    >>> round(plan.value, 4)  # W2² + ε KL(π‖a⊗b) = 4 + 0.01 log 2: the plan is a permutation
    4.0069
    >>> np.round(plan.barycentric_map(), 4).tolist()
    [[0.0, 2.0], [1.0, 2.0]]
    """
    eps, tol, max_iter, scaling, on_failure = check_solver_options(epsilon=epsilon, tol=tol, max_iter=max_iter,
                                                                   scaling=scaling, on_failure=on_failure)
    p = check_p(p)
    if not isinstance(block, (int, np.integer)) or isinstance(block, bool) or block < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    if any_tensor(x, y):
        return _plan_torch(x, y, eps=eps, p=p, weights=weights, max_iter=max_iter, tol=tol, scaling=scaling,
                           on_failure=on_failure, block=int(block))
    from ._sinkhorn_numpy import cost_matrix, entropic_ot, update_f, update_g

    xa, ya = as_pair(x, y)
    a, b = weights_pair(weights, len(xa), len(ya))
    s = power_of_two_scale(xa, ya)
    xs, ys, eps_s = xa / s, ya / s, rescaled_epsilon(eps, s, p)
    keep_a, keep_b = a > 0, b > 0
    value, iterations, err, finite, f, g = entropic_ot(cost_matrix(xs[keep_a], ys[keep_b], p), a[keep_a], b[keep_b],
                                                       eps_s, max_iter=max_iter, tol=tol, scaling=scaling)
    settle("sinkhorn_plan", err=err, tol=tol, iterations=iterations, epsilon=eps, finite=finite,
           on_failure=on_failure)
    if not (keep_a.all() and keep_b.all()):  # soft c-transforms onto the points of weight 0
        cost = cost_matrix(xs, ys, p)
        f_all, g_all = np.empty(len(xs)), np.empty(len(ys))
        f_all[keep_a], g_all[keep_b] = f, g
        with np.errstate(divide="ignore"):
            log_a, log_b = np.log(a), np.log(b)
        g_ext = np.where(keep_b, g_all, 0.0)
        f_all[~keep_a] = update_f(-cost[~keep_a] / eps_s, log_b, g_ext, eps_s, np.empty((int((~keep_a).sum()), len(ys))))
        f_ext = np.where(keep_a, f_all, 0.0)
        g_all[~keep_b] = update_g(-cost[:, ~keep_b] / eps_s, log_a, f_ext, eps_s, np.empty((len(xs), int((~keep_b).sum()))))
        f, g = f_all, g_all
    scale = times_scale(1.0, s, p)
    return TransportPlan(xa, ya, f * scale, g * scale, epsilon=eps, p=p, weights=(a, b), value=value * scale,
                         iterations=iterations, marginal_error=err)


def _plan_torch(x, y, *, eps, p, weights, max_iter, tol, scaling, on_failure, block) -> TransportPlan:
    import torch

    from ._threads import solver_threads
    from ._torch_inputs import as_tensor_pair
    from ._torch_transport import _potentials, solver_frame

    xt, yt = as_tensor_pair(x, y)
    a, b = tensor_weights_pair(weights, xt, yt)
    if bool((a == 0).any()) or bool((b == 0).any()):
        raise ValueError("weights: the torch path needs positive weights (drop zero-weight samples first)")
    u, v, s, eps_s, e0 = solver_frame(xt[None].detach(), yt[None].detach(), eps, p)
    la, lb = a.detach().double().log()[None], b.detach().double().log()[None]
    with solver_threads(xt.shape[0] * yt.shape[0], xt.device.type):
        f, g, iterations, err, finite = _potentials(u, v, la, lb, eps_s, p, block, scaling=scaling, e0=e0,
                                                    max_iter=max_iter, tol=tol, symmetric=False)
    settle("sinkhorn_plan", err=err, tol=tol, iterations=iterations, epsilon=eps, finite=finite,
           on_failure=on_failure)
    scale = times_scale(1.0, s, p)
    value = float((la.exp() * f).sum() + (lb.exp() * g).sum()) * scale
    f, g = (t[0].to(xt.dtype) * scale for t in (f, g))
    with torch.no_grad():
        return TransportPlan(xt.detach(), yt.detach(), f, g, epsilon=eps, p=p, weights=(a.detach(), b.detach()),
                             value=value, iterations=iterations, marginal_error=err)
