"""The exact layer's generic entry points: any divergence by name or value, any generator, entropy.

The verbs ``dv.kl``, ``dv.js``, ... (:mod:`divergences.exact.verbs`) are generated from the registry
and call the same evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from numpy.typing import ArrayLike

from .. import catalogue  # noqa: F401  (fills the registry with the built-in records)
from ..catalogue.entropy import CrossEntropy
from ..core.array_types import NumPyValue
from ..core.divergence import Divergence, spec
from ..core.terms import Pointwise, as_generator
from ..core.validation import check_flag
from . import runner
from .evaluate import Inputs, apply_base, evaluate

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["divergence", "entropy", "f_divergence"]

@overload
def f_divergence(p: Tensor, q: Tensor, f: Pointwise | Callable[[Any], Any], *, axis: int = -1,
                 keepdims: bool = False, base: float | None = None, from_logits: bool = False,
                 normalize: bool = False, validate: bool = True) -> Tensor: ...
@overload
def f_divergence(p: ArrayLike, q: ArrayLike, f: Pointwise | Callable[[Any], Any], *, axis: int = -1,
                 keepdims: bool = False, base: float | None = None, from_logits: bool = False,
                 normalize: bool = False, validate: bool = True) -> NumPyValue: ...
def f_divergence(p: Any, q: Any, f: Pointwise | Callable[[Any], Any], *, axis: int = -1, keepdims: bool = False,
                 base: float | None = None, from_logits: bool = False, normalize: bool = False,
                 validate: bool = True) -> Any:
    r"""The f-divergence :math:`D_f(P\|Q) = \sum_x q(x) f(p(x)/q(x))`.

    ``f`` is a :class:`~divergences.core.terms.Generator` (every built-in divergence is one; its
    log-space term is used, stable for logits of ±1e4), any pointwise term, or a plain callable
    ``f(t)`` called with arrays of the caller's backend (convex, ``f(1) = 0``; a ``math``-based
    callable is applied element by element). Boundary conventions: where ``p = 0`` the term is
    ``q f(0+)``; where ``q = 0 < p`` it is ``p · lim f(t)/t`` (+inf for superlinear f). ``base``
    divides by ``log(base)``. There is no SciPy equivalent for a general f.

    >>> import numpy as np, divergences as dv
    >>> round(float(dv.f_divergence([0.5, 0.5], [0.9, 0.1], lambda t: (t - 1) ** 2)), 12)  # Pearson χ²
    1.777777777778
    >>> round(float(dv.f_divergence([0.5, 0.5], [0.9, 0.1], lambda t: t * np.log(t))), 6)  # KL, f(0+) = 0
    0.510826
    """
    return evaluate(as_generator(f), p, q, {}, axis=axis, keepdims=keepdims, base=base, from_logits=from_logits,
                    normalize=normalize, validate=validate)


@overload
def entropy(p: Tensor, *, axis: int = -1, keepdims: bool = False, base: float | None = None,
            from_logits: bool = False, normalize: bool = False, validate: bool = True) -> Tensor: ...
@overload
def entropy(p: ArrayLike, *, axis: int = -1, keepdims: bool = False, base: float | None = None,
            from_logits: bool = False, normalize: bool = False, validate: bool = True) -> NumPyValue: ...
def entropy(p: Any, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
            normalize: bool = False, validate: bool = True) -> Any:
    r"""Shannon entropy :math:`H(P) = -\sum_x p(x)\log p(x)` (0·log 0 = 0), as ``scipy.stats.entropy(p)``.

    >>> import divergences as dv
    >>> float(dv.entropy([0.5, 0.5], base=2))
    1.0
    """
    keepdims = check_flag(keepdims, "keepdims")
    inp = Inputs(p, p, axis=axis, from_logits=from_logits, normalize=normalize, validate=validate, names=("p", "p"))
    if inp.numpy_fast():
        p2, _ = inp.as_rows()
        vals = runner.entropy_rows(p2, normalize=inp.normalize, validate=inp.validate, atol=inp.atol)
        value = inp.finish(vals, keepdims=keepdims)
    else:
        inp.check()
        a, _ = inp.logs()
        xp = inp.xp
        value = inp.finish(xp.clip(xp.sum(CrossEntropy().phi(a, a), axis=inp.axis), 0.0, None),
                           keepdims=keepdims, reduced=True)
    return apply_base(value, base, True, "entropy")


@overload
def divergence(name: str | Divergence | Pointwise | Callable[[Any], Any], p: Tensor, q: Tensor, *,
               axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
               normalize: bool = False, validate: bool = True, **params: float) -> Tensor: ...
@overload
def divergence(name: str | Divergence | Pointwise | Callable[[Any], Any], p: ArrayLike, q: ArrayLike, *,
               axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
               normalize: bool = False, validate: bool = True, **params: float) -> NumPyValue: ...
def divergence(name: str | Divergence | Pointwise | Callable[[Any], Any], p: Any, q: Any, *, axis: int = -1,
               keepdims: bool = False, base: float | None = None, from_logits: bool = False, normalize: bool = False,
               validate: bool = True, **params: float) -> Any:
    """Any divergence D(p‖q): a registered name or alias (see :func:`divergences.available`) with its
    parameters, a :func:`divergences.spec` value, a term object or a generator callable f(t).

    The keywords are the verbs' shared ones (``axis``, ``keepdims``, ``base``, ``from_logits``,
    ``normalize``, ``validate``); ``params`` are the divergence's own (``beta`` for js, ``alpha`` for
    alpha and renyi, ``skew`` for the skew KLs, ``order`` for jensen_tsallis), given here or inside
    a :func:`~divergences.spec` value (not both).

    >>> import divergences as dv
    >>> float(dv.divergence("tv", [0.5, 0.5], [0.9, 0.1]))
    0.4
    >>> float(dv.divergence("psi", [0.5, 0.5], [0.9, 0.1])) == float(dv.jeffreys([0.5, 0.5], [0.9, 0.1]))
    True
    >>> float(dv.divergence(dv.spec("js", beta=0.0), [0.5, 0.5], [0.9, 0.1]))
    0.0
    """
    shared = {"axis": axis, "keepdims": keepdims, "base": base, "from_logits": from_logits, "normalize": normalize,
              "validate": validate}
    if isinstance(name, Divergence) and params:
        raise ValueError(f"give the parameters {sorted(params)} inside spec(...), not beside {name!r}")
    value = spec(name, **params) if not isinstance(name, Divergence) else name
    if value.record is None:
        return evaluate(value.term(), p, q, {}, **shared)
    return evaluate(value.record, p, q, value.params, **shared)
