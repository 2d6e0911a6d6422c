r"""OFA-KD's target-enhanced distillation loss (Hao et al., "One-for-All: Bridge the Gap Between Heterogeneous
Architectures in Knowledge Distillation", NeurIPS 2023).

Heterogeneous teachers (a ViT teaching a CNN, a different tokenizer family) often give the true class a small
probability; OFA-KD raises the weight of the target class by an exponent γ on the teacher's distribution
shifted by the one-hot label:

.. math:: \ell = -\sum_c \big[(p_c + e_{y,c})^{\gamma} - e_{y,c}\big] \log q_c

with p the teacher's and q the student's softmax at temperature T, y the label and e_y its one-hot vector:
the target class gets the weight (1 + p_y)^γ − 1, every other class p_c^γ. At γ = 1 the weights are p and
ℓ is the cross-entropy −Σ p log q = KL(p‖q) + H(p) (the usual KD loss, up to the teacher entropy, which has no
gradient for the student); γ > 1 shrinks the non-target weights and, relatively, enhances the target's.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ._rowwise import checked_options, checked_pair, chunked, compute_dtype, kept, reduce

__all__ = ["ofa_loss"]

Tensor = torch.Tensor


def _ofa_rows(student: Tensor, teacher: Tensor, labels: Tensor, gamma: float, temperature: float) -> Tensor:
    dtype = compute_dtype(student, teacher)
    logq = torch.log_softmax(student.to(dtype) / temperature, dim=-1)
    logp = torch.log_softmax(teacher.to(dtype) / temperature, dim=-1)
    onehot = torch.zeros_like(logp).scatter_(-1, labels.unsqueeze(-1), 1.0)
    # p^γ from the log (exact at p = 0), then the target's (1 + p_y)^γ − 1 by expm1/log1p (no cancellation)
    weights = torch.exp(gamma * logp)
    target = torch.expm1(gamma * torch.log1p(torch.exp(logp)))
    weights = torch.where(onehot > 0, target, weights).detach()
    # 0 · log 0 = 0: a masked student entry with no weight contributes nothing
    terms = torch.where(weights > 0, weights * logq, torch.zeros_like(logq))
    return -terms.sum(dim=-1)


def ofa_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    labels: Tensor,
    *,
    gamma: float = 1.0,
    temperature: float = 1.0,
    ignore_index: int = -100,
    reduction: str = "mean",
    chunk_size: int | None = None,
) -> Any:
    r"""OFA-KD's target-enhanced loss :math:`-\sum_c [(p_c + e_{y,c})^\gamma - e_{y,c}] \log q_c` per token.

    ``student_logits`` and ``teacher_logits`` are (..., C) with the same classes; ``labels`` (...) the
    ground-truth class (tokens with ``labels == ignore_index`` are dropped). p = softmax(teacher/T) (no
    gradient flows to the teacher), q = softmax(student/T). ``reduction`` as in
    :func:`divergences.torch.divergence_loss` (``"mean"`` over kept tokens, ``"sum"``, ``"batchmean"``,
    ``"none"``). Computed in chunks of rows under checkpointing, in float32 at least.

    Mapping to the reference code (``ofa_loss(logits_student, logits_teacher, target_mask, eps, temperature)``
    of the OFA-KD repository): ``eps`` is our ``gamma`` and its ``.mean()`` over a batch is our ``"mean"``; the
    paper's form −(1 + p_y)^γ log q_y − Σ_{c≠y} p_c^γ log q_c is ours plus the hard cross-entropy
    −log q_y (add it with weight 1). At γ = 1 the loss is the cross-entropy to the teacher:
    ``ofa_loss(s, t, y) == divergence_loss(s, t, "cross_entropy")``, = ``"kl"`` plus the teacher's entropy.

    >>> import torch
    >>> from divergences.torch import ofa_loss, divergence_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> s, t = torch.randn(5, 10, generator=g), torch.randn(5, 10, generator=g)
    >>> y = torch.randint(0, 10, (5,), generator=g)
    >>> bool(torch.isclose(ofa_loss(s, t, y), divergence_loss(s, t, "cross_entropy")))
    True
    >>> bool(ofa_loss(s, t, y, gamma=2.0) < ofa_loss(s, t, y))   # p^2 < p: smaller weights off the target
    True
    """
    opts = checked_options(temperature, reduction, chunk_size, ignore_index)
    g = float(gamma) if isinstance(gamma, (int, float)) and not isinstance(gamma, bool) else math.nan
    if not (math.isfinite(g) and g > 0):
        raise ValueError(f"gamma must be a finite number > 0, got {gamma!r}")
    student_logits, teacher_logits = checked_pair(student_logits, teacher_logits, ("student_logits", "teacher_logits"))
    lead = tuple(student_logits.shape[:-1])
    classes = student_logits.shape[-1]
    keep = kept(lead, student_logits.device, labels, None, opts.ignore_index)
    y = labels.to(student_logits.device).long()
    valid = y[keep]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= classes):
        raise ValueError(f"labels of kept tokens must lie in [0, {classes}) (or equal ignore_index={opts.ignore_index})")
    y = torch.where(keep, y, torch.zeros_like(y))  # dropped tokens: any valid class, their value is discarded
    rows = chunked(lambda s, t, yy: _ofa_rows(s, t.detach(), yy, g, opts.temperature),
                   [student_logits.reshape(-1, classes), teacher_logits.reshape(-1, classes), y.reshape(-1)],
                   classes, opts.chunk_size)
    return reduce(rows.reshape(lead), keep, opts.reduction, lead)
