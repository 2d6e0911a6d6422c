"""Input checks for the torch (autograd) paths of the sample estimators.

Only imported once a torch tensor has been seen, so importing :mod:`divergences.samples` never
imports torch. Errors are ``ValueError``s naming the argument, as on the NumPy paths.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["any_tensor", "as_tensor_pair", "as_tensor_samples", "tensor_weights"]


def any_tensor(*values: Any) -> bool:
    """Whether any value is a torch tensor (without importing torch when it is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and any(isinstance(v, torch.Tensor) for v in values)


def as_tensor_samples(x: Any, name: str, *, min_n: int = 1, like: Any = None, batched: bool = False):
    """``x`` as a floating tensor of shape (n, d) (or (B, n, d) with ``batched``); 1-D is (n, 1).

    Integer and boolean tensors become float32; float16/bfloat16 are computed in float32; float64
    stays float64. NumPy arrays next to a tensor are moved onto the tensor's device and dtype.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x, device=None if like is None else like.device)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{name} must be a tensor or an array of real numbers, got {type(x).__name__}") from None
    if x.dtype.is_complex:
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if not x.dtype.is_floating_point or x.dtype in (torch.float16, torch.bfloat16):
        x = x.to(torch.float32)
    if x.ndim == 1 and not batched:
        x = x[:, None]
    want = 3 if batched else 2
    if x.ndim == want - 1 and batched:
        x = x[None]
    if x.ndim != want:
        shape = "(B, n, d)" if batched else "(n,) or (n, d)"
        raise ValueError(f"{name} must have shape {shape}, got {tuple(x.shape)}")
    if x.shape[-1] == 0:
        raise ValueError(f"{name} has zero dimensions (shape {tuple(x.shape)})")
    if x.shape[-2] < min_n:
        raise ValueError(f"{name} needs at least {min_n} sample(s), got {x.shape[-2]}")
    if not bool(torch.isfinite(x).all()):
        bad = "NaN" if bool(torch.isnan(x).any()) else "an infinite value"
        raise ValueError(f"{name} contains {bad}; drop or impute missing values first")
    return x


def as_tensor_pair(x: Any, y: Any, *, min_x: int = 1, min_y: int = 1, names: tuple[str, str] = ("x", "y"),
                   batched: bool = False):
    """Two sample tensors with the same dimension, device and (promoted) dtype."""
    import torch

    ref = x if isinstance(x, torch.Tensor) else y
    xt = as_tensor_samples(x, names[0], min_n=min_x, like=ref, batched=batched)
    yt = as_tensor_samples(y, names[1], min_n=min_y, like=ref, batched=batched)
    if xt.shape[-1] != yt.shape[-1]:
        raise ValueError(f"{names[0]} has dimension {xt.shape[-1]} but {names[1]} has dimension {yt.shape[-1]} "
                         f"(shapes {tuple(xt.shape)} and {tuple(yt.shape)})")
    if batched and xt.shape[0] != yt.shape[0]:
        if xt.shape[0] == 1:
            xt = xt.expand(yt.shape[0], *xt.shape[1:])
        elif yt.shape[0] == 1:
            yt = yt.expand(xt.shape[0], *yt.shape[1:])
        else:
            raise ValueError(f"{names[0]} and {names[1]} have batch sizes {xt.shape[0]} and {yt.shape[0]}")
    if xt.device != yt.device:
        raise ValueError(f"{names[0]} is on {xt.device} but {names[1]} is on {yt.device}")
    dtype = torch.promote_types(xt.dtype, yt.dtype)
    return xt.to(dtype), yt.to(dtype)


def tensor_weights(w: Any, shape: tuple[int, ...], name: str, like):
    """Non-negative weights of ``shape`` normalised to sum 1 along the last axis (uniform when None).

    Differentiable: a weight tensor that requires grad keeps its graph through the normalisation.
    Weights are first divided by a power of two near their maximum (exact), so sums that would
    overflow (weights near 1e308) or underflow normalise correctly.
    """
    import torch

    if w is None:
        return torch.full(shape, 1.0 / shape[-1], dtype=like.dtype, device=like.device)
    if not isinstance(w, torch.Tensor):
        try:
            w = torch.as_tensor(w, dtype=like.dtype, device=like.device)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{name} must be an array of non-negative numbers, got {type(w).__name__}") from None
    w = w.to(like.dtype)
    if tuple(w.shape) != tuple(shape):
        if len(shape) == 2 and tuple(w.shape) == (shape[1],):
            w = w.expand(shape)
        else:
            raise ValueError(f"{name} must have shape {tuple(shape)}, one weight per sample, got {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError(f"{name} must be finite and non-negative")
    top = w.detach().amax(-1, keepdim=True)
    if bool((top <= 0).any()):
        raise ValueError(f"{name} must have a positive sum")
    w = w / torch.exp2(torch.floor(torch.log2(top)))  # exact: a sum of weights near 1e308 cannot overflow
    return w / w.sum(-1, keepdim=True)
