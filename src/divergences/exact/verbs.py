r"""The exact verbs, generated from the registry records with one shared signature.

Every built-in record gets a verb ``dv.<name>(p, q, *, axis=-1, keepdims=False, base=None,
from_logits=False, normalize=False, validate=True, **its parameters)`` whose docstring is the
record's (formula, conventions, peer mapping, examples) followed by the shared keywords; records
with a distance form also get ``dv.<distance>`` (√ of the divergence). ``inspect.signature``,
``help()`` and ``typing.get_type_hints`` show the real keywords. Shared keywords:

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
epsilon); a divergence is never negative and is exactly 0 for identical inputs. float64 stays
float64; float32 stays float32; float16/bfloat16 and integer counts are computed in float32 (half)
or float64 (integers) and returned in that dtype. The result has the caller's array type and device
(NumPy, PyTorch with autograd, CuPy, JAX, ...). Bad input raises a ValueError naming the argument.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .. import catalogue  # noqa: F401  (fills the registry with the built-in records)
from ..catalogue.entropy import CrossEntropy
from ..core import record
from ..core.backend import Array, namespace, safe_sqrt
from ..core.record import SHARED_KEYWORDS, Spec
from ..core.terms import as_generator
from ..core.validation import check_flag
from . import runner
from .evaluate import Inputs, apply_base, evaluate

__all__ = ["divergence", "entropy", "f_divergence"]

_P = inspect.Parameter
#: (name, annotation, default) of the keywords every verb shares
SHARED = (
    ("axis", "int", -1),
    ("keepdims", "bool", False),
    ("base", "float | None", None),
    ("from_logits", "bool", False),
    ("normalize", "bool", False),
    ("validate", "bool", True),
)
assert tuple(n for n, _, _ in SHARED) == SHARED_KEYWORDS
_SHARED_DEFAULTS = {n: d for n, _, d in SHARED}

_KEYWORDS_DOC = """
    Keywords (shared by every verb; see :mod:`divergences.exact.verbs`): ``axis=-1`` the category
    axis, ``keepdims=False``, ``base=None`` (nats; 2 for bits){base_note}, ``from_logits=False``
    (inputs are unnormalised log-probabilities), ``normalize=False`` (accept counts), ``validate=True``.{params}
    """


def _signature(inputs: tuple[str, ...], params: dict[str, Any]) -> inspect.Signature:
    ps = [_P(n, _P.POSITIONAL_OR_KEYWORD, annotation="Array") for n in inputs]
    ps += [_P(n, _P.KEYWORD_ONLY, default=d, annotation=a) for n, a, d in SHARED]
    ps += [_P(n, _P.KEYWORD_ONLY, default=d, annotation="float") for n, d in params.items()]
    return inspect.Signature(ps, return_annotation="Array")


def _dress(fn: Callable[..., Any], name: str, doc: str, inputs: tuple[str, ...], params: dict[str, Any]) -> None:
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    sig = _signature(inputs, params)
    fn.__signature__ = sig  # type: ignore[attr-defined]
    fn.__annotations__ = {**{p.name: p.annotation for p in sig.parameters.values()}, "return": "Array"}


def _verb_doc(spec: Spec, distance: bool) -> str:
    body = spec.doc or (spec.factory.__doc__ if spec.factory is not None else "") or spec.description
    body = inspect.cleandoc(body)
    if distance:
        body = (f"The distance √{spec.name}: the square root of :func:`{spec.name}` (rounding below 0 is "
                f"clipped; the gradient at P = Q is the subgradient 0, never NaN).\n\n{body}")
    logarithmic = spec.term_attribute("information_units")
    base_note = "" if logarithmic else "; refused where the value is not in units of information"
    params = "".join(f" ``{k}={v!r}``" for k, v in spec.defaults.items())
    params = f"\n    Parameter(s):{params}." if params else ""
    first, _, rest = body.partition("\n")
    keywords = _KEYWORDS_DOC.format(base_note=base_note, params=params)
    return f"{first}\n{rest.rstrip()}\n\n{inspect.cleandoc(keywords)}\n"


def make_verb(spec: Spec, *, distance: bool = False) -> Callable[..., Array]:
    """The exact verb of a record (its square-root distance with ``distance=True``)."""

    def verb(p: Array, q: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None,
             from_logits: bool = False, normalize: bool = False, validate: bool = True, **params: Any) -> Array:
        value = evaluate(spec, p, q, params, axis=axis, keepdims=keepdims, base=base, from_logits=from_logits,
                         normalize=normalize, validate=validate)
        if distance:
            return safe_sqrt(value, namespace(value))
        return value

    _dress(verb, spec.distance if distance else spec.name, _verb_doc(spec, distance), ("p", "q"), spec.defaults)
    verb.__module__ = __name__
    return verb


def f_divergence(p: Array, q: Array, f: Any, *, axis: int = -1, keepdims: bool = False, base: float | None = None,
                 from_logits: bool = False, normalize: bool = False, validate: bool = True) -> Array:
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


def entropy(p: Array, *, axis: int = -1, keepdims: bool = False, base: float | None = None, from_logits: bool = False,
            normalize: bool = False, validate: bool = True) -> Array:
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


def divergence(name: str | Any, p: Array, q: Array, **kwargs: Any) -> Array:
    """Any registered divergence by name or alias (see :func:`divergences.available`), or a generator.

    ``kwargs`` are the shared keywords (``axis``, ``keepdims``, ``base``, ``from_logits``,
    ``normalize``, ``validate``) and the divergence's parameters (``beta`` for js, ``alpha`` for
    alpha and renyi, ``skew`` for the skew KLs, ``order`` for jensen_tsallis).

    >>> import divergences as dv
    >>> float(dv.divergence("tv", [0.5, 0.5], [0.9, 0.1]))
    0.4
    >>> float(dv.divergence("psi", [0.5, 0.5], [0.9, 0.1])) == float(dv.jeffreys([0.5, 0.5], [0.9, 0.1]))
    True
    """
    shared = {k: kwargs.pop(k) for k in SHARED_KEYWORDS if k in kwargs}
    if not isinstance(name, str):
        if kwargs:
            raise ValueError(f"unexpected parameters {sorted(kwargs)} for a generator object")
        return f_divergence(p, q, name, **shared)
    spec = record.get(name)
    return evaluate(spec, p, q, kwargs, **{**_SHARED_DEFAULTS, **shared})


def _build() -> dict[str, Callable[..., Array]]:
    verbs: dict[str, Callable[..., Array]] = {}
    for spec in record.records():
        if not spec.builtin:
            continue
        verbs[spec.name] = make_verb(spec)
        record.set_verb(spec.name, verbs[spec.name])
        if spec.distance:
            verbs[spec.distance] = make_verb(spec, distance=True)
    return verbs


VERBS = _build()
globals().update(VERBS)
__all__ += sorted(VERBS)
