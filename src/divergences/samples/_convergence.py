r"""The iteration policy shared by every Sinkhorn-type solver of :mod:`divergences.samples` (NumPy and torch).

What is shared, so that the NumPy solver (:mod:`._sinkhorn_numpy`), its torch twin
(:mod:`._torch_transport`) and the unbalanced solver (:mod:`.unbalanced`) stop and fail alike:

* the checks of the solver options (``epsilon``, ``tol``, ``max_iter``, ``scaling``, ``on_failure``),
  each refused with a ``ValueError`` naming it (:func:`check_solver_options`);
* the ε-scaling path: a geometric sequence from ε₀ down to ε by the factor ``scaling``
  (:func:`epsilon_path`), at most :data:`MAX_LEVELS` levels;
* the adaptive over-relaxation of the updates at ε (:class:`Overrelaxation`) and the rule that hands a
  slow problem to Newton steps (:func:`newton_due`, :data:`NEWTON_AFTER`, :data:`NEWTON_WORTH`);
* the end of a solve (:func:`settle`): a marginal error still ≥ ``tol`` after ``max_iter`` iterations, or a
  potential that is not finite, raises :class:`SinkhornConvergenceError` (``on_failure="raise"``) or warns
  with :class:`SinkhornConvergenceWarning` (``on_failure="warn"``), always stating the error reached: never a
  silently unconverged number, never an unbounded loop;
* the start at small ε: below :data:`EXACT_START_BELOW` × the largest cost (and for at most
  :data:`EXACT_START_MAX_PAIRS` pairs), the potentials start from the dual of the exact (ε = 0) problem,
  solved by POT's network simplex (:func:`exact_start`), instead of the ε-scaling path;
* :data:`EXP_FLOOR`, the floor of the exponents before ``exp``.

Why the exact start. At ε ≪ the costs the plan is close to a permutation and the potentials must move by
many ε between the levels of the ε-scaling path, which one update per level does not do; Sinkhorn then
enters its sublinear phase and Newton steps, whose moves are bounded by a trust radius, need hundreds of
steps (measured on 50 points in 2-D: 250–920 iterations at ε = 1e-6 × max C, no convergence within 10 000 at
1e-8). The dual potentials of the exact problem are the limit of the entropic ones as ε → 0, so from them the
remaining moves are of order ε log n: the same points converge in 61–67 iterations at ε = 1e-6 … 1e-10 × max C.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ._inputs import check_positive

__all__ = [
    "EXACT_START_BELOW",
    "EXACT_START_MAX_PAIRS",
    "EXP_FLOOR",
    "MAX_LEVELS",
    "NEWTON_AFTER",
    "NEWTON_WORTH",
    "Overrelaxation",
    "SinkhornConvergenceError",
    "SinkhornConvergenceWarning",
    "check_solver_options",
    "epsilon_path",
    "exact_start",
    "exact_start_due",
    "newton_due",
    "settle",
]


class SinkhornConvergenceError(RuntimeError):
    """Sinkhorn iterations did not reach the requested marginal error."""


class SinkhornConvergenceWarning(UserWarning):
    """Sinkhorn iterations did not reach the requested marginal error (``on_failure="warn"``)."""


# the public home of both classes is divergences.samples.transport (where users import them from)
SinkhornConvergenceError.__module__ = SinkhornConvergenceWarning.__module__ = "divergences.samples.transport"

#: exponents below this are raised to it before ``exp``: e^−700 ≈ 1e−304 is still a normal float, and an
#: ``exp`` whose result underflows takes a slow path (15× slower, measured, NumPy and torch alike), which
#: at small ε is most of the entries. Each raised term adds at most 1e−304 to a sum ≥ 1: invisible.
EXP_FLOOR = -700.0

#: the ε-scaling path has at most this many levels (ε₀/ε is at most 2²⁰⁴⁸ for finite floats, so ½-scaling needs
#: at most 2048; a scaling closer to 1 is shortened to this many levels by a larger ratio)
MAX_LEVELS = 4096

#: iterations at the target ε after which a problem that has not converged may be finished by Newton steps
NEWTON_AFTER = 50
#: ... when the measured rate says Sinkhorn would still need more than this many iterations (at moderate ε,
#: where the plan is dense and Sinkhorn converges linearly at a good rate, a Newton system costs more than it saves)
NEWTON_WORTH = 50


#: ε below this fraction of the largest cost starts from the exact dual (see the module notes)
EXACT_START_BELOW = 1e-4
#: ... for problems of at most this many pairs (the exact solver holds the n × m cost: 32 MiB here, and its
#: time, 2 s at n = m = 2000, stays below the Sinkhorn solve it shortens)
EXACT_START_MAX_PAIRS = 1 << 22


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_solver_options(*, epsilon: Any, tol: Any, max_iter: Any, scaling: Any,
                         on_failure: Any) -> tuple[float, float, int, float | None, str]:
    """(ε, tol, max_iter, scaling, on_failure) checked: ``ValueError`` naming the option otherwise."""
    eps = check_positive(epsilon, "epsilon")
    if on_failure not in ("raise", "warn"):
        raise ValueError(f"on_failure must be 'raise' or 'warn', got {on_failure!r}")
    if scaling is not None:
        try:
            ok = 0 < float(scaling) < 1
        except (TypeError, ValueError):
            ok = False
        if not ok or isinstance(scaling, (bool, str, bytes)):
            raise ValueError(f"scaling must lie in (0, 1) (or be None), got {scaling!r}")
        scaling = float(scaling)
    max_iter = _positive_int(max_iter, "max_iter")
    tol = check_positive(tol, "tol")
    return eps, tol, max_iter, scaling, on_failure


def epsilon_path(e0: float, eps: float, scaling: float | None) -> Iterator[float]:
    """The ε-scaling levels above ε: e0, e0·s, e0·s², … while > ε (none when ``scaling`` is None), at most
    :data:`MAX_LEVELS` of them (the ratio is raised when ``scaling`` would need more)."""
    if scaling is None or not e0 > eps:
        return
    levels = math.log(e0 / eps) / -math.log(scaling)
    if levels > MAX_LEVELS:
        scaling = math.exp(-math.log(e0 / eps) / MAX_LEVELS)
    e = e0
    for _ in range(MAX_LEVELS + 1):
        if not e > eps:
            return
        yield e
        e *= scaling


def exact_start(cost: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """The row potential u of the exact problem min ⟨π, C⟩ (POT's network simplex ``ot.emd``), centred;
    None if the solver stops short (then the caller takes the ε-scaling path)."""
    import ot

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a solver that stops short says so in log["warning"]
        _, log = ot.emd(a, b, cost, numItermax=max(100_000, 100 * (len(a) + len(b))), log=True)
    u = np.asarray(log["u"], dtype=np.float64)
    if log.get("warning") or not np.isfinite(u).all():
        return None
    return u - float(np.dot(a, u))


def exact_start_due(epsilon: float, top_cost: float, n: int, m: int, symmetric: bool) -> bool:
    """Whether to start from the exact dual (see :data:`EXACT_START_BELOW`, :data:`EXACT_START_MAX_PAIRS`); the
    symmetric problems (averaged updates, rate at most ½) never need it."""
    return not symmetric and epsilon < EXACT_START_BELOW * top_cost and n * m <= EXACT_START_MAX_PAIRS


class Overrelaxation:
    """Adaptive over-relaxation of the Sinkhorn update, f ← f + ω (T(g) − f) (Thibault et al. 2017).

    Plain Sinkhorn converges linearly with a rate θ that tends to 1 as ε → 0. Every 10 plain
    iterations the rate is measured from the marginal errors, and ω = 2 / (1 + √(1 − θ)) (capped at
    1.9) is used from then on; if the error grows under ω > 1 the step falls back to ω = 1 for good.
    The fixed point, and so the result, is that of plain Sinkhorn; only the path to it is shorter.
    """

    def __init__(self) -> None:
        self.omega, self.errors, self.failed = 1.0, [], False

    def step(self, err: float) -> float:
        """Record the marginal error of the last iterate; the relaxation factor ω for the next update."""
        self.errors.append(err)
        k = len(self.errors)
        if k >= 2 and self.omega > 1 and err > 2 * min(self.errors[-10:]):
            self.omega, self.failed = 1.0, True  # diverging: plain steps from now on
        elif not self.failed and k % 10 == 0 and k >= 20:
            old = self.errors[-11]
            if 0 < err < old:
                theta = (err / old) ** 0.1
                if self.omega == 1.0:
                    self.omega = min(1.9, 2.0 / (1.0 + math.sqrt(max(1.0 - theta, 0.0))))
        return self.omega

    def remaining(self, tol: float) -> float:
        """Iterations still needed to reach ``tol`` at the rate of the last 10 (inf: no rate yet, or no progress)."""
        if len(self.errors) < 11:
            return math.inf
        old, err = self.errors[-11], self.errors[-1]
        if not 0 < err < old:
            return math.inf
        return max(0.0, 10 * math.log(tol / err) / math.log(err / old))


def newton_due(relax: Overrelaxation, iterations: int, max_iter: int, tol: float) -> bool:
    """Whether to switch from Sinkhorn updates to Newton steps now (see :data:`NEWTON_AFTER`, :data:`NEWTON_WORTH`)."""
    return NEWTON_AFTER <= iterations < max_iter and relax.remaining(tol) > NEWTON_WORTH


def settle(label: str, *, err: float, tol: float, iterations: int, epsilon: float, finite: bool, on_failure: str,
           what: str = "marginal error", hint: str = "raise max_iter or epsilon, or lower scaling",
           stacklevel: int = 3) -> None:
    """The end of one solve: nothing when converged; else :class:`SinkhornConvergenceError` (or, with
    ``on_failure="warn"``, a :class:`SinkhornConvergenceWarning`) stating the error reached. A potential that
    is not finite always raises (there is no value to return)."""
    if not finite or math.isnan(err):
        raise SinkhornConvergenceError(f"{label} has non-finite potentials at epsilon={epsilon:g}")
    if err >= tol:
        msg = (f"{label} did not converge: {what} {err:.3g} ≥ tol={tol:g} after {iterations} iterations at "
               f"epsilon={epsilon:g}; {hint}")
        if on_failure == "raise":
            raise SinkhornConvergenceError(msg)
        warnings.warn(msg, SinkhornConvergenceWarning, stacklevel=stacklevel)
