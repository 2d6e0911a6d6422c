"""Shared input handling of the token-level scores: shapes, padding mask, causal shift, log-softmax."""

from __future__ import annotations

from typing import Any


def scored_tokens(logits: Any, input_ids: Any, attention_mask: Any, shifted: bool) -> tuple[Any, Any, Any]:
    """(log-probabilities ``[B, T', V]``, target ids ``[B, T']``, mask ``[B, T']``) of the scored tokens.

    With ``shifted=True`` ``logits[:, t]`` predicts ``input_ids[:, t + 1]`` (the first token is not
    scored). Log-probabilities are computed in float32 at least (float64 stays float64).
    """
    import torch

    from ._checks import finite_tensor

    logits = torch.as_tensor(logits)
    ids = torch.as_tensor(input_ids, device=logits.device)
    if logits.ndim != 3 or ids.shape != logits.shape[:2]:
        raise ValueError(f"logits must be [batch, length, V] and input_ids [batch, length]; got {tuple(logits.shape)}"
                         f" and {tuple(ids.shape)}")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise ValueError(f"input_ids must hold integer token ids, got dtype {ids.dtype}")
    if not (logits.is_floating_point() or logits.dtype in (torch.int8, torch.int16, torch.int32, torch.int64,
                                                          torch.uint8)):
        raise ValueError(f"logits must be real numbers, got dtype {logits.dtype}")
    # -inf masks a token out of the vocabulary; NaN and +inf are not logits, and a row needs one finite logit
    finite_tensor(logits, "logits", allow_neg_inf=True)
    if logits.is_floating_point() and logits.numel() and bool((logits == -torch.inf).all(-1).any()):
        raise ValueError("logits hold a position whose logits are all -inf (no token is possible)")
    if ids.numel() and (ids.min() < 0 or ids.max() >= logits.shape[-1]):
        raise ValueError(f"input_ids hold ids outside [0, V={logits.shape[-1]})")
    if attention_mask is None:
        mask = torch.ones_like(ids, dtype=torch.bool)
    else:
        mask = torch.as_tensor(attention_mask, device=ids.device)
        if mask.shape != ids.shape:
            raise ValueError(f"attention_mask has shape {tuple(mask.shape)} but input_ids {tuple(ids.shape)}")
        mask = mask.bool()
    if shifted:
        logits, ids, mask = logits[:, :-1], ids[:, 1:], mask[:, 1:]
    if (mask.sum(-1) == 0).any():
        raise ValueError("attention_mask leaves a row with no scored token (a row needs two tokens when shifted)")
    dtype = torch.promote_types(logits.dtype, torch.float32)
    return torch.log_softmax(logits.to(dtype), dim=-1), ids, mask
