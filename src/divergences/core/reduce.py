"""Reductions along the category axis, as an object: the "function" records (Rényi, Bhattacharyya,
Cauchy–Schwarz) are written against it, so the same definition serves one array and a vocabulary
sharded across processes (the torch layer passes a reducer that all-reduces its partial results)."""

from __future__ import annotations

from typing import Any

from .backend import Array

__all__ = ["LocalReduce", "logsumexp"]


def logsumexp(x: Array, xp: Any, axis: int) -> Array:
    """log Σ e^x along ``axis``; −inf for an all −inf slice (never NaN)."""
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    return xp.squeeze(m, axis=axis) + xp.log(xp.sum(xp.exp(x - m), axis=axis))


class LocalReduce:
    """Σ, log-sum-exp and max along one axis of arrays held whole."""

    def __init__(self, xp: Any, axis: int) -> None:
        self.xp, self.axis = xp, axis

    def sum(self, x: Array) -> Array:
        return self.xp.sum(x, axis=self.axis)

    def logsumexp(self, x: Array) -> Array:
        return logsumexp(x, self.xp, self.axis)

    def max(self, x: Array) -> Array:
        return self.xp.max(x, axis=self.axis)
