"""Records enumerated by their facts, for the tabular tests (a new divergence joins them by itself)."""

from __future__ import annotations

from divergences.core.divergence import Divergence, spec
from divergences.core.record import available


def with_defaults(name: str) -> Divergence | None:
    """The record ``name`` with its default parameters, None when it has none to build with."""
    try:
        return spec(name)
    except (TypeError, ValueError):
        return None


def divergences(kind: str | None = None) -> list[Divergence]:
    """Every divergence between distributions (of ``kind``) buildable with its default parameters."""
    found = (with_defaults(n) for n in available(kind))
    return [d for d in found if d is not None and d.attribute("is_divergence")]
