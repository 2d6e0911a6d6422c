r"""List-wise and contrastive objectives: Plackett–Luce distillation and Soft-InfoNCE."""

from __future__ import annotations

from typing import Any

import torch

from ...core.validation import check_flag
from ._checks import positive, reduce, tensor
from ._checks import reduction as check_reduction

__all__ = ["plackett_luce_distillation_loss", "soft_infonce_loss"]


def plackett_luce_distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                                    labels: torch.Tensor, *, temperature: float = 1.0, ignore_index: int = -100,
                                    reduction: str = "mean") -> torch.Tensor:
    r"""Plackett–Luce list-wise distillation (PLD; Bassam et al., 2025).

    Per row, the teacher's ranking π puts the true label first and then the other classes by
    decreasing teacher logit; the loss is the Plackett–Luce negative log-likelihood of that ranking
    under the student, each choice weighted by the teacher's confidence in it:

    .. math:: \ell = \sum_{k=1}^{K} w_k\Big[\log\sum_{l\ge k} e^{s_{\pi_l}} - s_{\pi_k}\Big],
              \qquad w_k = \mathrm{softmax}(t/T)_{\pi_k},

    with s the student logits (divided by T) and t the teacher logits. Suffix log-sum-exps come from
    one reversed ``logcumsumexp`` (stable for logits of any size). Rows whose label is
    ``ignore_index`` are skipped; ``reduction="mean"`` divides by the kept rows. Detach the teacher.
    Inputs: (N, K) logits (leading axes flattened), labels (N,).
    """
    how = check_reduction(reduction)
    temperature = positive(temperature, "temperature")
    s = tensor(student_logits, "student_logits")
    t = tensor(teacher_logits, "teacher_logits")
    if s.shape != t.shape or s.ndim < 2:
        raise ValueError(f"student_logits {tuple(s.shape)} and teacher_logits {tuple(t.shape)} must have one shape "
                         "(..., classes)")
    k = s.shape[-1]
    s, t = s.reshape(-1, k), t.reshape(-1, k)
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point:
        raise ValueError("labels must be an integer tensor of class indices")
    labels = labels.reshape(-1)
    if labels.shape[0] != s.shape[0]:
        raise ValueError(f"labels has {labels.shape[0]} entries for {s.shape[0]} rows")
    keep = labels != ignore_index
    if bool(((labels[keep] < 0) | (labels[keep] >= k)).any()):
        raise ValueError(f"labels must lie in [0, {k}) or equal ignore_index={ignore_index}")
    dtype = torch.promote_types(torch.promote_types(s.dtype, t.dtype), torch.float32)
    s, t = s[keep].to(dtype) / temperature, t[keep].to(dtype) / temperature
    lab = labels[keep]
    key = t.detach().clone()
    key.scatter_(1, lab[:, None], float("inf"))  # the true label first
    order = torch.argsort(key, dim=1, descending=True)
    sp = torch.gather(s, 1, order)
    suffix = torch.flip(torch.logcumsumexp(torch.flip(sp, [1]), 1), [1])
    w = torch.gather(torch.softmax(t, -1), 1, order)
    loss = (w * (suffix - sp)).sum(1)
    if how == "none":
        out = loss.new_zeros(labels.shape[0])
        out[keep] = loss
        return out
    return reduce(loss, how) if loss.numel() else loss.sum()


def soft_infonce_loss(scores: torch.Tensor, weights: Any = None, *, targets: Any = None, temperature: float = 1.0,
                      normalize: bool = False, reduction: str = "mean") -> torch.Tensor:
    r"""Soft-InfoNCE (Li et al., 2023): InfoNCE whose negatives carry weights in the denominator.

    For row i with positive column :math:`y_i` (``targets``; the diagonal by default, for a square
    query × key similarity matrix) and scaled scores :math:`s_{ij} = \text{scores}_{ij}/\tau`:

    .. math:: \ell_i = -\log\frac{e^{s_{iy_i}}}{e^{s_{iy_i}} + \sum_{j\ne y_i} w_{ij}\,e^{s_{ij}}}.

    ``weights`` (same shape as ``scores``, ≥ 0; the positive's own entry is ignored) default to 1,
    which is plain InfoNCE, ``F.cross_entropy(scores / τ, targets)`` (tested). ``normalize=True``
    rescales each row's negative weights to sum to the number of negatives (unit weights are
    unchanged), as the paper does so that the loss stays on InfoNCE's scale. Computed as one
    log-sum-exp with log-weights (a weight of 0 removes that negative).
    """
    how = check_reduction(reduction)
    temperature = positive(temperature, "temperature")
    normalize = check_flag(normalize, "normalize")
    s = tensor(scores, "scores", ndim=2)
    rows, cols = s.shape
    if targets is None:
        if rows > cols:
            raise ValueError("targets is needed unless scores is (B, M) with B ≤ M (positives on the diagonal)")
        targets = torch.arange(rows, device=s.device)
    elif not isinstance(targets, torch.Tensor) or targets.dtype.is_floating_point or targets.shape != (rows,):
        raise ValueError(f"targets must be an integer tensor of shape ({rows},)")
    elif bool(((targets < 0) | (targets >= cols)).any()):
        raise ValueError(f"targets must lie in [0, {cols})")
    s = s / temperature
    pos = torch.zeros_like(s, dtype=torch.bool)
    pos[torch.arange(rows, device=s.device), targets] = True
    if weights is None:
        log_w = torch.zeros_like(s)
    else:
        w = tensor(torch.as_tensor(weights) if not isinstance(weights, torch.Tensor) else weights, "weights", ndim=2)
        if w.shape != s.shape or bool((w < 0).any()):
            raise ValueError(f"weights must be non-negative with the shape of scores {tuple(s.shape)}")
        w = w.to(s.dtype).masked_fill(pos, 0.0)
        if normalize:
            total = w.sum(1, keepdim=True)
            if bool((total <= 0).any()):
                raise ValueError("weights: a row has no negative with positive weight (normalize=True)")
            w = w * (cols - 1) / total
        log_w = torch.log(w).masked_fill(pos, 0.0)
    denominator = torch.logsumexp(s + log_w, 1)
    loss = denominator - s[pos]
    return reduce(loss, how)
