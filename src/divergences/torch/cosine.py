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
>>> from divergences.torch import DistillOptions
>>> cosine_similarity_loss(s, t, options=DistillOptions(reduction="none"))
tensor([1., 0.])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ._keywords import keywords_checked
from .losses import divergence_loss
from .options import LossKeywords

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["cosine_similarity_loss"]

Tensor = torch.Tensor


@keywords_checked(moved={"divergence": "cosine_similarity_loss is the cosine loss; for another divergence use "
                                       "divergence_loss"})
def cosine_similarity_loss(student: Tensor, teacher: Tensor, **keywords: Unpack[LossKeywords]) -> Tensor:
    """``divergence_loss(student, teacher, "cosine", ...)``: 1 − cosine similarity per row (token).

    ``student`` and ``teacher`` are (..., D) logits or hidden states of the same width (project them
    first if the widths differ); the keywords are those of :func:`~divergences.torch.divergence_loss`.
    Rows where a vector is all zero have cosine 0 (loss ``soft_weight``) and a finite gradient.

    :param student: (..., D) the student's vectors.
    :param teacher: (..., D) the teacher's vectors.
    :param keywords: the keywords every token loss shares (:class:`~divergences.torch.LossKeywords`; any other
        key is a TypeError naming it):

        - ``labels``: as :func:`~divergences.torch.divergence_loss`.
        - ``mask``: as :func:`~divergences.torch.divergence_loss`.
        - ``weights``: as :func:`~divergences.torch.divergence_loss`.
        - ``options``: a :class:`~divergences.torch.DistillOptions` (reduction, hard term, ...; temperature has no
          effect).
        - ``num_items_in_batch``: as :func:`~divergences.torch.divergence_loss`.
        - ``process_group``: as :func:`~divergences.torch.divergence_loss` (the feature axis sharded).
    :returns: the loss, as :func:`~divergences.torch.divergence_loss`.
    """
    return divergence_loss(student, teacher, "cosine", **keywords)
