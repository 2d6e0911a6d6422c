"""Per-item log-ratio plumbing shared by the RL regularisers (:mod:`.rl`) and the preference losses
(:mod:`.preference`): input checks, the f-generator of a divergence argument, the tangent continuation beyond
:data:`LOG_RATIO_LIMIT` and the output clip (the conventions are those of :mod:`.rl`'s module notes)."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..core import terms as g
from ..core.backend import torch_compute_dtype
from ..core.divergence import DivergenceLike, spec
from ..core.record import available
from ._checks import check_not_meta, require

__all__ = ["DEFAULT_CLIP", "LOG_RATIO_LIMIT", "as_tensor", "check_clip", "f_generator", "finish", "limit", "out_dtype",
           "pair", "tangent_extended"]

#: |log-ratio| beyond which no exponential is formed (float64: e^300 and its square are finite)
LOG_RATIO_LIMIT = 300.0
#: default bound on returned values (float32 max is 3.4e38)
DEFAULT_CLIP = 1e30


def as_tensor(x: Any, name: str, *, log_prob: bool = False) -> torch.Tensor:
    """A real tensor; NaN refused (and +inf, for a log-probability), naming the argument."""
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"{name} must be a tensor of log-probabilities, got {type(x).__name__}") from exc
    if x.is_complex():
        raise ValueError(f"{name} must be real, got dtype {x.dtype}")
    if x.dtype == torch.bool:
        raise ValueError(f"{name} must be a real tensor of numbers, got dtype bool")
    check_not_meta(x, name)
    if not x.is_floating_point():
        x = x.to(torch.float64)
    if x.numel():
        if log_prob:
            require(~(torch.isnan(x) | (x == math.inf)).any(), f"{name} holds NaN or +inf (a log-probability is finite, "
                                                               "or -inf for an impossible item)")
        else:
            require(~torch.isnan(x).any(), f"{name} holds NaN")
    return x


#: the compute dtype of the inputs: the library's one rule (float64 if any is float64, else float32)
out_dtype = torch_compute_dtype


def pair(x: Any, y: Any, names: tuple[str, str]) -> tuple[torch.Tensor, torch.Tensor, torch.dtype]:
    """Two tensors that broadcast, as float64, with their output dtype."""
    x, y = as_tensor(x, names[0], log_prob=True), as_tensor(y, names[1], log_prob=True)
    try:
        torch.broadcast_shapes(x.shape, y.shape)
    except RuntimeError:
        raise ValueError(
            f"{names[0]} and {names[1]} must broadcast, got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        ) from None
    return x.to(torch.float64), y.to(torch.float64), out_dtype(x, y)


def finish(value: torch.Tensor, dtype: torch.dtype, clip: float | None) -> torch.Tensor:
    if clip is not None:
        value = torch.clamp(value, -clip, clip)
    return value.to(dtype)


def check_clip(clip: float | None) -> float | None:
    if clip is None:
        return None
    if isinstance(clip, bool) or not hasattr(clip, "__float__"):
        raise ValueError(f"clip must be a positive number or None, got {clip!r}")
    clip = float(clip)
    if not clip > 0:
        raise ValueError(f"clip must be positive or None, got {clip!r}")
    return clip


def limit(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x, -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT)


def f_generator(divergence: DivergenceLike, what: str = "divergence") -> g.Generator:
    """The configured generator f of an f-divergence: a name, a ``dv.spec(...)`` value carrying its parameters,
    a Generator object or a callable f(t).

    ValueError for divergences that are not f-divergences (Rényi, cross-entropy, ...), read from the record's
    kind.
    """
    try:
        value = spec(divergence)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: {exc}") from None
    gen = value.term() if value.kind == "f" else None
    if not isinstance(gen, g.Generator):
        raise ValueError(
            f"{what}={divergence!r} is not an f-divergence (it has no generator f); "
            f"the f-divergences are {', '.join(available('f'))}"
        )
    from ._divergence import refuse_identically_zero

    refuse_identically_zero(gen, what)
    return gen


def tangent_extended(fn: Any, x: torch.Tensor, *, exact_at_inf: bool = False) -> torch.Tensor:
    """``fn(x)`` (elementwise) for |x| ≤ LOG_RATIO_LIMIT, continued along its tangent beyond.

    The slope at ±LOG_RATIO_LIMIT is taken by autograd on a detached copy, so no exponential of
    a larger argument is ever formed (no inf in the forward pass, hence no inf·0 = NaN in the
    backward pass), and the gradient beyond the limit is the slope there, not 0. Infinite ``x``
    is passed to ``fn`` as is with ``exact_at_inf`` (its boundary conventions apply), otherwise
    treated as ±LOG_RATIO_LIMIT.
    """
    finite = torch.isfinite(x)
    zero = torch.zeros_like(x)
    xc = limit(torch.where(torch.isinf(x), zero, x)) if exact_at_inf else limit(x)  # NaN stays NaN
    with torch.enable_grad():
        leaf = xc.detach().requires_grad_(True)
        out = fn(leaf)
        if out.requires_grad:
            (slope,) = torch.autograd.grad(out.sum(), leaf, allow_unused=True)
            slope = zero if slope is None else slope
        else:
            slope = zero
    inner = fn(torch.where(finite, xc, x)) if exact_at_inf else fn(xc)
    beyond = torch.where(finite, x - xc, zero)
    return inner + torch.where(beyond != 0, slope * beyond, zero)  # never 0·inf inside the limit
