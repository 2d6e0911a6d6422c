r"""Optimal transport between samples: exact Wasserstein distances and log-domain Sinkhorn.

Ground cost :math:`c(u, v) = \|u - v\|^p` (Euclidean norm, no ½ factor). :func:`wasserstein`
returns the distance :math:`W_p` (the p-th root of the optimal cost); :func:`sinkhorn` returns an
entropic transport *cost*, on the scale of :math:`W_p^p`.

Sinkhorn numerics (written for small ε, where the textbook scaling iterations underflow to a
plan of zeros and return ≈ 0): the dual potentials f, g are updated in the log domain,

.. math::
    g_j = -\varepsilon\log\sum_i a_i e^{(f_i - C_{ij})/\varepsilon},\qquad
    f_i = -\varepsilon\log\sum_j b_j e^{(g_j - C_{ij})/\varepsilon},

with a max-shifted log-sum-exp, so nothing underflows at any ε > 0. After each pair of updates the
plan :math:`\pi_{ij} = a_i b_j e^{(f_i + g_j - C_{ij})/\varepsilon}` has exact column marginals,
and the iteration stops when the L1 error of its row marginals, :math:`\sum_i |\pi_i - a_i|`, is below
``tol``. The symmetric problems (x against itself, in the debiased divergence or when y equals x) use one
potential and the averaged update :math:`f \leftarrow \tfrac12(f + T(f))`, which does not oscillate.
ε-scaling (``scaling=s``, on by default with s = ½ as in GeomLoss; ``None`` turns it off) starts at
ε₀ = max C (NumPy) or the squared diameter (torch) and multiplies ε by s after each update pair until
it reaches ε, warm-starting the final iterations, which use the adaptive over-relaxation of
:class:`~._convergence.Overrelaxation`. At small ε that is not enough (the plan is close to a permutation and
Sinkhorn enters a sublinear phase: 200 standardised 2-D points at ε = 0.01 are at a marginal error
of 3e-6 after 20 000 over-relaxed iterations), so a problem x ≠ y still above ``tol`` after
:data:`~._convergence.NEWTON_AFTER` = 50 iterations at ε, whose measured rate (over the last 10 iterations) says it
would need more than :data:`~._convergence.NEWTON_WORTH` = 50 more, is finished by Newton steps on the semi-dual
(:mod:`._sinkhorn_newton`, each counted as one iteration); a plan too dense for a Newton system
(moderate ε) goes back to Sinkhorn updates; the Newton moves are bounded by a trust radius (10ε at first,
growing fourfold after each step accepted at the radius). ε = 0.01 and 0.05 on 200 or 2000 standardised points
in 2-D and 10-D reach ``tol`` = 1e-6 in 55–100 iterations with the defaults. Below 1e-4 × the largest cost
(and for at most 2²² pairs) the potentials start from the dual of the exact problem (POT's network simplex)
instead of the ε-scaling path: from there the remaining moves are of order ε log n, and 50 points converge
in 61–67 iterations at ε = 1e-6 … 1e-10 × max C (the ε-scaling path needed 250–920 iterations at 1e-6 and did
not converge within 10 000 at 1e-8).

Scale. Data whose largest coordinate is above 1e100 or below 1e-100 are divided by a power of two
(exact) and ε by its p-th power; the value is multiplied back (inf if it exceeds the float64 range; an ε
that the division makes subnormal is refused by name). Weights are relative: they are brought near 1 by a
power of two before they are normalised, so weights whose sum overflows give the value of the same
weights divided by their sum.
The symmetric problems use the averaged update (for p = 1, 2, where e^{−C/ε} is a positive definite
kernel, its linear rate is at most ½) and need no Newton step. If the error is still above ``tol``
after ``max_iter`` iterations (or a potential is not finite) :func:`sinkhorn` raises
:class:`SinkhornConvergenceError` (``on_failure="raise"``, the default) or returns the value with a
:class:`SinkhornConvergenceWarning` (``on_failure="warn"``): never a silently wrong number.

Where the code lives: this module is the public API (argument checks, weights, the debiased sum);
:mod:`._sinkhorn_numpy` is the NumPy solver, :mod:`._torch_transport` its torch twin, and
:mod:`._convergence` the iteration policy both follow (ε path, over-relaxation, the Newton rule, how a
failure is reported).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._convergence import SinkhornConvergenceError, SinkhornConvergenceWarning, check_solver_options, settle
from ._inputs import as_pair, power_of_two_scale
from ._sinkhorn_numpy import cost_matrix, entropic_ot
from ._torch_inputs import any_tensor
from ._transport_inputs import check_p, duality_gap, rescaled_epsilon, tensor_weights_pair, times_scale, weights_pair

__all__ = ["SinkhornConvergenceError", "SinkhornConvergenceWarning", "sinkhorn", "sliced_wasserstein", "wasserstein"]


def wasserstein(x: Any, y: Any, p: float = 1, weights: tuple[Any, Any] | None = None, *,
                max_iter: int = 1_000_000) -> Any:
    r"""Exact p-Wasserstein distance :math:`W_p = (\min_\pi \sum_{ij}\pi_{ij}\|x_i - y_j\|^p)^{1/p}`.

    Samples carry uniform weights unless ``weights=(weights_x, weights_y)`` (non-negative,
    normalised here; either may be None). One dimension: the closed form through quantile functions
    (``scipy.stats.wasserstein_distance`` for p = 1, ``ot.wasserstein_1d`` otherwise), O(n log n).
    Several dimensions: POT's exact network-simplex solver ``ot.emd2`` on the Euclidean cost, which
    is O(n³) in time and O(nm) in memory; a solver that stops at ``max_iter`` raises RuntimeError.
    Returns the distance :math:`W_p` in the units of x (not :math:`W_p^p`).

    Torch tensors in: a differentiable 0-d tensor. In one dimension the quantile form is written in
    torch (gradients through sorting, in the values and the weights); in d > 1 the optimal plan π
    comes from ``ot.emd`` on the detached cost and the value Σ π C(x, y) is differentiated (the
    envelope theorem: π optimal, so its own variation does not count). The gradient of the root is
    taken as 0 where W_p = 0.

    >>> wasserstein([0.0, 1.0], [2.0, 3.0])
    2.0
    """
    p = check_p(p)
    if any_tensor(x, y):
        from ._torch_inputs import as_tensor_pair
        from ._torch_transport import root, wasserstein_1d_torch, wasserstein_nd_torch

        xt, yt = as_tensor_pair(x, y)
        a, b = tensor_weights_pair(weights, xt, yt)
        s = power_of_two_scale(xt, yt, always=True)  # W_p is homogeneous: exact rescaling to unit size
        xt, yt = xt / s, yt / s
        if xt.shape[1] == 1:
            return root(wasserstein_1d_torch(xt[:, 0], yt[:, 0], a, b, p), p) * s
        return root(wasserstein_nd_torch(xt, yt, a, b, p, max_iter), p) * s
    xa, ya = as_pair(x, y)
    a, b = weights_pair(weights, len(xa), len(ya))
    s = power_of_two_scale(xa, ya, always=True)  # W_p is homogeneous (ot.emd has absolute tolerances)
    xa, ya = xa / s, ya / s
    if xa.shape[1] == 1:
        if p == 1:
            from scipy.stats import wasserstein_distance

            return float(wasserstein_distance(xa[:, 0], ya[:, 0], a, b)) * s
        import ot

        return float(ot.wasserstein_1d(xa[:, 0], ya[:, 0], a, b, p=p)) ** (1 / p) * s  # pyright: ignore[reportArgumentType]
    import ot

    cost = cost_matrix(xa, ya, p)
    value, log = ot.emd2(a, b, cost, numItermax=int(max_iter), log=True)
    if log.get("warning"):
        raise RuntimeError(f"ot.emd2 did not solve the transport problem: {log['warning']}; "
                           f"{duality_gap(value, log, a, b)} (raise max_iter)")
    return float(value) ** (1 / p) * s  # pyright: ignore[reportArgumentType]



def sliced_wasserstein(x: Any, y: Any, *, n_projections: int = 50, p: float = 2,
                       weights: tuple[Any, Any] | None = None, seed: Any = 0, projections: Any = None) -> Any:
    r"""Sliced p-Wasserstein distance :math:`\big(\tfrac1L\sum_{l=1}^L W_p^p(\theta_l^\top X, \theta_l^\top Y)\big)^{1/p}`.

    The directions θ_l are ``n_projections`` unit vectors drawn uniformly on the sphere from
    ``numpy.random.default_rng(seed)`` (the same directions on NumPy and torch for one seed), or the
    columns of ``projections`` (shape (d, L)). Each 1-D problem is solved exactly through quantile
    functions, O(L n log n). This is POT's ``ot.sliced_wasserstein_distance`` (the mean of W_p^p
    over directions, then the p-th root), which serves the NumPy path; pass ``projections`` to
    compare both on the same directions. Torch tensors in: a differentiable 0-d tensor (through
    sorting; gradient 0 where the value is 0).

    >>> round(sliced_wasserstein([[0.0, 0.0]], [[3.0, 4.0]], projections=[[1.0], [0.0]]), 6)
    3.0
    """
    p = check_p(p)
    if not isinstance(n_projections, (int, np.integer)) or isinstance(n_projections, bool) or n_projections < 1:
        raise ValueError(f"n_projections must be a positive integer, got {n_projections!r}")
    if any_tensor(x, y):
        from ._torch_inputs import as_tensor_pair
        from ._torch_transport import sliced_wasserstein_torch

        xt, yt = as_tensor_pair(x, y)
        theta = _directions(projections, xt.shape[1], int(n_projections), seed)
        a, b = tensor_weights_pair(weights, xt, yt)
        s = power_of_two_scale(xt, yt)  # homogeneous: exact rescaling of huge or tiny data
        return sliced_wasserstein_torch(xt / s, yt / s, a, b, p, theta) * s
    import ot

    xa, ya = as_pair(x, y)
    theta = _directions(projections, xa.shape[1], int(n_projections), seed)
    a, b = weights_pair(weights, len(xa), len(ya))
    s = power_of_two_scale(xa, ya)
    value = ot.sliced_wasserstein_distance(xa / s, ya / s, a, b, p=p, projections=theta)  # pyright: ignore[reportArgumentType]
    return float(value) * s  # pyright: ignore[reportArgumentType]


def _directions(projections: Any, d: int, n_projections: int, seed: Any) -> np.ndarray:
    """The (d, L) directions: ``projections`` checked, or ``n_projections`` seeded uniform ones."""
    if projections is None:
        from ._torch_transport import directions

        return directions(d, n_projections, seed)
    theta = np.asarray(projections.detach().cpu() if hasattr(projections, "detach") else projections, dtype=np.float64)
    if theta.ndim != 2 or theta.shape[0] != d or not np.isfinite(theta).all():
        raise ValueError(f"projections must be a finite ({d}, L) array of directions, got shape {theta.shape}")
    return theta


def sinkhorn(x: Any, y: Any, *, epsilon: float, p: float = 2, debiased: bool = True,
             weights: tuple[Any, Any] | None = None, max_iter: int = 10_000, tol: float = 1e-6,
             scaling: float | None = 0.5, on_failure: str = "raise", block: int = 2048, backend: str = "tiled") -> Any:
    r"""Entropic optimal transport cost between samples, in the log domain (stable at small ε).

    :math:`OT_\varepsilon(a, b) = \min_\pi \langle\pi, C\rangle + \varepsilon\,\mathrm{KL}(\pi\|a\otimes b)`
    with :math:`C_{ij} = \|x_i - y_j\|^p`, computed as the dual value :math:`\langle a, f\rangle +
    \langle b, g\rangle` at the Sinkhorn potentials. With ``debiased=True`` (default) the Sinkhorn
    divergence :math:`S_\varepsilon = OT_\varepsilon(a, b) - \tfrac12 OT_\varepsilon(a, a)
    - \tfrac12 OT_\varepsilon(b, b)` (Feydy et al. 2019): ≥ 0, zero for equal samples, and tends to
    :math:`W_p^p` as ε → 0. ``epsilon`` is in cost units (for p = 2, squared units of x).

    Convention map: POT's ``ot.sinkhorn2`` returns the linear part :math:`\langle\pi, C\rangle`
    only (no entropy term); GeomLoss's ``SamplesLoss("sinkhorn", p=2, blur=b)`` uses the cost
    ‖u − v‖²/2 and ε = b², so its value is half of ours at ε = 2·blur². Convergence, ``tol`` (L1
    error of the marginals), ``scaling`` (ε-scaling, on by default), and ``on_failure`` ("raise" or
    "warn") are described in the module notes.

    Torch tensors in: a differentiable tensor (envelope-theorem gradients in x, y and the weights,
    no unrolling; see :mod:`divergences.samples._torch_transport`), computed in panels of at most
    min(``block²``, 2²⁰) pairs, so that no n × m matrix is ever held (the solve's memory above its inputs
    is one panel plus at most 2²² kept plan entries in the Newton phase; see
    :mod:`divergences.samples._torch_transport`). Batches: x of shape (B, n, d) and y (B, m, d) (or one of
    them (n, d), broadcast) give B values, with weights of shape (B, n) / (B, m) or (n,) / (m,);
    the iterations stop when the worst problem of the batch has converged. ``backend="keops"`` (torch only,
    where ``pykeops`` is installed) computes each soft-min as a KeOps reduction instead of the panels
    (GeomLoss's online mode: nothing stored per pair; the first call compiles); the Newton phase's kept plan
    entries are still gathered in panels.

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> round(sinkhorn(x, x + [0.0, 2.0], epsilon=0.01), 4)  # W2² = 4 in the limit ε → 0
    4.0
    """
    eps, tol, max_iter, scaling, on_failure = check_solver_options(epsilon=epsilon, tol=tol, max_iter=max_iter,
                                                                   scaling=scaling, on_failure=on_failure)
    p = check_p(p)
    if not isinstance(debiased, (bool, np.bool_)):
        raise ValueError(f"debiased must be True or False, got {debiased!r}")
    if not isinstance(block, (int, np.integer)) or isinstance(block, bool) or block < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    if backend not in ("tiled", "keops"):
        raise ValueError(f"backend must be 'tiled' or 'keops', got {backend!r}")
    if any_tensor(x, y):
        from ._torch_transport import sinkhorn_torch

        if backend == "keops":
            from ._keops import keops_available

            if not keops_available():
                raise ValueError("backend='keops' needs pykeops (pip install divergences[keops]); "
                                 "backend='tiled' needs nothing more")
        return sinkhorn_torch(x, y, epsilon=eps, p=p, debiased=bool(debiased), weights=weights, max_iter=int(max_iter),
                              tol=tol, scaling=scaling, on_failure=on_failure, block=int(block), backend=backend)
    if backend == "keops":
        raise ValueError("backend='keops' is for torch tensors (KeOps reduces on torch); NumPy arrays use the NumPy "
                         "solver")
    xa, ya = as_pair(x, y)
    a, b = weights_pair(weights, len(xa), len(ya))
    s = power_of_two_scale(xa, ya)  # huge or tiny data: an exact rescaling (OT_ε(x/s, y/s; ε/s^p) · s^p)
    xa, ya, eps = xa / s, ya / s, rescaled_epsilon(eps, s, p)
    xa, a = xa[a > 0], a[a > 0]  # zero-weight samples carry no mass
    ya, b = ya[b > 0], b[b > 0]
    same = xa.shape == ya.shape and np.array_equal(xa, ya) and np.array_equal(a, b)
    problems = [("OT(x, y)", xa, ya, a, b, 1.0, same)]
    if debiased:
        problems += [("OT(x, x)", xa, xa, a, a, -0.5, True), ("OT(y, y)", ya, ya, b, b, -0.5, True)]
    total = 0.0
    for label, u, v, wu, wv, sign, symmetric in problems:
        value, iterations, err, finite, _, _ = entropic_ot(cost_matrix(u, v, p), wu, wv, eps, max_iter=max_iter,
                                                           tol=tol, scaling=scaling, symmetric=symmetric)
        settle(f"sinkhorn: {label}", err=err, tol=tol, iterations=iterations, epsilon=float(epsilon), finite=finite,
               on_failure=on_failure)
        total += sign * value
    return times_scale(total, s, p)
