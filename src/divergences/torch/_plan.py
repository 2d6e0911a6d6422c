"""Which tokens a loss counts, and how its reduction weighs them: the token plan of the chunk engine.

:func:`plan_tokens` resolves ``labels`` / ``mask`` / ``weights`` / ``reduction`` / ``num_items_in_batch`` into
the kept rows and their coefficients (:class:`TokenPlan`), refusing bad input with a ValueError naming the
argument. Traced by ``torch.compile`` the plan keeps every row (no data-dependent count) with a mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ._checks import check_not_meta, compiling, require

Tensor = torch.Tensor


@dataclass
class TokenPlan:
    """Kept rows (``rows``: indices into the flattened tokens, None for all) and their coefficients.

    ``coef[i]`` multiplies the loss of kept row ``rows[i]`` in the reduced loss (None for
    ``reduction="none"``, where the per-token losses are returned).
    """

    n_tokens: int
    rows: Tensor | None
    coef: Tensor | None
    labels: Tensor | None  # flattened labels (int64), or None
    token_weights: Tensor | None  # flattened weights for reduction="none"
    #: traced by torch.compile: every row is walked (no data-dependent count) and ``keep`` (flattened, bool)
    #: zeroes the loss and the gradients of dropped rows; None otherwise
    keep: Tensor | None = None


def _as_count(num_items: Any) -> Tensor | float:
    if isinstance(num_items, torch.Tensor):
        if num_items.numel() != 1 or num_items.is_complex() or num_items.dtype == torch.bool:
            raise ValueError(f"num_items_in_batch must be a positive number or a one-element real tensor, got "
                             f"{num_items!r}")
        check_not_meta(num_items, "num_items_in_batch")
        v = num_items.detach().reshape(())
        ok = (v > 0) & torch.isfinite(v) if v.is_floating_point() else v > 0
        if compiling():
            require(ok, "num_items_in_batch must be a positive finite number (the divisor of reduction='mean')")
        elif not bool(ok):
            raise ValueError(f"num_items_in_batch must be a positive finite number (the divisor of reduction='mean'), "
                             f"got {v.item()!r}")
        return v
    if isinstance(num_items, bool) or not hasattr(num_items, "__float__"):
        raise ValueError(f"num_items_in_batch must be a positive number or a one-element tensor, got {num_items!r}")
    v = float(num_items)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"num_items_in_batch must be a positive number, got {num_items!r}")
    return v


def plan_tokens(
    lead_shape: tuple[int, ...],
    *,
    labels: Tensor | None,
    ignore_index: int,
    mask: Tensor | None,
    weights: Tensor | None,
    reduction: str,
    device: torch.device,
    dtype: torch.dtype,
    num_items_in_batch: Any = None,
) -> TokenPlan:
    """Resolve ``labels``/``mask``/``weights``/``reduction`` for tokens of shape ``lead_shape``.

    Divisors: ``mean`` divides the (weighted) sum by the number of kept tokens, or by
    ``num_items_in_batch`` when given (the global count of kept tokens over data-parallel ranks and
    accumulated micro-batches, as transformers and TRL pass it); ``sum`` does not divide; ``batchmean``
    divides by ``lead_shape[0]``. With no kept token the result is 0.
    """
    n = math.prod(lead_shape)
    keep = None
    flat_labels = None
    if labels is not None:
        if not isinstance(labels, torch.Tensor):
            raise ValueError(f"labels must be an integer torch.Tensor, got {type(labels).__name__}")
        if tuple(labels.shape) != lead_shape:
            raise ValueError(f"labels must have shape {lead_shape} (the logits without the vocabulary axis), "
                             f"got {tuple(labels.shape)}")
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(f"labels must be an integer tensor, got {labels.dtype}")
        check_not_meta(labels, "labels")
        flat_labels = labels.reshape(n).to(device=device, dtype=torch.long)
        keep = flat_labels != ignore_index
    if mask is not None:
        check_not_meta(mask, "mask")
        mask = torch.as_tensor(mask, device=device)
        if tuple(mask.shape) != lead_shape:
            raise ValueError(f"mask must have shape {lead_shape}, got {tuple(mask.shape)}")
        m = mask.reshape(n).to(torch.bool)
        keep = m if keep is None else keep & m
    w = None
    if weights is not None:
        check_not_meta(weights, "weights")
        weights = torch.as_tensor(weights, device=device)
        if tuple(weights.shape) != lead_shape:
            raise ValueError(f"weights must have shape {lead_shape}, got {tuple(weights.shape)}")
        if not (weights.is_floating_point() or weights.dtype in (torch.int8, torch.int16, torch.int32, torch.int64,
                                                                 torch.uint8)):
            raise ValueError(f"weights must be a real tensor, got {weights.dtype}")
        w = weights.detach().reshape(n).to(dtype)
        if weights.is_floating_point() and w.numel():  # NaN, ±inf, or beyond the compute dtype
            require(torch.isfinite(w).all(), f"weights must be finite numbers of the compute dtype "
                                             f"{str(dtype).replace('torch.', '')} (they hold NaN, ±inf, or values "
                                             "beyond its range)")
    if num_items_in_batch is not None and reduction != "mean":
        raise ValueError(f"num_items_in_batch replaces the divisor of reduction='mean'; got reduction={reduction!r}")
    count = None if num_items_in_batch is None else _as_count(num_items_in_batch)
    if keep is not None and compiling():
        # traced: the kept rows cannot be counted on the host; walk them all and zero the dropped ones (whose
        # labels, ignore_index, become 0 so that the hard term's gather stays in range)
        if flat_labels is not None:
            flat_labels = torch.where(keep, flat_labels, torch.zeros((), dtype=flat_labels.dtype, device=device))
        if reduction == "none":
            return TokenPlan(n, None, None, flat_labels, w, keep)
        coef = keep.to(dtype) if w is None else torch.where(keep, w, torch.zeros((), dtype=dtype, device=device))
        if reduction == "mean":
            coef = coef / (keep.sum().clamp_min(1).to(dtype) if count is None else count)
        elif reduction == "batchmean":
            coef = coef / max(lead_shape[0] if lead_shape else 1, 1)
        return TokenPlan(n, None, coef.to(dtype), flat_labels, None, keep)
    rows = None if keep is None else torch.nonzero(keep, as_tuple=False).squeeze(-1)
    n_kept = n if rows is None else int(rows.numel())
    if reduction == "none":
        return TokenPlan(n, rows, None, flat_labels, w)
    coef = torch.ones(n_kept, device=device, dtype=dtype) if w is None else (w if rows is None else w[rows])
    if reduction == "mean":
        coef = coef / (max(n_kept, 1) if count is None else count)
    elif reduction == "batchmean":
        coef = coef / max(lead_shape[0] if lead_shape else 1, 1)
    return TokenPlan(n, rows, coef.to(dtype), flat_labels, None)


