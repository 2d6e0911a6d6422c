r"""What the exact verbs' docstrings say: the record's own text, then the keywords every verb shares.

Every verb is ``dv.<name>(p, q, *, axis=-1, keepdims=False, base=None, from_logits=False,
normalize=False, validate=True, **its parameters)``; records with a distance form also get
``dv.<distance>`` (√ of the divergence). Shared keywords:

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
float64; float32 stays float32; NumPy longdouble stays longdouble; float16/bfloat16 are computed (and
returned) in float32, integer counts in float64. The result has the caller's array type and device
(NumPy, PyTorch with autograd, CuPy, JAX, ...). Bad input raises a ValueError naming the argument.

The record's text (formula, conventions, the mapping to the peer library, examples) lives once, in the
catalogue. The generated module :mod:`divergences.exact.verbs` carries each verb's first line, which is
what an editor shows on hover; :func:`attach` gives every verb its whole docstring when the module is
imported, so ``help(dv.kl)`` and the doctests read the full text.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..core.record import Record, records

__all__ = ["attach", "full", "served", "summary"]

_KEYWORDS = """\
Keywords (shared by every verb; see :mod:`divergences.exact.verb_docs`): ``axis=-1`` (the category
axis), ``keepdims=False``, ``base=None`` (nats; 2 for bits{base_note}), ``from_logits=False``
(inputs are unnormalised log-probabilities), ``normalize=False`` (accept counts), ``validate=True``.{params}"""


def _body(spec: Record) -> str:
    text = spec.doc or (spec.factory.__doc__ if spec.factory is not None else "") or spec.description
    return inspect.cleandoc(text)


def full(spec: Record, distance: bool) -> str:
    """The verb's whole docstring: the record's text, then the shared keywords and its parameters."""
    body = _body(spec)
    if distance:  # the formula paragraph of the divergence; its conventions and peer mapping are at its own verb
        formula = body.split("\n\n", 1)[0]
        body = (f"The distance √{spec.name}: the square root of :func:`{spec.name}` (rounding below 0 is "
                f"clipped; the gradient at P = Q is the subgradient 0, never NaN).\n\n{formula}\n\n"
                f"Conventions, examples and the mapping to the peer libraries: :func:`{spec.name}`.")
    base_note = "" if spec.term_attribute("information_units") else "; refused: not in units of information"
    params = "".join(f" ``{k}={v!r}``" for k, v in spec.defaults.items())
    params = f"\nParameter(s):{params}." if params else ""
    return f"{body.rstrip()}\n\n{_KEYWORDS.format(base_note=base_note, params=params)}\n"


def summary(spec: Record, distance: bool) -> str:
    """The first line of the verb's docstring (the one a generated verb carries in source)."""
    return full(spec, distance).split("\n", 1)[0]


def served(specs: Iterable[Record]) -> list[tuple[str, Record, bool]]:
    """``(verb name, record, distance form)`` of every verb ``specs`` serve: each divergence, then its distance."""
    return [(spec.distance if distance and spec.distance else spec.name, spec, distance) for spec in specs
            for distance in (False, True) if not distance or spec.distance]


def attach(verbs: Mapping[str, Callable[..., Any]], module: str) -> None:
    """Give each generated verb its whole docstring (:func:`full`) and ``module`` as its public home."""
    by_name = {name: (spec, distance) for name, spec, distance in served(records())}
    for name, verb in verbs.items():
        verb.__doc__ = full(*by_name[name])
        verb.__module__ = module
