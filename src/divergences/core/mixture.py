r"""A weighted sum of pointwise divergences, as one pointwise term: :math:`\sum_k w_k D_k(P\|Q)`.

:class:`Mixture` is a pointwise term (:class:`~divergences.core.terms.Pointwise`) whose term and partial
derivatives are the weighted sums of its components'; each component keeps its own boundary rule
(p = 0 or q = 0). Being a term, it is accepted wherever a divergence is: the exact layer
(``dv.divergence(Mixture(...), p, q)``, ``dv.spec(Mixture(...))``) on NumPy and every other array backend,
and every torch token loss (dense, fused, top-k, vocab-parallel), with closed-form gradients when every
component has them. :func:`mixture` builds one from ``{divergence: weight}``.

torchtune's ``SymmetricKLLoss`` (the average of forward and reverse KL) is
``mixture({"kl": 0.5, "reverse_kl": 0.5})``, i.e. Jeffreys / 2:

>>> import numpy as np
>>> import divergences as dv
>>> from divergences.core.mixture import mixture
>>> p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
>>> sym = mixture({"kl": 0.5, "reverse_kl": 0.5})
>>> bool(np.isclose(dv.divergence(sym, p, q), 0.5 * dv.jeffreys(p, q)))
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from .divergence import DivergenceLike, spec
from .terms import Array, Pointwise

__all__ = ["Mixture", "mixture"]


def _weighted(values: list[tuple[float, float | None]]) -> float | None:
    """Σ w·v, or None (probed by the term) when a component leaves its boundary value to probing."""
    if any(v is None for _, v in values):
        return None
    return sum(w * v for w, v in values if v is not None)


def _sum3(out: list[tuple[float, tuple[Any, Any, Any]]]) -> tuple[Any, Any, Any]:
    return (sum(w * r[0] for w, r in out), sum(w * r[1] for w, r in out), sum(w * r[2] for w, r in out))


def _weight(w: Any, of: Any) -> float:
    """A component's weight as a float; ValueError unless it is a finite number."""
    if isinstance(w, (bool, str)) or not hasattr(w, "__float__") or not math.isfinite(float(w)):
        raise ValueError(f"mixture weight of {of!r} must be a finite number, got {w!r}")
    return float(w)


def _common(values: list[float | None]) -> float | None:
    """The components' common degree of homogeneity, or None (probed) if they differ."""
    first = values[0]
    return first if all(v == first for v in values) else None


def _pairs(items: Iterable[Any], shape: str) -> list[tuple[Any, Any]]:
    """``items`` as a list of pairs (ValueError naming ``shape`` for none, or for an item that is not a pair)."""
    pairs = list(items)
    if not pairs:
        raise ValueError(f"a mixture needs at least one {shape} component")
    for item in pairs:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ValueError(f"mixture components must be {shape} pairs, got {item!r}")
    return pairs


class Mixture(Pointwise):
    r""":math:`\sum_k w_k \varphi_k(a, b)`: the weighted sum of pointwise terms.

    Its facts follow from the components': symmetric, bounded gradients (no overflow) and units of
    information when every component has them; a divergence (D(P, P) = 0, D ≥ 0) when every component is
    one and every weight is ≥ 0.

    :param components: ``(weight, term)`` pairs (finite weights of any sign; a negative weight can make the
        sum negative); :func:`mixture` builds them from names and ``dv.spec(...)`` values.
    :raises ValueError: for no component, a weight that is not a finite number, or a component that is not a
        pointwise term.
    """

    def __init__(self, components: Sequence[tuple[float, Pointwise]]) -> None:
        checked: list[tuple[float, Pointwise]] = []
        for w, term in _pairs(components, "(weight, term)"):
            weight = _weight(w, term)
            if not isinstance(term, Pointwise):
                raise ValueError(f"mixture components must be pointwise terms, got {type(term).__name__}")
            checked.append((weight, term))
        self.components = checked
        self.name = "mixture(" + ", ".join(f"{w:g}·{getattr(g, 'name', 'custom')}" for w, g in checked) + ")"
        self.symmetric = all(g.symmetric for _, g in checked)
        self.bounded_gradient = all(g.bounded_gradient for _, g in checked)
        self.information_units = all(g.information_units for _, g in checked)
        self.is_divergence = all(g.is_divergence and w >= 0 for w, g in checked)
        self.degree = _common([g.degree for _, g in checked])
        self.value_p_zero = _weighted([(w, g.value_p_zero) for w, g in checked if w])
        self.value_q_zero = _weighted([(w, g.value_q_zero) for w, g in checked if w])

    def __repr__(self) -> str:
        return self.name

    @property
    def has_closed_form_gradient(self) -> bool:
        return all(g.has_closed_form_gradient for _, g in self.components)

    def _phi(self, a: Array, b: Array, xp: Any) -> Array:
        return sum(w * g._phi(a, b, xp) for w, g in self.components)

    def _dphi(self, a: Array, b: Array, xp: Any) -> tuple[Array, Array]:
        parts = [(w, g._dphi(a, b, xp)) for w, g in self.components]
        return sum(w * d[0] for w, d in parts), sum(w * d[1] for w, d in parts)

    def _phi_dphi(self, a: Array, b: Array, xp: Any) -> tuple[Array, Array, Array]:
        return _sum3([(w, g._phi_dphi(a, b, xp)) for w, g in self.components])

    def phi(self, a: Array, b: Array) -> Array:
        return sum(w * g.phi(a, b) for w, g in self.components)

    def dphi(self, a: Array, b: Array) -> tuple[Array, Array]:
        parts = [(w, g.dphi(a, b)) for w, g in self.components]
        return sum(w * d[0] for w, d in parts), sum(w * d[1] for w, d in parts)

    def phi_dphi(self, a: Array, b: Array) -> tuple[Array, Array, Array]:
        return _sum3([(w, g.phi_dphi(a, b)) for w, g in self.components])


def _term(div: Any) -> Pointwise:
    if isinstance(div, tuple) and len(div) == 2 and isinstance(div[0], str) and isinstance(div[1], Mapping):
        value = spec(div[0], **dict(div[1]))
    else:
        value = spec(cast(DivergenceLike, div))
    if not value.pointwise:
        raise ValueError(f"mixture components must be pointwise divergences; {value.name!r} is not a sum of "
                         "pointwise terms")
    return value.term()


def mixture(components: Mapping[Any, float] | Sequence[tuple[Any, float]]) -> Mixture:
    """A :class:`Mixture` ``Σ_k w_k D_k`` from ``{divergence: weight}`` or ``[(divergence, weight), ...]``.

    :param components: each divergence is a registered pointwise name, a ``dv.spec(...)`` value carrying its
        parameters (``dv.spec("js", beta=0.2)``), a term object, or a ``(name, params)`` pair; weights are
        finite numbers (any sign).
    :returns: the mixture term.
    :raises ValueError: for no component, a bad weight, an unknown name or parameter, or a divergence that is
        not a sum of pointwise terms (Rényi, Bhattacharyya, ...).

    >>> from divergences.core.mixture import mixture
    >>> mixture({"kl": 0.5, "reverse_kl": 0.5})
    mixture(0.5·kl, 0.5·reverse_kl)
    """
    items = components.items() if isinstance(components, Mapping) else components
    return Mixture([(_weight(w, div), _term(div)) for div, w in _pairs(items, "(divergence, weight)")])
