"""Compatibility shim: the chunk loop moved to :mod:`._engine` (rows, sources, autograd function),
:mod:`._kernels` (per-chunk kernels), :mod:`._divergence` (resolution) and :mod:`.options` (checks).

Kept for code that imported these private helpers (``divergences.hf``); new code should use the public
losses and :class:`~divergences.torch.DistillOptions`.
"""

from __future__ import annotations

from typing import Any

import torch

from ._divergence import Divergence
from ._divergence import resolve as _resolve
from ._engine import chunk_rows as _chunk_rows
from ._engine import compute_dtype
from .options import DistillOptions

__all__ = ["Divergence", "check_chunk_size", "check_temperature", "compute_dtype", "default_chunk_size", "resolve"]


def default_chunk_size(vocab: int, elements: int = 1 << 22) -> int:
    """Rows per chunk: about ``elements`` entries per (rows × vocab) temporary, at least 1 row."""
    return max(1, elements // max(int(vocab), 1))


def check_chunk_size(chunk_size: int | None, vocab: int, elements: int = 1 << 22) -> int:
    """The checked ``chunk_size`` (rows), or the CPU default for ``vocab``."""
    rows = DistillOptions(chunk_size=chunk_size).chunk_size
    return default_chunk_size(vocab, elements) if rows is None else _chunk_rows(rows, vocab, torch.device("cpu"))


def check_temperature(temperature: Any) -> float:
    """The checked temperature (a finite positive number)."""
    return DistillOptions(temperature=temperature).temperature


def resolve(divergence: Any, params: dict[str, Any]) -> Divergence:
    """A resolved divergence from a name (with flattened ``params``), a generator or a callable."""
    return _resolve(divergence, None, params)
