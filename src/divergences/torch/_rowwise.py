r"""Plumbing of the per-row losses that are not registry divergences (speculative-decoding draft losses, OFA):
checked inputs, the kept-token mask, reductions with the conventions of :func:`divergences.torch.divergence_loss`,
and a chunk loop that forms each chunk's (rows × vocab) temporaries under activation checkpointing, so only
one chunk of them is alive in the forward pass and again in the backward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ..core.backend import torch_compute_dtype
from ._checks import check_logits_tensor, scan_logits
from ._engine import LOCAL, chunk_rows
from .options import DistillOptions

Tensor = torch.Tensor

__all__: list[str] = []


def checked_pair(first: Any, second: Any, names: tuple[str, str], *, same_vocab: bool = True,
                 validate: bool = True) -> tuple[Tensor, Tensor]:
    """Two logits tensors with the same leading shape (and vocabulary, unless ``same_vocab=False``), scanned once."""
    check_logits_tensor(first, names[0])
    check_logits_tensor(second, names[1])
    if tuple(first.shape[:-1]) != tuple(second.shape[:-1]):
        raise ValueError(f"{names[1]} must have the leading shape {tuple(first.shape[:-1])} of {names[0]}, "
                         f"got {tuple(second.shape[:-1])}")
    if same_vocab and first.shape[-1] != second.shape[-1]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same vocabulary (last axis), got "
                         f"{first.shape[-1]} and {second.shape[-1]}; crop or pad them explicitly")
    if validate:
        scan_logits([(names[0], first), (names[1], second)], LOCAL)
    return first, second


def kept(lead: tuple[int, ...], device: torch.device, labels: Tensor | None, mask: Tensor | None,
         ignore_index: int) -> Tensor:
    """Boolean (lead) of the tokens that count: ``labels != ignore_index`` and ``mask`` (True = keep)."""
    keep = torch.ones(lead, dtype=torch.bool, device=device)
    if labels is not None:
        if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.dtype == torch.bool:
            raise ValueError("labels must be an integer tensor")
        if tuple(labels.shape) != lead:
            raise ValueError(f"labels must have the leading shape {lead} of the logits, got {tuple(labels.shape)}")
        keep = keep & (labels.to(device) != ignore_index)
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != lead:
            raise ValueError(f"mask must be a tensor of the leading shape {lead} of the logits, got "
                             f"{tuple(getattr(mask, 'shape', ())) or type(mask).__name__}")
        keep = keep & mask.to(device=device, dtype=torch.bool)
    return keep


def checked_options(temperature: float, reduction: str, chunk_size: int | None, ignore_index: int) -> DistillOptions:
    """The shared options, checked (a ValueError names the argument)."""
    return DistillOptions(temperature=temperature, reduction=reduction, chunk_size=chunk_size,
                          ignore_index=ignore_index)


def chunked(fn: Callable[..., Tensor], tensors: list[Tensor], vocab: int, chunk_size: int | None) -> Tensor:
    """``fn(*rows)`` over chunks of rows of the 2-D ``tensors`` (same first axis), concatenated.

    Chunks whose inputs require grad run under ``torch.utils.checkpoint`` (no (rows × vocab) temporary is
    kept between the forward and the backward pass).
    """
    from torch.utils.checkpoint import checkpoint

    n = tensors[0].shape[0]
    step = chunk_rows(chunk_size, vocab, tensors[0].device)
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    parts = []
    for start in range(0, n, step):
        rows = [t[start:start + step] for t in tensors]
        parts.append(checkpoint(fn, *rows, use_reentrant=False) if grad else fn(*rows))
    if not parts:
        return fn(*tensors)
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def reduce(values: Tensor, keep: Tensor, reduction: str, lead: tuple[int, ...],
           num_items_in_batch: Any = None) -> Tensor:
    """Reduce per-token ``values`` (lead) over the kept tokens, with zero (never NaN) at dropped ones."""
    zero = torch.zeros((), dtype=values.dtype, device=values.device)
    per = torch.where(keep, values, zero)
    if reduction == "none":
        return per
    total = per.sum()
    if reduction == "sum":
        return total
    if reduction == "batchmean":
        return total / max(lead[0] if lead else 1, 1)
    if num_items_in_batch is not None:
        count = float(num_items_in_batch)
        if not (math.isfinite(count) and count > 0):
            raise ValueError(f"num_items_in_batch must be a positive count, got {num_items_in_batch!r}")
        return total / count
    return total / keep.sum().clamp_min(1).to(values.dtype)


def compute_dtype(*tensors: Tensor) -> torch.dtype:
    """float64 if any input is float64, else float32 (half precisions are computed in float32)."""
    return torch_compute_dtype(*tensors)
