r"""Exact divergences between categorical distributions, on any Array API backend.

Every function here takes two arrays of probabilities (or, with ``from_logits=True``, unnormalised
log-probabilities) and reduces over the category axis. Shared keywords:

``axis=-1``
    the category axis; the other axes broadcast (NumPy rules) and are kept.
``keepdims=False``
    keep the reduced axis with length 1.
``base=None``
    units: natural logarithms (nats) by default; ``base=2`` gives bits. Only for divergences
    measured in units of information (KL family, JS, entropies, Rényi, Bhattacharyya,
    Cauchy–Schwarz); the others (TV, Hellinger, the χ² family, α) refuse it.
``from_logits=False``
    inputs are unnormalised log-probabilities; log-softmax is applied internally, stably. Entries
    of ``-inf`` are masked categories (probability 0).
``normalize=False``
    with ``True``, non-negative weights or counts are divided by their sum along ``axis``.
    Otherwise probabilities must sum to 1 within a tolerance set by the input dtype (the rounding of
    each probability): 1e-6 for float64 (and integers), 1e-3 float32, 4e-3 float16, 3e-2 bfloat16.
``validate=True``
    check the input (NaN, ±inf, negative mass, sums, empty axis). Checking forces a device
    synchronisation on GPUs; ``validate=False`` skips it for trusted input.

Conventions: 0·log 0 = 0; mass where the other side has none gives +inf (never NaN, never a silent
epsilon). float64 stays float64; float32 stays float32; float16/bfloat16 and integer counts are
computed in float32 (half) or float64 (integers) and returned in that dtype. The result has the
caller's array type and device (NumPy, PyTorch with autograd, CuPy, JAX, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _numpy_kernels, registry
from . import generators as g
from ._backend import Array, as_float, is_numpy, log_normalize, namespace, result_dtype, safe_log
from ._validation import (
    check_axis,
    check_base,
    check_logits,
    check_nonempty,
    check_probabilities,
    check_shapes,
    sum_atol,
)

__all__ = [
    "alpha",
    "bhattacharyya",
    "cauchy_schwarz",
    "cross_entropy",
    "divergence",
    "entropy",
    "f_divergence",
    "hellinger",
    "hellinger_distance",
    "jeffreys",
    "js",
    "js_distance",
    "kl",
    "neyman",
    "pearson",
    "renyi",
    "reverse_kl",
    "skew_kl",
    "skew_reverse_kl",
    "triangular",
    "tv",
]

#: pointwise terms whose values are in units of information (``base=`` applies)
_LOGARITHMIC = (g.KL, g.ReverseKL, g.Jeffreys, g.JensenShannon, g.SkewKL, g.SkewReverseKL, g.CrossEntropy)


def _is_logarithmic(gen: g.Pointwise) -> bool:
    if isinstance(gen, g.Alpha):
        return gen.alpha in (0.0, 1.0)
    return isinstance(gen, _LOGARITHMIC) or type(gen) is g.Generator


# ---------------------------------------------------------------------------------------------
# shared plumbing
# ---------------------------------------------------------------------------------------------


class _Inputs:
    """Two validated inputs, in a common compute dtype, with the category axis resolved."""

    def __init__(self, p, q, *, axis, from_logits, normalize, validate, names=("p", "q")):
        xp = namespace(p, q)
        if is_numpy(xp):
            p, q = np.asarray(p), np.asarray(q)
        else:  # arrays of the backend pass through untouched (no copy, autograd history kept)
            p = p if hasattr(p, "shape") else xp.asarray(p)
            q = q if hasattr(q, "shape") else xp.asarray(q)
        self.atol = max(sum_atol(p.dtype), sum_atol(q.dtype))
        dtype = result_dtype(xp, p, q)
        p, q = as_float(p, xp, dtype), as_float(q, xp, dtype)
        shape = check_shapes(tuple(p.shape), tuple(q.shape), names)
        self.axis = check_axis(axis, len(shape))
        check_nonempty(shape[self.axis], axis)
        self.xp, self.p, self.q, self.shape, self.names = xp, p, q, shape, names
        self.from_logits, self.normalize, self.validate = from_logits, normalize, validate

    def check(self) -> None:
        """Validate both inputs (the NumPy row kernels validate their blocks themselves)."""
        if not self.validate:
            return
        for x, name in zip(self._broadcast(), self.names):
            if self.from_logits:
                check_logits(x, name, self.xp, self.axis)
            else:
                check_probabilities(x, name, self.xp, self.axis, self.normalize, self.atol)

    def _broadcast(self):
        xp = self.xp
        p, q = self.p, self.q
        if tuple(p.shape) != self.shape:
            p = xp.broadcast_to(p, self.shape)
        if tuple(q.shape) != self.shape:
            q = xp.broadcast_to(q, self.shape)
        return p, q

    def logs(self) -> tuple[Array, Array]:
        """log p and log q (log-softmax of logits, or masked logs of probabilities)."""
        xp, ax = self.xp, self.axis
        p, q = self._broadcast()
        if self.from_logits:
            return log_normalize(p, xp, ax), log_normalize(q, xp, ax)
        if self.normalize:
            p = p / xp.sum(p, axis=ax, keepdims=True)
            q = q / xp.sum(q, axis=ax, keepdims=True)
        return safe_log(p, xp), safe_log(q, xp)

    def numpy_fast(self) -> bool:
        return is_numpy(self.xp) and not self.from_logits

    def as_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """NumPy: both inputs as C-contiguous (rows, categories) arrays."""
        p, q = self._broadcast()
        p = np.moveaxis(p, self.axis, -1)
        q = np.moveaxis(q, self.axis, -1)
        n = p.shape[-1]
        return np.ascontiguousarray(p).reshape(-1, n), np.ascontiguousarray(q).reshape(-1, n)

    def finish(self, rows_or_array: Array, *, keepdims: bool, reduced: bool = False) -> Array:
        """Shape a per-distribution result: from NumPy rows, or from an array reduced over axis."""
        xp = self.xp
        out_shape = self.shape[: self.axis] + self.shape[self.axis + 1 :]
        out = rows_or_array if reduced else xp.reshape(rows_or_array, out_shape)
        if keepdims:
            out = xp.expand_dims(out, axis=self.axis)
        if is_numpy(xp) and out.ndim == 0:
            return out[()]
        return out


def _rowwise(inp: _Inputs, keepdims: bool, row_fn: Callable[[Any, Any, Any, int], Array],
             fast_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> Array:
    """Evaluate ``row_fn(log p, log q, xp, axis)`` (a reduction over ``axis``): NumPy probabilities
    in cache-sized blocks (bounded memory; ``fast_fn`` first where given), anything else in one go."""
    if inp.numpy_fast():
        p2, q2 = inp.as_rows()

        def on_block(pb, qb):
            return row_fn(safe_log(pb, np), safe_log(qb, np), np, -1)

        vals = _numpy_kernels.blocked(on_block, p2, q2, normalize=inp.normalize, validate=inp.validate,
                                      names=inp.names, atol=inp.atol, fast_fn=fast_fn)
        return inp.finish(vals, keepdims=keepdims)
    inp.check()
    a, b = inp.logs()
    with np.errstate(all="ignore"):
        value = row_fn(a, b, inp.xp, inp.axis)
    return inp.finish(value, keepdims=keepdims, reduced=True)


def _apply_base(value: Array, base: float | None, logarithmic: bool, name: str) -> Array:
    base = check_base(base)
    if base is None:
        return value
    if not logarithmic:
        raise ValueError(f"base= does not apply to {name}: it is not measured in units of information")
    return value / math.log(base)


def _pointwise_sum(gen: g.Pointwise, inp: _Inputs, keepdims: bool) -> Array:
    """Σ_x φ(log p(x), log q(x)) over the category axis."""
    if inp.numpy_fast():
        p2, q2 = inp.as_rows()
        vals = _numpy_kernels.rows(gen, p2, q2, normalize=inp.normalize, validate=inp.validate, names=inp.names,
                                   atol=inp.atol)
        return inp.finish(vals, keepdims=keepdims)
    inp.check()
    a, b = inp.logs()
    if is_numpy(inp.xp):
        with np.errstate(all="ignore"):
            terms = gen.phi(a, b)
    else:
        terms = gen.phi(a, b)
    return inp.finish(inp.xp.sum(terms, axis=inp.axis), keepdims=keepdims, reduced=True)


def _evaluate(
    gen: g.Pointwise,
    p: Array,
    q: Array,
    *,
    axis: int,
    keepdims: bool,
    base: float | None,
    from_logits: bool,
    normalize: bool,
    validate: bool = True,
) -> Array:
    inp = _Inputs(p, q, axis=axis, from_logits=from_logits, normalize=normalize, validate=validate)
    value = _pointwise_sum(gen, inp, keepdims)
    return _apply_base(value, base, _is_logarithmic(gen), gen.name)


# ---------------------------------------------------------------------------------------------
# f-divergences
# ---------------------------------------------------------------------------------------------


def f_divergence(
    p: Array,
    q: Array,
    f: Any,
    *,
    axis: int = -1,
    keepdims: bool = False,
    base: float | None = None,
    from_logits: bool = False,
    normalize: bool = False,
    validate: bool = True,
) -> Array:
    r"""The f-divergence :math:`D_f(P\|Q) = \sum_x q(x) f(p(x)/q(x))`.

    ``f`` is a :class:`~divergences.generators.Generator` (every built-in divergence is one; its
    log-space term is used, stable for logits of ±1e4) or a plain callable ``f(t)`` called with
    arrays of the caller's backend (convex, ``f(1) = 0``). Boundary conventions: where ``p = 0``
    the term is ``q f(0)``; where ``q = 0 < p`` it is ``p · lim f(t)/t`` (+inf for superlinear f).
    ``base`` divides by ``log(base)``.

    >>> import divergences as dv
    >>> round(float(dv.f_divergence([0.5, 0.5], [0.9, 0.1], lambda t: (t - 1) ** 2)), 12)  # Pearson χ²
    1.777777777778
    """
    gen = registry.get_generator(f)
    if not isinstance(gen, g.Pointwise):  # pragma: no cover - as_generator guarantees it
        raise ValueError("f must be a generator")
    return _evaluate(
        gen, p, q, axis=axis, keepdims=keepdims, base=base, from_logits=from_logits,
        normalize=normalize, validate=validate,
    )


def _named(name: str, **params: Any) -> g.Pointwise:
    return registry.get(name).generator(**params)


def kl(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True) -> Array:
    r"""Kullback–Leibler divergence :math:`KL(P\|Q) = \sum_x p(x) \log(p(x)/q(x))`.

    Argument order follows the mathematics (as ``scipy.stats.entropy(pk, qk)``), unlike
    ``torch.nn.functional.kl_div(input, target)``, which computes KL(target‖input) from a
    log-space ``input``. 0·log 0 = 0; p > 0 where q = 0 gives +inf. Computed directly (never as
    cross-entropy minus entropy, which cancels catastrophically for close distributions).

    >>> import divergences as dv
    >>> round(float(dv.kl([0.5, 0.5], [0.9, 0.1])), 6)
    0.510826
    >>> float(dv.kl([0.5, 0.5], [0.5, 0.5], base=2))
    0.0
    """
    return _evaluate(_named("kl"), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def reverse_kl(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True) -> Array:
    r"""Reverse KL :math:`KL(Q\|P) = \sum_x q(x)\log(q(x)/p(x))`, the f-divergence with f(t) = −log t.

    In distillation with p = teacher and q = student this is the mode-seeking KL(student‖teacher).

    >>> import divergences as dv
    >>> round(float(dv.reverse_kl([0.5, 0.5], [0.9, 0.1])), 6)
    0.368064
    """
    return _evaluate(_named("reverse_kl"), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def jeffreys(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True) -> Array:
    r"""Jeffreys divergence :math:`J = KL(P\|Q) + KL(Q\|P) = \sum_x (p - q)\log(p/q)`.

    Symmetric. Over bins it is the population stability index (PSI, P = current, Q = reference)
    and the information value (IV, P = goods, Q = bads).

    >>> import divergences as dv
    >>> round(float(dv.jeffreys([0.5, 0.5], [0.9, 0.1])), 6)
    0.87889
    """
    return _evaluate(_named("jeffreys"), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def js(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True, beta: float = 0.5) -> Array:
    r"""(Generalised) Jensen–Shannon divergence with weight ``beta`` = β ∈ [0, 1].

    :math:`JS_\beta = \beta\,KL(P\|M) + (1-\beta)\,KL(Q\|M)` with :math:`M = \beta P + (1-\beta) Q`
    (GKD, TRL and Liger convention with P = teacher, Q = student). β = ½ is the usual JS,
    0 ≤ JS ≤ log 2; its square root is :func:`js_distance` (what ``scipy.spatial.distance.jensenshannon``
    returns). The formula tends to 0 at β ∈ {0, 1}, where it is exactly 0 (TRL and Liger instead
    substitute KL(P‖Q) at β = 0 and KL(Q‖P) at β = 1; use :func:`kl` / :func:`reverse_kl` for those).

    >>> import divergences as dv
    >>> round(float(dv.js([1.0, 0.0], [0.0, 1.0])), 12) == round(__import__("math").log(2), 12)
    True
    """
    return _evaluate(_named("js", beta=beta), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def tv(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True) -> Array:
    r"""Total variation distance :math:`TV = \tfrac12 \sum_x |p(x) - q(x)|` ∈ [0, 1] (f(t) = ½|t−1|).

    >>> import divergences as dv
    >>> float(dv.tv([0.5, 0.5], [0.9, 0.1]))
    0.4
    """
    return _evaluate(_named("tv"), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def hellinger(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True) -> Array:
    r"""Squared Hellinger distance :math:`H^2 = \tfrac12 \sum_x (\sqrt{p(x)} - \sqrt{q(x)})^2` ∈ [0, 1].

    Scale: the ½ convention (H² = 1 − Σ√(pq)); some texts use Σ(√p−√q)² = 2H². The distance H is
    :func:`hellinger_distance`. f(t) = ½(√t − 1)².

    >>> import divergences as dv
    >>> float(dv.hellinger([1.0, 0.0], [0.0, 1.0]))
    1.0
    """
    return _evaluate(_named("hellinger"), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def pearson(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True) -> Array:
    r"""Pearson χ² divergence :math:`\chi^2(P\|Q) = \sum_x (p(x) - q(x))^2 / q(x)` (f(t) = (t−1)²).

    Equals ``scipy.stats.power_divergence(n·p, n·q, lambda_="pearson").statistic / n``.

    >>> import divergences as dv
    >>> round(float(dv.pearson([0.5, 0.5], [0.9, 0.1])), 6)
    1.777778
    """
    return _evaluate(_named("pearson"), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def neyman(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True) -> Array:
    r"""Neyman χ² divergence :math:`\sum_x (p(x) - q(x))^2 / p(x)` = Pearson χ²(Q‖P) (f(t) = (1−t)²/t).

    >>> import divergences as dv
    >>> round(float(dv.neyman([0.5, 0.5], [0.9, 0.1])), 6)
    0.64
    """
    return _evaluate(_named("neyman"), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def triangular(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True) -> Array:
    r"""Triangular discrimination :math:`\sum_x (p - q)^2/(p + q)` ∈ [0, 2] (f(t) = (t−1)²/(t+1)).

    SequenceMatch's χ²(P‖(P+Q)/2) is half of this value.

    >>> import divergences as dv
    >>> float(dv.triangular([1.0, 0.0], [0.0, 1.0]))
    2.0
    """
    return _evaluate(_named("triangular"), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def alpha(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True, alpha: float = 0.5) -> Array:
    r"""Amari α-divergence :math:`D_\alpha = \frac{\sum_x p^\alpha q^{1-\alpha} - 1}{\alpha(\alpha-1)}`.

    Cichocki–Amari convention, any real α: α → 1 is KL(P‖Q) and α → 0 is KL(Q‖P), with continuous
    limits (evaluated with expm1) and exact values at the endpoints; α = ½ gives 4·H²
    (:func:`hellinger`); α = 2 gives ½·Pearson χ². Mappings: DPH-RL's α' = 1 − α; Cressie–Read's
    λ = α − 1 (their statistic is 2n·D_α). ``base`` applies only at the endpoints.

    >>> import divergences as dv
    >>> p, q = [0.5, 0.5], [0.9, 0.1]
    >>> abs(float(dv.alpha(p, q, alpha=1 - 1e-9)) - float(dv.kl(p, q))) < 1e-8
    True
    """
    return _evaluate(_named("alpha", alpha=alpha), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def skew_kl(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True, skew: float = 0.1) -> Array:
    r"""Skew KL :math:`KL(P\,\|\,\lambda P + (1-\lambda) Q)` with λ = ``skew`` ∈ [0, 1] (DistiLLM: 0.1).

    Finite even where q = 0 (for λ > 0); λ = 0 is :func:`kl`.

    >>> import divergences as dv
    >>> abs(float(dv.skew_kl([0.5, 0.5], [0.9, 0.1], skew=0.0)) - float(dv.kl([0.5, 0.5], [0.9, 0.1]))) < 1e-15
    True
    """
    return _evaluate(_named("skew_kl", skew=skew), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def skew_reverse_kl(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False,
                    validate: bool = True, skew: float = 0.1) -> Array:
    r"""Skew reverse KL :math:`KL(Q\,\|\,(1-\lambda) P + \lambda Q)` with λ = ``skew`` ∈ [0, 1].

    λ = 0 is :func:`reverse_kl`.

    >>> import divergences as dv
    >>> round(float(dv.skew_reverse_kl([0.5, 0.5], [0.9, 0.1], skew=0.0)), 6)
    0.368064
    """
    return _evaluate(_named("skew_reverse_kl", skew=skew), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def cross_entropy(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False,
                  validate: bool = True) -> Array:
    r"""Cross-entropy :math:`H(P, Q) = -\sum_x p(x) \log q(x) = H(P) + KL(P\|Q)`.

    torchtune's "forward KL" distillation loss is this quantity (it differs from KL by H(P)).

    >>> import divergences as dv
    >>> round(float(dv.cross_entropy([0.5, 0.5], [0.5, 0.5])), 6)
    0.693147
    """
    return _evaluate(_named("cross_entropy"), p, q, axis=axis, keepdims=keepdims, base=base,
                     from_logits=from_logits, normalize=normalize, validate=validate)


def js_distance(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False,
                validate: bool = True, beta: float = 0.5) -> Array:
    r"""Jensen–Shannon distance :math:`\sqrt{JS_\beta(P\|Q)}` (``scipy.spatial.distance.jensenshannon``).

    Rounding below zero is clipped before the square root (SciPy can return NaN there).

    >>> import divergences as dv
    >>> float(dv.js_distance([1.0, 0.0], [0.0, 1.0], base=2))
    1.0
    """
    v = js(p, q, axis=axis, keepdims=keepdims, base=base, from_logits=from_logits, normalize=normalize,
           validate=validate, beta=beta)
    xp = namespace(v)
    return xp.sqrt(xp.clip(v, 0.0, None))


def hellinger_distance(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False,
                       validate: bool = True) -> Array:
    r"""Hellinger distance :math:`H = \sqrt{\tfrac12 \sum_x (\sqrt{p} - \sqrt{q})^2}` ∈ [0, 1].

    >>> import divergences as dv
    >>> float(dv.hellinger_distance([1.0, 0.0], [0.0, 1.0]))
    1.0
    """
    v = hellinger(p, q, axis=axis, keepdims=keepdims, base=base, from_logits=from_logits,
                  normalize=normalize, validate=validate)
    xp = namespace(v)
    return xp.sqrt(xp.clip(v, 0.0, None))


# ---------------------------------------------------------------------------------------------
# single distributions and divergences that are not pointwise sums
# ---------------------------------------------------------------------------------------------


def entropy(p: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True) -> Array:
    r"""Shannon entropy :math:`H(P) = -\sum_x p(x)\log p(x)` (0·log 0 = 0).

    >>> import divergences as dv
    >>> float(dv.entropy([0.5, 0.5], base=2))
    1.0
    """
    inp = _Inputs(p, p, axis=axis, from_logits=from_logits, normalize=normalize, validate=validate,
                  names=("p", "p"))
    if inp.numpy_fast():
        p2, _ = inp.as_rows()
        vals = _numpy_kernels.entropy_rows(p2, normalize=inp.normalize, validate=inp.validate, atol=inp.atol)
        value = inp.finish(vals, keepdims=keepdims)
    else:
        inp.check()
        a, _ = inp.logs()
        value = inp.finish(inp.xp.sum(g.CrossEntropy().phi(a, a), axis=inp.axis), keepdims=keepdims,
                           reduced=True)
    return _apply_base(value, base, True, "entropy")


def _logsumexp(x: Array, xp: Any, axis: int) -> Array:
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    return xp.squeeze(m, axis=axis) + xp.log(xp.sum(xp.exp(x - m), axis=axis))


class _RenyiSum(g.Pointwise):
    """Pointwise p^α q^{1−α} − p (summed: Σ p^α q^{1−α} − 1), exact near α = 1 via expm1."""

    name = "renyi"
    value_p_zero = 0.0

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.value_q_zero = -1.0 if alpha < 1 else math.inf

    def _phi(self, a, b, xp):
        return g.Alpha._scaled_em1(a, a - b, self.alpha - 1, xp) * (self.alpha - 1)


def _renyi_rows(a: Array, b: Array, al: float, xp: Any, axis: int) -> Array:
    if math.isinf(al):
        pz = a == -math.inf
        ratio = xp.where(pz, xp.full_like(a, -math.inf), a - xp.where(pz, xp.zeros_like(b), b))
        ratio = xp.where(pz, ratio, xp.where(b == -math.inf, xp.full_like(a, math.inf), ratio))
        return xp.max(ratio, axis=axis)
    value = _renyi_log_domain(a, b, al, xp, axis)
    if abs(al - 1) <= 0.5:
        # near α = 1: log1p(Σ p·expm1(δd))/δ keeps the limit exact, where Σ p^α q^{1−α} = 1 + s is not
        # small (there 1 + s cancels and the log-sum-exp form is the accurate one)
        s = xp.sum(_RenyiSum(al).phi(a, b), axis=axis)
        near = xp.log1p(xp.clip(s, -0.5, None)) / (al - 1)
        value = xp.where(xp.isfinite(near) & (s > -0.5), near, value)
    return value


def _renyi_log_domain(a: Array, b: Array, al: float, xp: Any, axis: int) -> Array:
    """log(Σ p^α q^{1−α})/(α−1) by log-sum-exp over the support of P (no overflow for huge ratios)."""
    pz, qz = a == -math.inf, b == -math.inf
    zero = xp.zeros_like(a)
    x = al * xp.where(pz, zero, a) + (1 - al) * xp.where(qz, zero, b)
    x = xp.where(qz, xp.full_like(a, math.inf if al > 1 else -math.inf), x)
    x = xp.where(pz, xp.full_like(a, -math.inf), x)
    return _logsumexp(x, xp, axis) / (al - 1)


def renyi(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False, validate: bool = True, alpha: float = 0.5) -> Array:
    r"""Rényi divergence of order α ≥ 0: :math:`D_\alpha = \frac{1}{\alpha-1}\log\sum_x p^\alpha q^{1-\alpha}`.

    Every α ≥ 0, with the limits as values: α = 0 is −log Q(supp P); α = 1 is KL(P‖Q); α = ∞
    (``alpha=float("inf")``) is log max_x p(x)/q(x). Non-decreasing in α; continuous at α = 1
    (the sum is formed as log1p(Σ p·expm1((α−1) log(p/q))) / (α−1)). D_½ = 2·Bhattacharyya.

    >>> import divergences as dv
    >>> p, q = [0.5, 0.5], [0.9, 0.1]
    >>> abs(float(dv.renyi(p, q, alpha=1.0)) - float(dv.kl(p, q))) < 1e-15
    True
    """
    al = float(alpha)
    if not al >= 0:
        raise ValueError(f"alpha must be ≥ 0 for the Rényi divergence, got {alpha!r}")
    if al == 1.0:
        return kl(p, q, axis=axis, keepdims=keepdims, base=base, from_logits=from_logits,
                  normalize=normalize, validate=validate)
    inp = _Inputs(p, q, axis=axis, from_logits=from_logits, normalize=normalize, validate=validate)
    fast = None if (math.isinf(al) or al == 0) else (lambda pb, qb: _numpy_kernels.renyi_rows(pb, qb, al))
    value = _rowwise(inp, keepdims, lambda a, b, xp, ax: _renyi_rows(a, b, al, xp, ax), fast)
    return _apply_base(value, base, True, "renyi")


def _bhattacharyya_rows(a: Array, b: Array, xp: Any, axis: int) -> Array:
    h2 = xp.sum(_named("hellinger").phi(a, b), axis=axis)
    pz, qz = a == -math.inf, b == -math.inf
    zero = xp.zeros_like(a)
    half = xp.where(pz | qz, xp.full_like(a, -math.inf), 0.5 * (xp.where(pz, zero, a) + xp.where(qz, zero, b)))
    # close distributions: −log1p(−H²) keeps relative precision; far ones: −log BC by log-sum-exp
    return xp.where(h2 < 0.5, -xp.log1p(-xp.clip(h2, 0.0, 0.5)), -_logsumexp(half, xp, axis))


def bhattacharyya(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False,
                  validate: bool = True) -> Array:
    r"""Bhattacharyya distance :math:`D_B = -\log \sum_x \sqrt{p(x) q(x)}` (= −log(1 − H²)).

    Computed as −log1p(−H²) from the squared Hellinger distance where H² < ½, so that close
    distributions keep full relative precision, and as −logsumexp(½(log p + log q)) elsewhere, so that
    nearly disjoint ones do not round to +inf. +inf for disjoint supports. Bounds: 1 − BC ≤ TV ≤ √(2(1 − BC)).

    >>> import divergences as dv
    >>> float(dv.bhattacharyya([0.5, 0.5], [0.5, 0.5]))
    0.0
    """
    inp = _Inputs(p, q, axis=axis, from_logits=from_logits, normalize=normalize, validate=validate)
    value = _rowwise(inp, keepdims, _bhattacharyya_rows, _numpy_kernels.bhattacharyya_rows)
    return _apply_base(value, base, True, "bhattacharyya")


def _cauchy_schwarz_rows(a: Array, b: Array, xp: Any, axis: int) -> Array:
    cross = _logsumexp(a + b, xp, axis)
    value = _logsumexp(2 * a, xp, axis) + _logsumexp(2 * b, xp, axis) - 2 * cross
    return xp.where(cross == -math.inf, xp.full_like(value, math.inf), xp.clip(value, 0.0, None))


def cauchy_schwarz(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
    normalize: bool = False,
                   validate: bool = True) -> Array:
    r"""Cauchy–Schwarz divergence :math:`D_{CS} = -\log\frac{(\sum_x p q)^2}{\sum_x p^2 \sum_x q^2}` ≥ 0.

    Zero iff P = Q; symmetric; +inf for disjoint supports. Formed with log-sum-exp in log space
    (no underflow for logits far below zero); rounding below 0 is clipped.

    >>> import divergences as dv
    >>> round(float(dv.cauchy_schwarz([0.5, 0.5], [0.9, 0.1])), 6)
    0.494696
    """
    inp = _Inputs(p, q, axis=axis, from_logits=from_logits, normalize=normalize, validate=validate)
    value = _rowwise(inp, keepdims, _cauchy_schwarz_rows, _numpy_kernels.cauchy_schwarz_rows)
    return _apply_base(value, base, True, "cauchy_schwarz")


registry.register("renyi", function=renyi, description="Rényi divergence of order alpha")
registry.register("bhattacharyya", function=bhattacharyya, description="Bhattacharyya distance −log Σ√(pq)")
registry.register("cauchy_schwarz", function=cauchy_schwarz, description="Cauchy–Schwarz divergence")


def divergence(name: str | Any, p: Array, q: Array, **kwargs: Any) -> Array:
    """Any registered divergence by name (see :func:`divergences.available`), or a generator.

    ``kwargs`` are the shared keywords (``axis``, ``keepdims``, ``base``, ``from_logits``,
    ``normalize``, ``validate``) and the divergence's parameters (``beta`` for js, ``alpha`` for
    alpha and renyi, ``skew`` for the skew KLs).

    >>> import divergences as dv
    >>> float(dv.divergence("tv", [0.5, 0.5], [0.9, 0.1]))
    0.4
    """
    shared = {k: kwargs.pop(k) for k in ("axis", "keepdims", "base", "from_logits", "normalize", "validate")
              if k in kwargs}
    if not isinstance(name, str):
        if kwargs:
            raise ValueError(f"unexpected parameters {sorted(kwargs)} for a generator object")
        return f_divergence(p, q, name, **shared)
    spec = registry.get(name)
    if spec.kind == "function":
        unknown = set(kwargs) - set(spec.defaults)
        if unknown:
            raise ValueError(f"divergence {name!r} takes no parameter(s) {sorted(unknown)}")
        return spec.function(p, q, **shared, **kwargs)
    gen = spec.generator(**kwargs)
    defaults = dict(axis=-1, keepdims=False, base=None, from_logits=False, normalize=False, validate=True)
    defaults.update(shared)
    return _evaluate(gen, p, q, **defaults)
