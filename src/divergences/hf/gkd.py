r"""A drop-in for TRL's GKD loss (``trl.experimental.gkd.GKDTrainer.generalized_jsd_loss``).

Same signature, same β and temperature conventions, same value; computed by the chunked
:func:`divergences.torch.divergence_loss` (closed-form gradients, one chunk of (tokens × vocab)
temporaries) instead of TRL's four full-size ``F.kl_div`` intermediates. To use it inside TRL::

    from trl.experimental.gkd import GKDTrainer
    from divergences.hf import generalized_jsd_loss
    GKDTrainer.generalized_jsd_loss = staticmethod(generalized_jsd_loss)

:func:`fused_gkd_trainer` goes further: it returns a subclass of TRL's ``GKDTrainer`` whose ``compute_loss``
is :func:`divergences.hf.distillation_loss` (``dv.spec("js", beta=β)``, ``"kl"`` at β = 0, ``"reverse_kl"`` at
β = 1: :func:`gkd_divergence`),
so neither the student's nor the teacher's logits are formed whole; its value equals TRL's
``GKDTrainer.compute_loss`` on the same batch (TRL's causal shift, labels -100 dropped, temperature 1 as
TRL calls it, ``num_items_in_batch``).
"""

from __future__ import annotations

import numbers
from typing import Any

import torch

from ..core.divergence import Divergence, spec
from ..torch.losses import divergence_loss
from ..torch.options import DistillOptions

__all__ = ["fused_gkd_trainer", "generalized_jsd_loss", "gkd_compute_loss", "gkd_divergence"]

Tensor = torch.Tensor
_REDUCTIONS = ("batchmean", "sum", "mean", "none")


def gkd_divergence(beta: float) -> Divergence:
    """TRL's GKD β as a divergence: ``dv.spec("js", beta=β)`` inside (0, 1); TRL's end points are KL(p ‖ q) at
    β = 0 and KL(q ‖ p) at β = 1 (where the generalised JSD itself is 0 everywhere).

    :raises ValueError: for β outside [0, 1].
    """
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0.0 <= float(beta) <= 1.0:
        raise ValueError(f"beta must lie in [0, 1], got {beta!r}")
    if beta == 0:
        return spec("kl")
    if beta == 1:
        return spec("reverse_kl")
    return spec("js", beta=float(beta))


def generalized_jsd_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    labels: Tensor | None = None,
    beta: float = 0.5,
    temperature: float = 1.0,
    reduction: str = "batchmean",
    num_items_in_batch: int | Tensor | None = None,
) -> Tensor:
    r"""Generalised Jensen–Shannon divergence of GKD (Agarwal et al., 2024), TRL's conventions.

    Per token, with p = softmax(teacher_logits / T), q = softmax(student_logits / T) and
    M = β p + (1 − β) q: ``β KL(p ‖ M) + (1 − β) KL(q ‖ M)`` for 0 < β < 1; β = 0 is KL(p ‖ q) and β = 1
    is KL(q ‖ p) (TRL's special cases; the interior formula itself tends to 0 at both ends). No T²
    factor. Tokens with ``labels == -100`` are dropped.

    Reductions, as TRL: with ``num_items_in_batch``, the sum over kept tokens divided by it (the
    gradient-accumulation-correct form); ``"batchmean"``: the sum divided by the number of kept tokens
    (at least 1) with labels, by the batch size (first axis) without; ``"sum"``: the sum; ``"mean"``: the
    mean over kept tokens *and* vocabulary entries (the sum / (tokens · V)); ``"none"``: the per-entry
    terms, shape (kept tokens, V) with labels and the input shape without. One deliberate difference:
    ``"mean"`` with no kept token is 0 here, NaN in TRL.

    >>> import torch
    >>> s, t = torch.randn(2, 5, 11), torch.randn(2, 5, 11)
    >>> labels = torch.tensor([[-100, 1, 2, 3, 4], [5, 6, -100, -100, 7]])
    >>> loss = generalized_jsd_loss(s, t, labels, beta=0.5)
    >>> import divergences as dv
    >>> keep = labels != -100
    >>> ref = dv.js(t[keep].softmax(-1), s[keep].softmax(-1), beta=0.5).mean()
    >>> bool(torch.isclose(loss, torch.as_tensor(ref, dtype=loss.dtype)))
    True
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    value = gkd_divergence(float(beta) if isinstance(beta, Tensor) else beta)
    if reduction == "none" and num_items_in_batch is None:
        return _per_entry(student_logits, teacher_logits, labels, value, temperature)
    div = value

    def loss(reduced: str) -> Tensor:
        return divergence_loss(student_logits, teacher_logits, div, labels=labels,
                               options=DistillOptions(temperature=temperature, reduction=reduced))

    if num_items_in_batch is not None:
        total = loss("sum")
        if isinstance(num_items_in_batch, Tensor):
            return total / num_items_in_batch.to(total.device)
        return total / num_items_in_batch
    if reduction == "batchmean":
        return loss("mean" if labels is not None else "batchmean")
    total = loss("sum")
    if reduction == "sum":
        return total
    kept = student_logits[..., 0].numel() if labels is None else int((labels != -100).sum())
    return total / max(kept * student_logits.shape[-1], 1)


def _per_entry(student_logits: Tensor, teacher_logits: Tensor, labels: Tensor | None, value: Divergence,
               temperature: float) -> Tensor:
    """The per-vocabulary-entry terms φ(log p_v, log q_v) (what TRL's ``reduction="none"`` returns)."""
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"teacher_logits must have the shape {tuple(student_logits.shape)} of student_logits, "
                         f"got {tuple(teacher_logits.shape)}")
    gen = value.term()
    dtype = torch.float64 if torch.float64 in (student_logits.dtype, teacher_logits.dtype) else torch.float32
    a = torch.log_softmax(teacher_logits.to(dtype) / temperature, dim=-1)
    b = torch.log_softmax(student_logits.to(dtype) / temperature, dim=-1)
    terms = gen.phi(a, b)
    if labels is not None:
        terms = terms[labels != -100]
    return terms.to(student_logits.dtype)


def gkd_compute_loss(trainer: Any, model: Any, inputs: Any, return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
    """TRL's ``GKDTrainer.compute_loss`` through the fused :func:`~divergences.hf.distillation_loss`.

    Reads ``trainer.beta`` and ``trainer.teacher_model``; the models get ``input_ids`` and ``attention_mask``
    only, as in TRL. With ``return_outputs`` the second value is the student decoder's output (TRL returns
    the student's full output, with logits, which this path never forms).
    """
    from .loss import distillation_loss

    loss, outputs = distillation_loss(model, trainer.teacher_model, inputs, gkd_divergence(float(trainer.beta)),
                                      num_items_in_batch=num_items_in_batch,
                                      model_input_keys=("input_ids", "attention_mask"), return_outputs=True)
    return (loss, outputs) if return_outputs else loss


def fused_gkd_trainer() -> type:
    """A subclass of ``trl.experimental.gkd.GKDTrainer`` with the fused loss (TRL is imported on call)."""
    try:
        from trl.experimental.gkd import GKDTrainer
    except ImportError as exc:
        raise ImportError("fused_gkd_trainer needs TRL (pip install 'divergences[trl]')") from exc

    class FusedGKDTrainer(GKDTrainer):
        """TRL's ``GKDTrainer`` whose loss never forms the student's or the teacher's full logits."""

        generalized_jsd_loss = staticmethod(generalized_jsd_loss)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
            return gkd_compute_loss(self, model, inputs, return_outputs, num_items_in_batch)

    return FusedGKDTrainer
