r"""Newton polish of the Sinkhorn potentials at small ε (Sinkhorn–Newton, Brauer et al. 2017).

Why: at small ε the plan of two clouds of equal size is close to a permutation, the linearised
Sinkhorn map has many singular values within 1e-4 … 1e-12 of 1, and alternating (even
over-relaxed) updates enter a sublinear phase: ε = 0.01 on 200 standardised 2-D points is still at a
marginal error of 3e-6 after 20 000 over-relaxed iterations. Newton's method on the concave
semi-dual does not care about that conditioning and converges in a handful of steps.

The semi-dual, with :math:`g = T_a(f)` (so the columns of the plan are exact),

.. math::
    F(f) = \langle a, f\rangle + \langle b, T_a(f)\rangle,\qquad
    \nabla F = a - \pi\mathbf 1,\qquad
    -\varepsilon\nabla^2 F = \operatorname{diag}(\pi\mathbf 1) - \pi\operatorname{diag}(\pi^\top\mathbf 1)^{-1}\pi^\top,

is maximised by the Sinkhorn potential. Each step solves the Laplacian system of the plan
:math:`\pi` (its entries below ``1e-10`` of their row's mass dropped, so the system is sparse at
small ε, where Newton is needed), with a ridge of 1e-10 for the constant null direction, by a sparse
direct solve (SciPy's SuperLU) when the plan is sparse and n small (see :data:`DIRECT_MAX_N`), else by conjugate gradients. The step is
globalised by a first trial step that moves no potential by more than 10ε, backtracking on F
(Armijo), and, after a damped or refused step, one Sinkhorn update (block ascent on F, free of risk).
Far from quadratic: in the weakly coupled directions the exponential nonlinearity keeps even exact
Newton steps at a reduction of the marginal error by about 3 per step (measured on 200 points at
ε = 0.01), so 10–30 steps take 1e-2 to 1e-6, where Sinkhorn needs more than 20 000 iterations. The caller measures convergence exactly as for Sinkhorn: the L1 error of the row
marginals, :math:`\sum_i |\pi_i - a_i|`, of the plan (f, T_a(f)).

The loop works on one problem with NumPy float64 vectors of potentials; the soft-min passes are the
caller's callbacks (NumPy or tiled torch), so the same method serves both paths.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["newton_polish"]

Vector = np.ndarray
#: entries of the plan kept for the Hessian: π_ij ≥ DROP · (row mass of i)
DROP = 1e-10
#: above this many kept entries per point the Hessian system is solved by conjugate gradients
SPARSE_PER_POINT = 64
#: more kept entries than this (a plan far from sparse: large ε, where Sinkhorn converges anyway) and the
#: Newton phase stops, handing back to the caller's Sinkhorn updates, so that memory stays bounded
MAX_ENTRIES_PER_POINT, MAX_ENTRIES = 1024, 1 << 22
#: the direct solve only for at most DIRECT_MAX_N points and while nnz(π D πᵀ) ≤ MAX_SYSTEM_ENTRIES (else
#: conjugate gradients on π alone, whose memory is the kept plan): SuperLU's fill on these systems grows
#: fast with n (measured at n = m = 2000, 10-D, ε = 0.05: 9.0 s with SuperLU, 2.8 s with conjugate
#: gradients; at n = 3000, ε = 0.1: 32.5 s and +132 MiB, against 3.4 s and +41 MiB)
DIRECT_MAX_N, MAX_SYSTEM_ENTRIES = 1024, 1 << 21
#: Levenberg–Marquardt ridge μ·diag(π1), μ = 1e-3 × the current marginal error clipped to [RIDGE_MIN, RIDGE_MAX]
RIDGE_MIN, RIDGE_MAX = 1e-10, 1e-4
#: the first trial step moves no potential by more than MAX_STEP·ε (a factor e^MAX_STEP in the plan);
#: at most BACKTRACK halvings of it are tried
MAX_STEP, BACKTRACK = 10.0, 12
#: after a step accepted at the trust radius (the first trial, capped), the next may move 4 times as far
GROW = 4.0


def _direction(rows: Vector, cols: Vector, vals: Vector, n: int, m: int, residual: Vector, eps: float,
               ridge: float) -> Vector:
    """Newton direction d with (diag(π1) − π diag(πᵀ1)⁻¹ πᵀ + ridge) d = −ε r on the kept entries."""
    from scipy import sparse
    from scipy.sparse import linalg as splinalg

    if len(rows) and bool(np.all(rows[1:] >= rows[:-1])):  # row-major (both callers' order): CSR as is, no copy
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
        plan = sparse.csr_matrix((vals, cols, indptr), shape=(n, m))
    else:
        plan = sparse.csr_matrix((vals, (rows, cols)), shape=(n, m))
    row_mass = np.asarray(plan.sum(1)).ravel()
    col_mass = np.maximum(np.asarray(plan.sum(0)).ravel(), 1e-300)
    # the ridge also adds a floor of ridge × the mean row mass: a row whose plan mass has underflowed (a point
    # far from every partner, at small ε) gets a bounded move, not ε·r/1e-300
    diag = row_mass * (1 + ridge) + ridge * float(row_mass.sum()) / n + 1e-300
    rhs = -eps * residual
    # nnz(π D πᵀ) ≤ Σ_j (entries in column j)²: the direct solve only while that bound is small
    fill = float(np.square(np.bincount(cols, minlength=m).astype(np.float64)).sum())
    if n <= DIRECT_MAX_N and len(vals) <= SPARSE_PER_POINT * (n + m) and fill <= MAX_SYSTEM_ENTRIES:
        system = sparse.diags(diag) - plan @ sparse.diags(1 / col_mass) @ plan.T
        return np.asarray(splinalg.spsolve(system.tocsc(), rhs)).ravel()
    scaled = sparse.csr_matrix((plan.data / np.sqrt(col_mass)[plan.indices], plan.indices, plan.indptr), shape=(n, m))

    def matvec(v):
        return diag * v - scaled @ (scaled.T @ v)

    op = splinalg.LinearOperator((n, n), matvec=matvec, dtype=np.float64)  # pyright: ignore[reportCallIssue]
    pre = splinalg.LinearOperator((n, n), matvec=lambda v: v / diag, dtype=np.float64)  # pyright: ignore[reportCallIssue]
    d, _ = splinalg.cg(op, rhs, rtol=1e-6, maxiter=500, M=pre)
    return d


def newton_polish(f: Vector, a: Vector, b: Vector, eps: float, *, ta: Callable[[Vector], Vector],
                  tb: Callable[[Vector], Vector], plan: Callable[[Vector, Vector, float, int], tuple | None],
                  tol: float, max_steps: int) -> tuple[Vector, Vector, int, float]:
    """Newton steps on the semi-dual from f until the row-marginal L1 error is below ``tol``.

    ``ta(f)`` = T_a(f) (the column soft-min), ``tb(g)`` = T_b(g) (the row soft-min), ``plan(f, g,
    drop, limit)`` = (rows, cols, values) of the entries of π(f, g) with π_ij ≥ drop · π_i, or None
    if there are more than ``limit`` of them. Returns (f, g = T_a(f), steps, error).
    """
    n, m = len(a), len(b)

    def state(f):
        g = ta(f)
        f1 = tb(g)
        excess = np.expm1((f - f1) / eps)  # row i of π(f, g) is a_i (1 + excess_i)
        return g, f1, a * excess, float(np.dot(a, np.abs(excess))), float(np.dot(a, f) + np.dot(b, g))

    g, f1, residual, err, value = state(f)
    steps = 0
    radius = MAX_STEP * eps  # trust radius: the largest move of one potential that the first trial may make
    while steps < max_steps and err >= tol and math.isfinite(err):
        steps += 1
        kept = plan(f, g, DROP, min(MAX_ENTRIES_PER_POINT * (n + m), MAX_ENTRIES))
        if kept is None:  # too dense for a Newton system (moderate ε): the caller goes on with Sinkhorn
            break
        rows, cols, vals = kept
        d = _direction(rows, cols, vals, n, m, residual, eps, min(RIDGE_MAX, max(RIDGE_MIN, 1e-3 * err)))
        del rows, cols, vals
        del kept  # not alive while the next step gathers its plan
        slope = -float(np.dot(residual, d))  # ∇F · d (> 0: an ascent direction)
        t = t0 = min(1.0, radius / max(float(np.abs(d).max()), 1e-300))
        accepted = full = False
        if np.isfinite(d).all() and slope > 0:
            for _ in range(BACKTRACK):
                trial = f + t * d
                tg, tf1, tres, terr, tvalue = state(trial)
                gain = tvalue - value
                if math.isfinite(terr) and (gain >= 1e-4 * t * slope
                                            or (terr < err and gain >= -1e-13 * (abs(value) + eps))):
                    f, g, f1, residual, err, value = trial, tg, tf1, tres, terr, tvalue
                    accepted, full = True, t == t0 == 1.0
                    break
                t *= 0.5
        # the trust radius grows after a first trial accepted at the radius (weakly coupled groups of points,
        # whose potentials must move by many ε at small ε: the radius reaches 1e4 ε in 7 steps), and shrinks back
        # to where the backtracking ended otherwise
        if accepted and t == t0 < 1.0:
            radius *= GROW
        elif accepted:
            radius = max(MAX_STEP * eps, t * float(np.abs(d).max()))
        else:
            radius = MAX_STEP * eps
        if err < tol or full:
            continue
        if accepted and t == t0:
            continue  # a step accepted at the trust radius: the next grows it
        # a damped or refused step: one Sinkhorn update, f ← T_b(T_a(f)), which never decreases F
        f = f1
        g, f1, residual, err, value = state(f)
    return f, g, steps, err
