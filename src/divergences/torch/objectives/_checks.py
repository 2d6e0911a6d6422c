"""Shared argument checks for the objectives (ValueError naming the argument)."""

from __future__ import annotations

from typing import Any

import torch

from ...core.divergence import DivergenceLike, spec
from ...core.terms import Generator
from ...core.validation import check_logits, check_real


def tensor(x: Any, name: str, *, ndim: int | tuple[int, ...] | None = None, min_rows: int = 1) -> torch.Tensor:
    """A finite floating tensor (float16/bfloat16 computed in float32)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point or x.dtype in (torch.float16, torch.bfloat16):
        x = x.to(torch.float32)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and x.ndim not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} axes, got shape {tuple(x.shape)}")
    if x.ndim and x.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {x.shape[0]}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or an infinite value")
    return x


def positive(value: Any, name: str) -> float:
    """A finite real number > 0 (strings and booleans refused, not converted)."""
    return check_real(value, name, low=0.0, low_open=True)


def non_negative(value: Any, name: str) -> float:
    """A finite real number ≥ 0 (strings and booleans refused, not converted)."""
    return check_real(value, name, low=0.0)


def safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den where den > 0, else 0, with no inf or NaN in either pass (0/0 terms count 0)."""
    ok = den > 0
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))


def reduction(value: Any) -> str:
    if value not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {value!r}")
    return value


def reduce(loss: torch.Tensor, how: str) -> torch.Tensor:
    return loss.mean() if how == "mean" else loss.sum() if how == "sum" else loss


def logits(x: Any, name: str) -> torch.Tensor:
    """A floating tensor of logits with a non-empty last (vocabulary) axis: −inf allowed (masked), not
    NaN or +inf, nor −inf along a whole row. Checked on the row maxima (NaN and +inf propagate to them),
    so no (rows × vocabulary) temporary is formed."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"{name} must be a floating torch tensor of logits, got "
                         f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}")
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"{name} must have a non-empty last (vocabulary) axis, got shape {tuple(x.shape)}")
    with torch.no_grad():
        check_logits(x.detach().amax(-1, keepdim=True), name, torch, -1)
    return x


def f_generator(divergence: DivergenceLike) -> Generator:
    """The objectives' one reading of a ``divergence`` argument (:func:`divergences.spec`): the
    f-divergence generator, or a ValueError naming the divergence and listing the f-divergences."""
    value = spec(divergence)
    gen = value.term() if value.kind == "f" else None
    if not isinstance(gen, Generator):
        from ...core.record import available

        raise ValueError(f"divergence {value.name!r} is not an f-divergence (it has no generator f); "
                         f"the f-divergences are {', '.join(available('f'))}")
    return gen
