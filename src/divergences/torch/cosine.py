r"""Cosine-similarity distillation: ``1 − cos(student, teacher)`` per token, on logits or hidden states.

Per token :math:`\ell_i = s\,(1 - \frac{z_i \cdot t_i}{\max(\|z_i\|, ε)\,\max(\|t_i\|, ε)})` (+ the hard term),
ε = 1e-8 as in ``torch.nn.functional.cosine_similarity``. It runs on the same chunk engine as the
divergence losses, with a closed-form gradient, so it also works fused with the LM head
(``fused_linear_divergence_loss(h, W, t, "cosine")``: Liger's ``LigerFusedLinearCosineSimilarityLoss``
soft term) and on a vocabulary (or feature) dimension sharded over ``process_group``. Temperature has
no effect (the cosine is scale-invariant).

>>> import torch
>>> from divergences.torch import cosine_similarity_loss
>>> s = torch.tensor([[1.0, 0.0], [1.0, 1.0]]); t = torch.tensor([[0.0, 2.0], [2.0, 2.0]])
>>> cosine_similarity_loss(s, t, reduction="none")
tensor([1., 0.])
"""

from __future__ import annotations

from typing import Any

import torch

from .losses import divergence_loss

__all__ = ["cosine_similarity_loss"]

Tensor = torch.Tensor


def cosine_similarity_loss(student: Tensor, teacher: Tensor, **kwargs: Any) -> Any:
    """``divergence_loss(student, teacher, "cosine", **kwargs)``: 1 − cosine similarity per row (token).

    ``student`` and ``teacher`` are (..., D) logits or hidden states of the same width (project them
    first if the widths differ); every keyword of :func:`~divergences.torch.divergence_loss` applies
    (``labels``, ``mask``, ``weights``, ``reduction``, ``options``, ``process_group``, ...). Rows where a
    vector is all zero have cosine 0 (loss ``soft_weight``) and a finite gradient.
    """
    if "divergence" in kwargs:
        raise ValueError("cosine_similarity_loss takes no divergence (it is the cosine loss)")
    return divergence_loss(student, teacher, "cosine", **kwargs)
