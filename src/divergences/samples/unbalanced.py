r"""Unbalanced entropic optimal transport between samples: marginals relaxed by a KL penalty.

.. math::
    OT_{\varepsilon,\rho}(\alpha, \beta) = \min_{\pi \ge 0} \langle\pi, C\rangle
    + \varepsilon\,\mathrm{KL}(\pi\|\alpha\otimes\beta) + \rho\,\mathrm{KL}(\pi\mathbf 1\|\alpha)
    + \rho\,\mathrm{KL}(\pi^\top\mathbf 1\|\beta),

with :math:`C_{ij} = \|x_i - y_j\|^p` and the KL of positive measures, :math:`\mathrm{KL}(\mu\|\nu) =
\sum \mu\log(\mu/\nu) - \mu + \nu`. The masses α, β need not be equal: mass may be created or destroyed at a
price ρ per unit of KL, so outliers far from the other cloud are left untransported rather than dragging the
value (Séjourné et al. 2019; Chizat et al. 2018). As ρ → ∞ it is the balanced :math:`OT_\varepsilon`.

Solver. The dual potentials satisfy :math:`f = \lambda\,T_\beta(g)`, :math:`g = \lambda\,T_\alpha(f)` with the
soft-min operators of the balanced problem and :math:`\lambda = \rho/(\rho + \varepsilon)` (OTT's τ): a
contraction of factor λ < 1 in the sup norm, so the iteration converges linearly from any start. The
iterations follow the policy of :mod:`._convergence` (ε-scaling from the largest cost, adaptive
over-relaxation for x ≠ y, averaged updates for the symmetric problems, a bounded number of iterations); each
iteration also moves f by the best constant (the direction in which the contraction is only 1 − ε/ρ, slow when
ρ ≫ ε; translation-invariant Sinkhorn, Séjourné et al. 2022: ρ = 1e7 ε converges in tens of iterations), and stop
when the first-order condition of the rows, :math:`\pi\mathbf 1 = \alpha e^{-f/\rho}`, holds to ``tol`` in
relative L1 norm (the columns hold exactly after each update); otherwise
:class:`~divergences.samples.SinkhornConvergenceError` (or a warning) states the error reached. The value is
the dual objective

.. math::
    \langle\alpha, \rho(1 - e^{-f/\rho})\rangle + \langle\beta, \rho(1 - e^{-g/\rho})\rangle
    - \varepsilon\bigl(m(\pi) - m(\alpha)m(\beta)\bigr),

equal to the primal at the optimum; on tensors it is evaluated once with autograd on and the potentials fixed
(envelope theorem: gradients in x, y and the masses, no unrolling).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._convergence import Overrelaxation, check_solver_options, epsilon_path, settle
from ._inputs import as_masses, as_pair, check_positive, power_of_two_scale
from ._torch_inputs import any_tensor
from ._transport_inputs import check_p, rescaled_epsilon, times_scale

__all__ = ["unbalanced_sinkhorn"]


def _masses_torch(w: Any, n: int, name: str, like: Any):
    import torch

    if w is None:
        return torch.full((n,), 1.0 / n, dtype=like.dtype, device=like.device)
    try:
        t = torch.as_tensor(w, dtype=like.dtype, device=like.device)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be an array of positive masses, got {type(w).__name__}") from None
    if tuple(t.shape) != (n,):
        raise ValueError(f"{name} must have shape ({n},), one mass per sample, got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or bool((t <= 0).any()):
        raise ValueError(f"{name} must be finite and positive on the torch path (drop zero-mass samples first)")
    return t


def _check_rho(rho: Any, reach: Any, p: float) -> float:
    if (rho is None) == (reach is None):
        raise ValueError("give exactly one of rho (the marginal penalty, POT's reg_m) and reach (GeomLoss's, "
                         "rho = reach**p)")
    if rho is not None:
        return check_positive(rho, "rho")
    value = check_positive(reach, "reach") ** p
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"reach**p must be a finite number > 0, got reach={reach!r}, p={p:g}")
    return value


def _solve(ops, *, a, b, eps, rho, e0, scaling, max_iter, tol, symmetric):
    """(f, g, iterations, relative error, finite) of one problem; ``ops.tb(g, e)`` and ``ops.ta(f, e)`` are
    the soft-min operators at the level e, ``ops.xp`` the array module."""
    xp = ops.xp
    f = ops.zeros_a()
    g = ops.zeros_b()
    for e in epsilon_path(e0, eps, scaling):
        lam = rho / (rho + e)
        g = lam * ops.ta(f, e)
        f = 0.5 * (f + g) if symmetric else lam * ops.tb(g, e)
    lam = rho / (rho + eps)
    mass = float(a.sum())
    err, it = math.inf, 0
    relax = Overrelaxation()
    f_new = f
    while it < max_iter:
        it += 1
        g = lam * ops.ta(f, eps)  # the columns of π(f, g) now meet their condition
        f, g = _shift(xp, a, b, f, g, eps, rho, lam, symmetric)
        if symmetric:
            # rows of π(f, f) are α e^{(f − T(f))/ε}; the condition is α e^{−f/ρ}; g = λ T(f)
            gap = f / eps - g / (lam * eps) + f / rho
        else:
            f_new = lam * ops.tb(g, eps)
            gap = f / eps - f_new / (lam * eps) + f / rho
        err = float((a * xp.exp(-f / rho) * xp.abs(xp.expm1(gap))).sum()) / mass
        if not err >= tol:
            break
        if symmetric:
            f = g = 0.5 * (f + g)
        else:
            f = f + relax.step(err) * (f_new - f)
    finite = bool(xp.isfinite(f).all()) and bool(xp.isfinite(g).all())
    return f, g, it, err, finite


def _log_sum(xp, w, v) -> float:
    """log Σ w e^v (max-shifted: the sums underflow when the plan is nearly empty)."""
    top = float(v.max())
    return top + math.log(float((w * xp.exp(v - top)).sum()))


def _shift(xp, a, b, f, g, eps, rho, lam, symmetric):
    """The best constant shift s of f along which g = λ T(f) follows (g − λs): the direction in which the
    iteration contracts only by λ per step (1 − ε/ρ: slow for ρ ≫ ε), maximised exactly. With A = ⟨α, e^{−f/ρ}⟩
    and B = ⟨β, e^{−g/ρ}⟩ (= m(π), the columns being exact), the dual along the shift is maximal at
    s = ρ(ρ + ε)/(2ρ + ε) · log(A/B); for the symmetric problem (one potential, m(π) = ⟨α, e^{(f − g/λ)/ε}⟩),
    at s = log(A/m(π)) / (1/ρ + 2/ε). The columns stay exact (translation-invariant Sinkhorn, Séjourné et al.
    2022)."""
    log_a = _log_sum(xp, a, -f / rho)
    if symmetric:
        step = (log_a - _log_sum(xp, a, (f - g / lam) / eps)) / (1 / rho + 2 / eps)
    else:
        step = (log_a - _log_sum(xp, b, -g / rho)) * rho * (rho + eps) / (2 * rho + eps)
    if not math.isfinite(step):
        return f, g
    return f + step, g - lam * step


class _NumpyOps:
    xp = np

    def __init__(self, cost: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        self.cost, self.log_a, self.log_b = cost, np.log(a), np.log(b)
        self.buf = np.empty_like(cost)
        self._e: float = math.nan
        self._neg: np.ndarray = self.buf

    def _neg_cost(self, e: float) -> np.ndarray:
        if e != self._e:  # −C/e, formed once per level
            self._e, self._neg = e, np.multiply(self.cost, -1.0 / e)
        return self._neg

    def tb(self, g, e):
        from ._sinkhorn_numpy import update_f

        return update_f(self._neg_cost(e), self.log_b, g, e, self.buf)

    def ta(self, f, e):
        from ._sinkhorn_numpy import update_g

        return update_g(self._neg_cost(e), self.log_a, f, e, self.buf)

    def zeros_a(self):
        return np.zeros(len(self.log_a))

    def zeros_b(self):
        return np.zeros(len(self.log_b))


def _value(xp, a, b, f, g, mass_pi, eps, rho):
    phi = (a * (-rho * xp.expm1(-f / rho))).sum() + (b * (-rho * xp.expm1(-g / rho))).sum()
    return phi - eps * (mass_pi - a.sum() * b.sum())


def unbalanced_sinkhorn(x: Any, y: Any, *, epsilon: float, rho: float | None = None, reach: float | None = None,
                        p: float = 2, debiased: bool = True, weights: tuple[Any, Any] | None = None,
                        max_iter: int = 10_000, tol: float = 1e-6, scaling: float | None = 0.5,
                        on_failure: str = "raise", block: int = 2048) -> Any:
    r"""Unbalanced entropic transport cost :math:`OT_{\varepsilon,\rho}` between samples, or its debiased
    divergence (the module notes give the formula and the solver).

    ``weights=(α, β)`` are the *masses* of the samples (not normalised; default 1/n each, total mass 1 as in
    GeomLoss). The marginal penalty is ``rho`` (POT's ``reg_m``) or ``reach`` (GeomLoss's, ρ = reach^p): a
    distance beyond about ``reach`` costs more to transport than to destroy and recreate. ε is in cost units
    (squared units of x for p = 2). With ``debiased=True`` (default) the unbalanced Sinkhorn divergence

    .. math::
        S_{\varepsilon,\rho}(\alpha,\beta) = OT_{\varepsilon,\rho}(\alpha,\beta) - \tfrac12 OT_{\varepsilon,\rho}(\alpha,\alpha)
        - \tfrac12 OT_{\varepsilon,\rho}(\beta,\beta) + \tfrac\varepsilon2\bigl(m(\alpha) - m(\beta)\bigr)^2

    (Séjourné et al. 2019), ≥ 0 and 0 for equal measures. Convention map: POT's
    ``ot.unbalanced.sinkhorn_unbalanced(a, b, M, reg=ε, reg_m=ρ)`` (``reg_type="kl"``, the default since POT
    0.9.5) solves this problem and returns its plan (``sinkhorn_unbalanced2`` returns ⟨π, M⟩ by default, not
    this value); GeomLoss's ``SamplesLoss("sinkhorn", p=2, blur=b, reach=r)`` uses the cost ‖·‖²/2, ε = b² and
    ρ = r², so our ε, ρ are twice its; OTT's ``tau_a = tau_b = ρ/(ρ + ε)``.

    Torch tensors in (x (n, d) and y (m, d), positive masses): a differentiable 0-d tensor, by the envelope
    theorem, with the tiled soft-min of :func:`~divergences.samples.sinkhorn` (no n × m matrix).

    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0]])
    >>> value = unbalanced_sinkhorn(x, x + 100.0, epsilon=0.01, rho=1.0, debiased=False)
    >>> round(value, 4)  # too far to transport: π ≈ 0, ρ m(α) + ρ m(β) + ε m(α) m(β) = 1 + 1 + 0.01
    2.01
    """
    eps, tol, max_iter, scaling, on_failure = check_solver_options(epsilon=epsilon, tol=tol, max_iter=max_iter,
                                                                   scaling=scaling, on_failure=on_failure)
    p = check_p(p)
    rho = _check_rho(rho, reach, p)
    if not isinstance(debiased, (bool, np.bool_)):
        raise ValueError(f"debiased must be True or False, got {debiased!r}")
    if not isinstance(block, (int, np.integer)) or isinstance(block, bool) or block < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    if weights is not None and (not isinstance(weights, (tuple, list)) or len(weights) != 2):
        raise ValueError("weights must be a pair (masses_x, masses_y); either may be None")
    wx, wy = weights if weights is not None else (None, None)
    if any_tensor(x, y):
        return _unbalanced_torch(x, y, wx, wy, eps=eps, rho=rho, p=p, debiased=bool(debiased), max_iter=max_iter,
                                 tol=tol, scaling=scaling, on_failure=on_failure, block=int(block))
    from ._sinkhorn_numpy import cost_matrix

    xa, ya = as_pair(x, y)
    a, b = as_masses(wx, len(xa), "weights[0]"), as_masses(wy, len(ya), "weights[1]")
    s = power_of_two_scale(xa, ya)
    xa, ya = xa / s, ya / s
    eps_s, rho_s = rescaled_epsilon(eps, s, p), rescaled_epsilon(rho, s, p)
    xa, a = xa[a > 0], a[a > 0]
    ya, b = ya[b > 0], b[b > 0]
    same = xa.shape == ya.shape and np.array_equal(xa, ya) and np.array_equal(a, b)
    problems = [("OT(x, y)", xa, ya, a, b, 1.0, same)]
    if debiased:
        problems += [("OT(x, x)", xa, xa, a, a, -0.5, True), ("OT(y, y)", ya, ya, b, b, -0.5, True)]
    total = 0.5 * eps_s * (a.sum() - b.sum()) ** 2 if debiased else 0.0
    for label, u, v, wu, wv, sign, symmetric in problems:
        cost = cost_matrix(u, v, p)
        ops = _NumpyOps(cost, wu, wv)
        f, g, it, err, finite = _solve(ops, a=wu, b=wv, eps=eps_s, rho=rho_s, e0=float(cost.max()), scaling=scaling,
                                       max_iter=max_iter, tol=tol, symmetric=symmetric)
        settle(f"unbalanced_sinkhorn: {label}", err=err, tol=tol, iterations=it, epsilon=eps, finite=finite,
               on_failure=on_failure, what="relative marginal error")
        mass_pi = float((wu * np.exp((f - ops.tb(g, eps_s)) / eps_s)).sum())
        total += sign * float(_value(np, wu, wv, f, g, mass_pi, eps_s, rho_s))
    return float(times_scale(total, s, p))


class _TorchOps:
    def __init__(self, x, y, la, lb, p, block):
        import torch

        self.xp = torch
        self.x, self.y, self.la, self.lb, self.p, self.block = x, y, la, lb, p, block

    def tb(self, g, e):
        from ._torch_softmin import softmin

        return softmin(self.x[None], self.y[None], (self.lb + g / e)[None], e, self.p, self.block)[0]

    def ta(self, f, e):
        from ._torch_softmin import softmin

        return softmin(self.y[None], self.x[None], (self.la + f / e)[None], e, self.p, self.block)[0]

    def zeros_a(self):
        return self.la.new_zeros(self.la.shape)

    def zeros_b(self):
        return self.lb.new_zeros(self.lb.shape)


def _unbalanced_torch(x, y, wx, wy, *, eps, rho, p, debiased, max_iter, tol, scaling, on_failure, block):
    import torch

    from ._threads import solver_threads
    from ._torch_inputs import as_tensor_pair
    from ._torch_softmin import softmin
    from ._torch_transport import solver_frame

    xt, yt = as_tensor_pair(x, y)
    a, b = _masses_torch(wx, xt.shape[0], "weights[0]", xt), _masses_torch(wy, yt.shape[0], "weights[1]", yt)
    xs, ys, s, eps_s, e0 = solver_frame(xt[None], yt[None], eps, p)
    xs, ys = xs[0], ys[0]
    rho_s = rescaled_epsilon(rho, s, p)
    same = xs.shape == ys.shape and torch.equal(xs.detach(), ys.detach()) and torch.equal(a.detach(), b.detach())
    problems = [("OT(x, y)", xs, ys, a, b, 1.0, same)]
    if debiased:
        problems += [("OT(x, x)", xs, xs, a, a, -0.5, True), ("OT(y, y)", ys, ys, b, b, -0.5, True)]
    total = 0.5 * eps_s * (a.sum() - b.sum()) ** 2 if debiased else xs.new_zeros(())
    with solver_threads(max(xs.shape[0], ys.shape[0]) ** 2, xs.device.type):
        for label, u, v, wu, wv, sign, symmetric in problems:
            with torch.no_grad():
                ud, vd, wud, wvd = (t.detach().double() for t in (u, v, wu, wv))
                ops = _TorchOps(ud, vd, wud.log(), wvd.log(), p, block)
                f, g, it, err, finite = _solve(ops, a=wud, b=wvd, eps=eps_s, rho=rho_s, e0=e0, scaling=scaling,
                                               max_iter=max_iter, tol=tol, symmetric=symmetric)
            settle(f"unbalanced_sinkhorn: {label}", err=err, tol=tol, iterations=it, epsilon=eps, finite=finite,
                   on_failure=on_failure, what="relative marginal error", stacklevel=4)
            f, g = f.to(u.dtype), g.to(u.dtype)
            tb = softmin(u[None], v[None], (wv.log() + g / eps_s)[None], eps_s, p, block)[0]  # differentiable
            mass_pi = (wu * torch.exp((f - tb) / eps_s)).sum()
            total = total + sign * _value(torch, wu, wv, f, g, mass_pi, eps_s, rho_s)
    return times_scale(total, s, p)
