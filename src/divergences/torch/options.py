r"""The options of the token-level distillation losses, in one frozen dataclass.

:class:`DistillOptions` holds every loss keyword that is not a tensor and not a divergence parameter;
the functional losses (:func:`~divergences.torch.divergence_loss`,
:func:`~divergences.torch.fused_linear_divergence_loss`, :func:`~divergences.torch.topk_divergence_loss`)
and their module forms take it as ``options=`` (None: the defaults) and check it once here.

Divergence parameters travel inside the divergence, never among these options:
``divergence=dv.spec("js", beta=0.3)``. The keywords that did either job before (``beta=0.3`` or
``params={...}`` beside a name, ``temperature=2.0`` beside the tensors) are refused with a TypeError
showing this spelling.

>>> from divergences.torch import DistillOptions
>>> opts = DistillOptions(temperature=2.0, t_squared=True)
>>> opts.soft_scale
4.0
>>> DistillOptions(reduction="avg")
Traceback (most recent call last):
...
ValueError: reduction must be one of ('mean', 'sum', 'batchmean', 'none'), got 'avg'
"""

from __future__ import annotations

import math
import numbers
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["LOSS_KEYWORDS", "REDUCTIONS", "VOCAB_MODES", "DistillOptions", "LossKeywords"]

REDUCTIONS = ("mean", "sum", "batchmean", "none")
VOCAB_MODES = ("error", "crop", "pad")


def _real(value: Any, name: str, *, positive: bool = False, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if value is None or isinstance(value, (bool, str)) or not hasattr(value, "__float__"):
        kind = "a finite positive number" if positive else "a finite number"
        raise ValueError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
    try:
        v = float(value)
    except (TypeError, ValueError, RuntimeError):  # e.g. a tensor with more than one element
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(v) or (positive and v <= 0):
        kind = "a finite positive number" if positive else "a finite number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return v


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return value


def _int(value: Any, name: str, *, minimum: int | None = None, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer{' or None' if allow_none else ''}, got {value!r} "
                         f"({type(value).__name__})")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}{' or None' if allow_none else ''}, got {value!r}")
    return v


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


@dataclass(frozen=True)
class DistillOptions:
    """Options of the distillation losses (checked at construction; frozen, hashable, reusable).

    :ivar temperature: T > 0; both distributions are ``softmax(logits / T)`` (top-k: the student only).
    :ivar t_squared: multiply the soft term by T² (Hinton et al.; keeps the gradient scale across T).
    :ivar ignore_index: tokens whose label equals it are dropped (with ``labels``).
    :ivar reduction: ``"mean"`` (over kept tokens), ``"sum"``, ``"batchmean"`` (over the first axis),
        ``"none"`` (per token).
    :ivar soft_weight: s, the weight of the divergence term.
    :ivar hard_weight: h, the weight of the student's cross-entropy on the labels (temperature 1).
    :ivar chunk_size: tokens per chunk; None picks it per device (about 2**22 / V on CPU, 2**26 / V on CUDA).
    :ivar vocab_mismatch: ``"error"``, ``"crop"`` or ``"pad"`` when student and teacher widths differ.
    :ivar validate: check the logits once per call (NaN, +inf, a row that is all -inf: ValueError naming the
        tensor). ``False`` skips the check (trusted input, compiled graphs).
    :ivar softcap: fused loss only: student logits ``c · tanh(z / c)`` (Gemma's final logit softcapping), None
        for none.
    :ivar logit_scale: fused loss only: student logits ``logit_scale · (h Wᵀ + b)`` (applied before ``softcap``).
    :ivar vocab_size: vocab-parallel losses: the global vocabulary size, checked against the sum of the shard
        widths (None: not checked).
    """

    temperature: float = 1.0
    t_squared: bool = False
    ignore_index: int = -100
    reduction: str = "mean"
    soft_weight: float = 1.0
    hard_weight: float = 0.0
    chunk_size: int | None = None
    vocab_mismatch: str = "error"
    validate: bool = True
    softcap: float | None = None
    logit_scale: float = 1.0
    vocab_size: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "temperature", _real(self.temperature, "temperature", positive=True))
        if not math.isfinite(1.0 / self.temperature):
            raise ValueError(f"temperature={self.temperature!r} is so small that 1/T overflows float64 (the losses divide "
                             f"the logits and multiply the gradients by 1/T); use T ≥ {1 / sys.float_info.max:.3g}")
        set_(self, "t_squared", _bool(self.t_squared, "t_squared"))
        set_(self, "ignore_index", _int(self.ignore_index, "ignore_index"))
        set_(self, "reduction", _choice(self.reduction, "reduction", REDUCTIONS))
        set_(self, "soft_weight", _real(self.soft_weight, "soft_weight"))
        set_(self, "hard_weight", _real(self.hard_weight, "hard_weight"))
        set_(self, "chunk_size", _int(self.chunk_size, "chunk_size", minimum=1, allow_none=True))
        set_(self, "vocab_mismatch", _choice(self.vocab_mismatch, "vocab_mismatch", VOCAB_MODES))
        set_(self, "validate", _bool(self.validate, "validate"))
        set_(self, "softcap", _real(self.softcap, "softcap", positive=True, allow_none=True))
        set_(self, "logit_scale", _real(self.logit_scale, "logit_scale", positive=True))
        set_(self, "vocab_size", _int(self.vocab_size, "vocab_size", minimum=1, allow_none=True))

    @property
    def soft_scale(self) -> float:
        """The factor of the soft term: ``soft_weight`` (times T² with ``t_squared``)."""
        return self.soft_weight * (self.temperature**2 if self.t_squared else 1.0)


DEFAULT_OPTIONS = DistillOptions()


def check_options(options: DistillOptions | None) -> DistillOptions:
    """``options``, or the defaults for None (ValueError for anything else)."""
    if options is None:
        return DEFAULT_OPTIONS
    if not isinstance(options, DistillOptions):
        raise ValueError(f"options must be a DistillOptions or None, got {type(options).__name__}")
    return options


class LossKeywords(TypedDict, total=False):
    """The keywords every token loss takes beside its tensors, ``divergence`` and ``return_parts`` (their meaning:
    :func:`~divergences.torch.divergence_loss`). The losses' overloads type ``**keywords`` with it, so a
    type checker reports a misspelt keyword, and at run time any other key is a TypeError."""

    labels: Tensor | None
    mask: Tensor | None
    weights: Tensor | None
    options: DistillOptions | None
    num_items_in_batch: Any
    process_group: Any


#: the keys of :class:`LossKeywords`
LOSS_KEYWORDS = frozenset(LossKeywords.__annotations__)
