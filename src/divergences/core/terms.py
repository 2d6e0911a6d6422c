r"""The pointwise-term contract that every layer reads: :class:`Pointwise` and :class:`Generator`.

A pointwise-separable divergence is :math:`D(P\|Q) = \sum_x \phi(\log p(x), \log q(x))`. A term
carries what the layers need:

* the interior term :meth:`Pointwise._phi` ``(a, b, xp)`` in log space (``a = log p``, ``b = log q``,
  both finite), written so that nothing overflows for logits of ±1e4, and its partial derivatives
  :meth:`Pointwise._dphi` (closed-form gradients of the chunked torch losses: with ``q = softmax(z)``
  the gradient with respect to ``z`` is ``g − q·Σg`` for ``g = ∂φ/∂b``);
* its **degree** of homogeneity, φ(λp, λq) = λ^d φ(p, q) (1 for every f-divergence), and the two
  boundary values φ(0, 1) (``value_p_zero``) and φ(1, 0) (``value_q_zero``). The boundary method
  :meth:`Pointwise.phi` uses them as φ(0, q) = q^d φ(0, 1) and φ(p, 0) = p^d φ(1, 0), so a term of
  any degree is exact where p or q is 0 (0·log 0 = 0; mass where the other side has none gives the
  term's limit, +inf for the KL family: never NaN, never a silent epsilon). A user term's degree
  and boundary values are found by probing, and a term that is not homogeneous must define its
  boundary itself (:meth:`Pointwise._phi_p_zero`, :meth:`Pointwise._phi_q_zero`) or is refused;
* its units (``information_units``: whether ``base=`` applies), whether it is a divergence
  (``is_divergence``: D(P, P) = 0 and D ≥ 0; cross-entropy is not), symmetry and an upper bound;
* optionally a fast NumPy row kernel (``numpy_rows``) and a probability-space form (``_naive``) that
  the exact layer's block runner uses, never changing a value.

A :class:`Generator` is an f-divergence :math:`D_f(P\|Q) = \sum_x q f(p/q)` (f convex, f(1) = 0):
it adds ``f``, ``f′``, ``f″``, ``f′(1)``, the f-distill weight r²f″(r) and, where known, the convex
conjugate f*. A plain callable ``f(t)`` becomes a Generator whose log-space term is q f(e^{a−b}).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from .backend import Array, namespace, safe_log
from .conventions import DriftRule
from .validation import check_real

__all__ = ["ClosedForm", "Generator", "Pointwise", "as_generator", "check_unit", "log_or_neg_inf"]

INF = math.inf


def log_or_neg_inf(x: float) -> float:
    """log x for x > 0, −inf for x = 0 (a mixture weight's logarithm)."""
    return math.log(x) if x > 0 else -INF


def check_unit(value: Any, name: str) -> float:
    """A parameter in [0, 1] (a mixture weight), with a ValueError naming it otherwise."""
    v = check_real(value, name)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return v


def _probe(fn: Callable[[Any], Any], x: float, what: str) -> float:
    """``float(fn(x))`` for a user callable, tried on a NumPy 0-d array, then a Python float, then a
    torch tensor (for torch-only callables); a ValueError naming the probe if none works."""
    import numpy as np

    errors = []
    candidates: list[Callable[[], Any]] = [lambda: np.asarray(x, dtype=np.float64), lambda: x]
    if "torch" in sys.modules:
        candidates.append(lambda: sys.modules["torch"].tensor(x, dtype=sys.modules["torch"].float64))
    for make in candidates:
        try:
            with np.errstate(all="ignore"):
                value = fn(make())
            return float(value)
        except (TypeError, ValueError, ArithmeticError, AttributeError, RuntimeError) as exc:
            errors.append(exc)
    raise ValueError(f"the callable could not be evaluated at {what} (t = {x!r}): {errors[-1]}") from errors[-1]


class Pointwise:
    r"""A divergence that is a sum of pointwise terms :math:`\sum_i \phi(\log p_i, \log q_i)`.

    Subclasses define the interior term (both sides > 0) in :meth:`_phi` and, for closed-form
    gradients, its partial derivatives in :meth:`_dphi`. The boundary (``p = 0`` or ``q = 0``) is
    handled here from the term's ``degree`` and its values at (0, 1) and (1, 0); see the module
    docstring. ``value_p_zero``/``value_q_zero``/``degree`` left as ``None`` are found by probing
    the interior term (once per instance).
    """

    name: str = "pointwise"
    #: d with φ(λp, λq) = λ^d φ(p, q); None: probed (a term that is not homogeneous must define
    #: :meth:`_phi_p_zero` and :meth:`_phi_q_zero`)
    degree: float | None = 1.0
    #: φ(0, 1): the term where p = 0 < q, per unit q^degree (``f(0)`` for an f-divergence); may be +inf
    value_p_zero: float | None = 0.0
    #: φ(1, 0): the term where q = 0 < p, per unit p^degree (``lim f(t)/t`` for an f-divergence)
    value_q_zero: float | None = INF
    #: D(P‖Q) == D(Q‖P) for all P, Q
    symmetric: bool = False
    #: the supremum of the divergence over all pairs (None if unbounded)
    upper_bound: float | None = None
    #: measured in units of information (nats; ``base=`` applies)
    information_units: bool = False
    #: the term and its partials are bounded by a polynomial in the log-probabilities, so no value or
    #: gradient overflows for finite logits (the torch losses then skip their overflow guard). A subclass
    #: that changes the term must set it again.
    bounded_gradient: bool = False
    #: the conventional drift rule a monitoring tool shows (:class:`~divergences.core.conventions.DriftRule`),
    #: or None (a threshold must then be given)
    drift: DriftRule | None = None
    #: D(P, P) = 0 and D ≥ 0 (cross-entropy is a pointwise sum but not a divergence)
    is_divergence: bool = True
    #: Optional fast NumPy kernel ``numpy_rows(p, q, sum_p, sum_q) -> (row values, None)`` on 2-D blocks
    #: of probabilities: exact where p, q are positive normal numbers; rows with zeros, subnormals or
    #: negative entries are recomputed by the exact layer with :meth:`phi` (it finds them by the rows'
    #: minima), so the kernel may return anything there. Terms with a :meth:`_naive` form get a generic one.
    numpy_rows: Callable[..., Any] | None = None
    #: Optional ``_naive(p, q, xp)``: the term in probability space, exact where p, q > 0 and NaN or
    #: ±inf (never a wrong finite value) where either is 0.
    _naive: Callable[..., Any] | None = None
    #: Optional ``near_equal_rows(p, q) -> row values`` on 2-D NumPy blocks of probabilities: the sum
    #: formed without cancelling first-order terms, for rows of near-equal distributions (see
    #: :mod:`divergences.core.near_equal`); generators with an exact f″ (``smooth``) get a generic one.
    near_equal_rows: Callable[..., Any] | None = None

    @property
    def params(self) -> dict[str, float]:
        return {}

    def degenerate_hint(self) -> str:
        """Why this configured term may be 0 for every pair of distributions and what to use instead, for the
        error a training loss raises when the term would train nothing ("" when the term has nothing to say)."""
        return ""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- to be provided by subclasses -------------------------------------------------------
    def _phi(self, a: Array, b: Array, xp: Any) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def _dphi(self, a: Array, b: Array, xp: Any) -> tuple[Array, Array]:  # pragma: no cover
        raise NotImplementedError

    def _phi_dphi(self, a: Array, b: Array, xp: Any) -> tuple[Array, Array, Array]:
        """Interior term and its partial derivatives at once; subclasses share the common work
        (the chunked torch losses need all three per chunk)."""
        da, db = self._dphi(a, b, xp)
        return self._phi(a, b, xp), da, db

    @property
    def has_closed_form_gradient(self) -> bool:
        return type(self)._dphi is not Pointwise._dphi

    # -- the boundary, from the degree ------------------------------------------------------
    def _phi_p_zero(self, b: Array, xp: Any) -> Array:
        """φ(0, q) at b = log q (finite); by homogeneity q^d·φ(0, 1)."""
        value = self._boundary()[1]
        if not math.isfinite(value):
            return xp.full_like(b, value)
        return xp.exp(self._boundary()[0] * b) * value

    def _phi_q_zero(self, a: Array, xp: Any) -> Array:
        """φ(p, 0) at a = log p (finite); by homogeneity p^d·φ(1, 0)."""
        value = self._boundary()[2]
        if not math.isfinite(value):
            return xp.full_like(a, value)
        return xp.exp(self._boundary()[0] * a) * value

    def _dphi_p_zero(self, b: Array, xp: Any) -> Array:
        """∂φ/∂b at p = 0 (∂φ/∂a is 0 there): d·φ(0, q) by Euler's identity (0 where infinite)."""
        d, value, _ = self._boundary()
        if not math.isfinite(value):
            return xp.zeros_like(b)
        return d * self._phi_p_zero(b, xp)

    def _dphi_q_zero(self, a: Array, xp: Any) -> Array:
        """∂φ/∂a at q = 0 (∂φ/∂b is 0 there): d·φ(p, 0) (0 where infinite)."""
        d, _, value = self._boundary()
        if not math.isfinite(value):
            return xp.zeros_like(a)
        return d * self._phi_q_zero(a, xp)

    def _boundary(self) -> tuple[float, float, float]:
        """(degree, φ(0, 1), φ(1, 0)), probing the interior term for what the class leaves None."""
        cached = self.__dict__.get("_boundary_cache")
        if cached is None:
            if self.degree is not None and self.value_p_zero is not None and self.value_q_zero is not None:
                cached = (float(self.degree), float(self.value_p_zero), float(self.value_q_zero))
            else:
                cached = self._probe_boundary()
            self.__dict__["_boundary_cache"] = cached
        return cached

    def check(self) -> None:
        """Refuse a term that cannot be served: a declared degree its interior formula contradicts, or
        a boundary that cannot be derived (run once, when the term is registered)."""
        if self.degree is not None:
            self._check_degree(float(self.degree))
        self._boundary()

    def _probe_boundary(self) -> tuple[float, float, float]:
        import numpy as np

        overrides = type(self)._phi_p_zero is not Pointwise._phi_p_zero
        degree = self.degree
        if degree is None:
            degree = self._probe_degree()
            if degree is None and not overrides:
                raise ValueError(
                    f"the pointwise term {self.name!r} is not homogeneous (φ(λp, λq) ≠ λ^d φ(p, q) at the probes): "
                    "its value where p or q is 0 cannot be derived; define _phi_p_zero and _phi_q_zero "
                    "(the term at p = 0 and at q = 0) or give a homogeneous term"
                )
            degree = 1.0 if degree is None else degree

        def limit(side: str) -> float:
            given = self.value_p_zero if side == "p" else self.value_q_zero
            if given is not None:
                return float(given)
            # φ(0, 1) = lim_{a→−∞} φ(a, 0); φ(1, 0) = lim_{b→−∞} φ(0, b) · (homogeneity)
            vals = []
            for x in (-200.0, -400.0, -700.0):
                pair = (np.asarray(x), np.asarray(0.0)) if side == "p" else (np.asarray(0.0), np.asarray(x))
                with np.errstate(all="ignore"):
                    vals.append(float(self._phi(*pair, np)))
            last, prev = vals[-1], vals[-2]
            if math.isnan(last):
                raise ValueError(f"the pointwise term {self.name!r} is NaN near its boundary ({side} → 0)")
            if math.isfinite(last) and abs(last - prev) <= 1e-6 * max(1.0, abs(last)):
                return 0.0 if abs(last) < 1e-200 else last
            if last > 0 and (not math.isfinite(last) or last > prev):
                return INF
            raise ValueError(
                f"the pointwise term {self.name!r} has no limit as {side} → 0 at the probes ({vals}); "
                f"set value_{side}_zero"
            )

        return float(degree), limit("p"), limit("q")

    _PROBES = ((-0.3, -1.2), (-2.0, -0.1), (-0.7, -0.7), (-5.0, -1.0))

    def _probe_degree(self) -> float | None:
        """The degree d of homogeneity from φ at scaled probe points, or None if not homogeneous."""
        import numpy as np

        shift = math.log(0.125)
        found = []
        with np.errstate(all="ignore"):
            for a, b in self._PROBES:
                try:
                    v = float(self._phi(np.asarray(a), np.asarray(b), np))
                    w = float(self._phi(np.asarray(a + shift), np.asarray(b + shift), np))
                except (TypeError, ValueError, AttributeError, RuntimeError):
                    return None  # a torch-only term: not probed here
                if v == 0.0 and w == 0.0:
                    continue
                if not (math.isfinite(v) and math.isfinite(w)) or v == 0.0 or w / v <= 0:
                    return None
                found.append(math.log(w / v) / shift)
        if not found:
            return 1.0
        d = found[0]
        if any(abs(x - d) > 1e-6 * max(1.0, abs(d)) for x in found):
            return None
        return round(d, 9)

    def _check_degree(self, degree: float) -> None:
        """Refuse a declared degree that the interior term contradicts (a term of degree 2 declared as
        degree 1 would be silently wrong at the boundary)."""
        if type(self)._phi_p_zero is not Pointwise._phi_p_zero:
            return
        probed = self._probe_degree()
        if probed is not None and abs(probed - degree) > 1e-6 * max(1.0, abs(degree)):
            raise ValueError(
                f"the pointwise term {self.name!r} declares degree {degree:g} but its interior formula is "
                f"homogeneous of degree {probed:g}: set degree = {probed:g}"
            )

    # -- the public pointwise API ---------------------------------------------------------
    def _masks(self, a: Array, b: Array, xp: Any):
        """Masks of p = 0 and q = 0, the logs with −inf replaced by 0 (the boundary terms read the
        finite side), and both zeroed on the whole boundary (for the interior term)."""
        pz = a == -INF
        qz = b == -INF
        zero = xp.zeros_like(a)
        a_fin = xp.where(pz, zero, a)
        b_fin = xp.where(qz, zero, b)
        boundary = pz | qz
        return pz, qz, a_fin, b_fin, xp.where(boundary, zero, a_fin), xp.where(boundary, zero, b_fin)

    def phi(self, a: Array, b: Array) -> Array:
        """Pointwise term from log-probabilities ``a = log p``, ``b = log q`` (-inf allowed)."""
        xp = namespace(a, b)
        pz, qz, a_fin, b_fin, a_in, b_in = self._masks(a, b, xp)
        return self._assemble(xp, pz, qz, a_fin, b_fin, self._phi(a_in, b_in, xp))

    def _assemble(self, xp, pz, qz, a_fin, b_fin, inner):
        out = xp.where(qz, self._phi_q_zero(a_fin, xp), inner)
        out = xp.where(pz, self._phi_p_zero(b_fin, xp), out)
        return xp.where(pz & qz, xp.zeros_like(out), out)

    def _assemble_grad(self, xp, pz, qz, a_fin, b_fin, da, db):
        # where a term overflows (Pearson at log-ratios beyond ~±700) its partials saturate at
        # ±√(largest float) instead of ±inf: the loss is +inf, its gradient is never NaN (g − q·Σg
        # of infinities would be), and V·√max stays finite for any vocabulary
        big = math.sqrt(float(xp.finfo(da.dtype).max))
        da, db = xp.clip(da, -big, big), xp.clip(db, -big, big)
        zero = xp.zeros_like(da)
        da = xp.where(qz, self._dphi_q_zero(a_fin, xp), da)
        db = xp.where(qz, zero, db)
        da = xp.where(pz, zero, da)
        db = xp.where(pz, self._dphi_p_zero(b_fin, xp), db)
        both = pz & qz
        return xp.where(both, zero, da), xp.where(both, zero, db)

    def dphi(self, a: Array, b: Array) -> tuple[Array, Array]:
        """Partial derivatives (∂φ/∂a, ∂φ/∂b) of :meth:`phi`; finite wherever ``phi`` is finite."""
        xp = namespace(a, b)
        pz, qz, a_fin, b_fin, a_in, b_in = self._masks(a, b, xp)
        da, db = self._dphi(a_in, b_in, xp)
        return self._assemble_grad(xp, pz, qz, a_fin, b_fin, da, db)

    def phi_dphi(self, a: Array, b: Array) -> tuple[Array, Array, Array]:
        """:meth:`phi` and :meth:`dphi` at once, boundary-aware, without data-dependent branches
        (no host synchronisation: the chunk engine traces it under ``torch.compile``)."""
        xp = namespace(a, b)
        pz, qz, a_fin, b_fin, a_in, b_in = self._masks(a, b, xp)
        inner, da, db = self._phi_dphi(a_in, b_in, xp)
        phi = self._assemble(xp, pz, qz, a_fin, b_fin, inner)
        return (phi, *self._assemble_grad(xp, pz, qz, a_fin, b_fin, da, db))

    def partials(self, p: Array, q: Array) -> tuple[Array, Array]:
        """(∂φ/∂p, ∂φ/∂q) in probability space where p, q > 0; NaN where either is 0 (no derivative).

        From the log-space partials: ∂φ/∂p = (∂φ/∂a)/p, ∂φ/∂q = (∂φ/∂b)/q. For an f-divergence these
        are f′(r) and f(r) − r f′(r) (the delta-method gradients of the tabular layer).
        """
        xp = namespace(p, q)
        inside = (p > 0) & (q > 0)
        one = xp.ones_like(p)
        ps, qs = xp.where(inside, p, one), xp.where(inside, q, one)
        da, db = self.dphi(safe_log(ps, xp), safe_log(qs, xp))
        nan = xp.full_like(p, math.nan)
        return xp.where(inside, da / ps, nan), xp.where(inside, db / qs, nan)

    def term(self, p: Array, q: Array) -> Array:
        """Pointwise term from probabilities (zeros allowed)."""
        xp = namespace(p, q)
        return self.phi(safe_log(p, xp), safe_log(q, xp))


def _vectorised(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``f`` on arrays: as given where it accepts NumPy arrays; element by element (NumPy) where it
    accepts only Python scalars (``math``-based callables); as given, for torch input only, where it
    accepts only torch tensors."""
    import numpy as np

    def works(make: Callable[[], Any]) -> bool:
        try:
            with np.errstate(all="ignore"):
                f(make())
            return True
        except ArithmeticError:
            return True
        except (TypeError, ValueError, AttributeError, RuntimeError):
            return False

    if works(lambda: np.asarray([0.5, 2.0])):
        return f
    if works(lambda: 0.5):
        scalar = np.vectorize(lambda t: _probe(f, float(t), "a ratio"), otypes=[np.float64])

        def elementwise(t: Any) -> Any:
            if isinstance(t, (np.ndarray, int, float)):
                return scalar(np.asarray(t, dtype=np.float64))
            try:  # the caller's array type first: f may branch on it (isinstance(t, torch.Tensor))
                out = f(t)
            except (TypeError, ValueError, AttributeError, RuntimeError):
                out = None
            if isinstance(out, type(t)) and getattr(out, "shape", None) == getattr(t, "shape", ()):
                return out
            raise ValueError(
                "this generator f works on Python scalars only (math-based); it serves NumPy inputs element "
                "by element but cannot serve arrays of another library: write f with array operations"
            )

        return elementwise

    def other_library(t: Any) -> Any:
        if isinstance(t, np.ndarray):
            raise ValueError("this generator f does not accept NumPy arrays (a torch-only callable?): "
                             "pass inputs of the library f is written for")
        return f(t)

    return other_library


class Generator(Pointwise):
    r"""An f-divergence generator ``f`` (convex, ``f(1) = 0``).

    Built-in generators are subclasses with closed forms. ``Generator(f)`` wraps a plain callable
    ``f(t)`` (called with arrays of the caller's backend, e.g. ``lambda t: (t - 1) ** 2``; a callable
    written with ``math`` functions is applied element by element to NumPy input; a torch-only
    callable serves torch input); optional ``f_prime`` and ``f_second`` callables, ``f_zero = f(0)``
    and ``slope_inf = lim_{t→∞} f(t)/t`` make it exact at the boundary and enable closed-form
    gradients. Without them: ``f(0)`` is the limit f(0+) (``f`` at 0 where it is finite there,
    else probed at t = 1e-150 and 1e-300: +inf where it diverges), ``f′`` is taken by central
    differences (by autograd in the torch losses), and ``lim f(t)/t`` is estimated from f(t)/t at
    t = 1e30 and 1e60 (taken as +inf unless the two agree to 1e-6 relative). A callable that cannot
    be evaluated gives a ValueError naming the probe.
    """

    name = "custom"
    degree = 1.0
    #: f is twice differentiable near 1 with an exact ``f_second`` (not finite differences): the exact
    #: layer then sums near-equal rows by the remainder form Σ q R(p/q − 1) (no cancellation)
    smooth: bool = False

    def __init__(
        self,
        f: Callable[[Array], Array] | None = None,
        *,
        f_prime: Callable[[Array], Array] | None = None,
        f_second: Callable[[Array], Array] | None = None,
        f_zero: float | None = None,
        slope_inf: float | None = None,
        name: str = "custom",
    ) -> None:
        if type(self) is Generator and f is None:
            raise ValueError("Generator(f): f must be a callable f(t)")
        if f is not None and not callable(f):
            raise ValueError(f"Generator(f): f must be callable, got {type(f).__name__}")
        self._f = _vectorised(f) if f is not None else None
        self._f_prime = f_prime
        self._f_second = f_second
        self.smooth = f_second is not None
        self.name = name
        if f is not None:
            self._check_user_generator()
            self.value_p_zero = float(f_zero) if f_zero is not None else self._eval_f_zero()
            self.value_q_zero = float(slope_inf) if slope_inf is not None else self._eval_slope()

    # -- probability-ratio form ----------------------------------------------------------
    def f(self, t: Array) -> Array:
        """The generator f(t) on probability ratios t ≥ 0."""
        return self._user_f()(t)

    def _user_f(self) -> Callable[[Any], Any]:
        if self._f is None:  # pragma: no cover - every subclass without a callable defines f
            raise NotImplementedError(f"{type(self).__name__} defines no generator f")
        return self._f

    def f_prime(self, t: Array) -> Array:
        """f′(t) (central differences of f for a user generator without ``f_prime``)."""
        if self._f_prime is not None:
            return self._f_prime(t)
        h = 1e-6
        return (self.f(t * (1 + h)) - self.f(t * (1 - h))) / (2 * h * t)

    def f_second(self, t: Array) -> Array:
        """f″(t) (central differences of f for a user generator without ``f_second``)."""
        if self._f_second is not None:
            return self._f_second(t)
        h = 1e-4
        return (self.f(t * (1 + h)) - 2 * self.f(t) + self.f(t * (1 - h))) / (h * t) ** 2

    @property
    def f_prime_one(self) -> float:
        """f′(1): the slope of the control variate f(r) − f′(1)(r − 1) (E_Q[r] = 1), from :meth:`f_prime` at 1.
        The catalogue's closed forms give the exact constant there (1 for KL, −1 for reverse KL, 1 − λ for
        skew KL, 0 for the symmetric ones), so none restates it."""
        import numpy as np

        return float(self.f_prime(np.asarray(1.0)))

    def weight(self, r: Array) -> Array:
        """The f-distill / f-DPG weight r² f″(r)."""
        return r * r * self.f_second(r)

    def conjugate(self, s: Array) -> Array:
        """Convex conjugate f*(s) = sup_{t ≥ 0} (s t − f(t)), where a closed form is known (+inf
        outside its domain)."""
        raise NotImplementedError(f"no closed-form convex conjugate for {self!r}")

    @property
    def has_conjugate(self) -> bool:
        return type(self).conjugate is not Generator.conjugate

    # -- generic log-space term from f ------------------------------------------------------
    def _phi(self, a, b, xp):
        return xp.exp(b) * self.f(xp.exp(a - b))

    def _dphi(self, a, b, xp):
        # ∂/∂a q f(r) = q r f′(r); ∂/∂b = q (f(r) − r f′(r)), r = e^{a−b}: the one place this form is written
        r = xp.exp(a - b)
        fp = self.f_prime(r)
        q = xp.exp(b)
        return q * r * fp, q * (self.f(r) - r * fp)

    @property
    def has_closed_form_gradient(self) -> bool:
        return type(self) is not Generator or self._f_prime is not None

    # -- checks and limits for user generators ------------------------------------------
    def _check_user_generator(self) -> None:
        one = _probe(self._user_f(), 1.0, "the check f(1) = 0")
        if not math.isfinite(one) or abs(one) > 1e-9:
            raise ValueError(f"a generator must satisfy f(1) = 0; got f(1) = {one!r}")

    def _eval_f_zero(self) -> float:
        try:
            at_zero = _probe(self._user_f(), 0.0, "f(0)")
        except ValueError:
            at_zero = math.nan
        near = [_probe(self._user_f(), t, "the limit f(0+)") for t in (1e-150, 1e-300)]
        if math.isfinite(at_zero) and all(math.isfinite(v) for v in near) and abs(at_zero - near[-1]) <= 1e-6 * max(
            1.0, abs(at_zero)
        ):
            return at_zero
        if at_zero == INF:
            return INF
        prev, last = near
        if math.isnan(last):
            raise ValueError(f"the generator f is NaN near 0 (f(1e-300) = {last!r}): give f_zero = f(0+)")
        if math.isfinite(last) and abs(last - prev) <= 1e-6 * max(1.0, abs(last)):
            return 0.0 if abs(last) < 1e-200 else last
        if last > prev:
            return INF
        raise ValueError(f"the generator f has no limit at 0+ at the probes ({prev!r}, {last!r}): give f_zero")

    def _eval_slope(self) -> float:
        s1 = _probe(self._user_f(), 1e30, "the limit of f(t)/t") / 1e30
        s2 = _probe(self._user_f(), 1e60, "the limit of f(t)/t") / 1e60
        if math.isfinite(s1) and math.isfinite(s2) and abs(s1 - s2) <= 1e-6 * max(1.0, abs(s2)):
            return s2
        return INF


class ClosedForm(Generator):
    """Base of the catalogue's generators: f, f′, f″ and the log-space term are written in closed form
    by the subclass (no user callable), and the divergence's name is the class attribute ``name``.
    Subclasses with parameters define their own ``__init__`` (its keywords are the parameters)."""

    smooth = True

    def __init__(self) -> None:
        self._f = self._f_prime = self._f_second = None


def as_generator(f: Any) -> Pointwise:
    """A :class:`Pointwise` term from a generator object, a Pointwise subclass or a callable f(t)."""
    if isinstance(f, Pointwise):
        return f
    if isinstance(f, type) and issubclass(f, Pointwise):
        return f()
    if callable(f):
        return Generator(f)
    raise ValueError(f"f must be a Generator or a callable f(t), got {type(f).__name__}")
