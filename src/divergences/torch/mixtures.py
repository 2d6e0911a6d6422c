r"""A weighted mixture of registry divergences, computed in one pass: ``Σ_k w_k D_k``.

:func:`mixture` returns a pointwise term (a :class:`~divergences.generators.Pointwise`) whose term and
partial derivatives are the weighted sums of its components'; each component keeps its own boundary
rule. It can be passed as ``divergence=`` to every token loss (dense, fused, top-k, vocab-parallel),
with closed-form gradients when every component has them.

* torchtune's ``SymmetricKLLoss`` (the average of forward and reverse KL) is
  ``mixture({"kl": 0.5, "reverse_kl": 0.5})`` (Jeffreys / 2).
* BD-KD (Amara et al., 2022) weighs forward and reverse KL per sample; a fixed-weight mixture is
  ``mixture({"kl": w, "reverse_kl": 1 - w})``; per-token weights (e.g. from the entropy gap of
  :func:`~divergences.torch.token_entropy`) are applied by calling the loss once per component with
  ``weights=`` (the mixture's weights here are constants).

>>> import torch
>>> from divergences.torch import divergence_loss, mixture
>>> z = torch.randn(4, 7, dtype=torch.float64); t = torch.randn(4, 7, dtype=torch.float64)
>>> sym = divergence_loss(z, t, mixture({"kl": 0.5, "reverse_kl": 0.5}))
>>> bool(torch.isclose(sym, 0.5 * divergence_loss(z, t, "jeffreys")))
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .. import registry
from ..generators import Pointwise

__all__ = ["Mixture", "mixture"]


class Mixture(Pointwise):
    """Σ_k w_k φ_k(a, b): the weighted sum of pointwise terms (built by :func:`mixture`)."""

    def __init__(self, components: list[tuple[float, Pointwise]]) -> None:
        self.components = components
        self.name = "mixture(" + ", ".join(f"{w:g}·{getattr(g, 'name', 'custom')}" for w, g in components) + ")"
        self.symmetric = all(g.symmetric for _, g in components)
        self.value_p_zero = sum(w * g.value_p_zero for w, g in components if w)
        self.value_q_zero = sum(w * g.value_q_zero for w, g in components if w)

    def __repr__(self) -> str:
        return self.name

    @property
    def has_closed_form_gradient(self) -> bool:
        return all(g.has_closed_form_gradient for _, g in self.components)

    def _phi(self, a, b, xp):
        return sum(w * g._phi(a, b, xp) for w, g in self.components)

    def _dphi(self, a, b, xp):
        parts = [(w, g._dphi(a, b, xp)) for w, g in self.components]
        return sum(w * d[0] for w, d in parts), sum(w * d[1] for w, d in parts)

    def _phi_dphi(self, a, b, xp):
        out = [(w, g._phi_dphi(a, b, xp)) for w, g in self.components]
        return tuple(sum(w * r[i] for w, r in out) for i in range(3))

    def phi(self, a, b):
        return sum(w * g.phi(a, b) for w, g in self.components)

    def dphi(self, a, b):
        parts = [(w, g.dphi(a, b)) for w, g in self.components]
        return sum(w * d[0] for w, d in parts), sum(w * d[1] for w, d in parts)

    def phi_dphi(self, a, b):
        out = [(w, g.phi_dphi(a, b)) for w, g in self.components]
        return tuple(sum(w * r[i] for w, r in out) for i in range(3))


def mixture(components: Mapping[Any, float] | list[tuple[Any, float]]) -> Mixture:
    """The mixture Σ_k w_k D_k of pointwise divergences.

    Args:
        components: ``{name_or_generator: weight}`` or a list of ``(divergence, weight)`` pairs; a
            divergence is a registered pointwise name, a configured generator instance, or a
            ``(name, params)`` pair (``(("js", {"beta": 0.2}), 1.0)``). Weights are finite numbers
            (any sign; a negative weight can make the sum negative).
    """
    items = list(components.items()) if isinstance(components, Mapping) else list(components)
    if not items:
        raise ValueError("mixture needs at least one (divergence, weight) component")
    out: list[tuple[float, Pointwise]] = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ValueError(f"mixture components must be (divergence, weight) pairs, got {item!r}")
        div, w = item
        if isinstance(w, (bool, str)) or not hasattr(w, "__float__") or not math.isfinite(float(w)):
            raise ValueError(f"mixture weight of {div!r} must be a finite number, got {w!r}")
        if isinstance(div, tuple) and len(div) == 2 and isinstance(div[0], str):
            gen = registry.get_generator(div[0], **dict(div[1]))
        else:
            if isinstance(div, str) and registry.get(div).kind == "function":
                raise ValueError(f"mixture components must be pointwise divergences; {div!r} is a registry function")
            gen = registry.get_generator(div)
        out.append((float(w), gen))
    return Mixture(out)
