"""The one place where the new trainers and losses of :mod:`divergences.hf` read a divergence argument.

A divergence travels as a pair ``(divergence, params)``: a registry name (or a generator, or a callable
f(t)) and a dict of its parameters. Every function of :mod:`.cross_tokenizer`, :mod:`.on_policy` and
:mod:`.grpo` calls :func:`divergence_arg` on what the user gave and passes the pair on unchanged
(``divergence_loss(..., divergence, params=params)``, ``sampled_divergence(..., divergence, **params)``), so
that a divergence value object carrying its own parameters can be accepted here, in one function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..torch._divergence import resolve

__all__: list[str] = []

DivergenceArg = tuple[Any, dict[str, Any]]


def divergence_arg(divergence: Any, params: Mapping[str, Any] | None = None, *, what: str = "divergence"
                   ) -> DivergenceArg:
    """``(divergence, params)`` checked once (a bad name or parameter is a ValueError naming ``what``)."""
    if params is not None and not isinstance(params, Mapping):
        raise ValueError(f"{what}_params must be a mapping of the divergence's parameters (e.g. {{'beta': 0.5}}), "
                         f"got {type(params).__name__}")
    kw = dict(params or {})
    try:
        resolve(divergence, kw)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    return divergence, kw
