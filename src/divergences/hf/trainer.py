r"""``DistillationTrainer``: a ``transformers.Trainer`` whose loss is :func:`divergences.hf.distillation_loss`.

The student's logits are never materialised (its hidden states and LM head go to the fused loss);
the teacher is a model, a top-k cache (``teacher_model=None`` and batches from
:class:`~divergences.hf.TeacherCacheCollator`) or a callable (a served teacher).

Gradient accumulation and data parallelism follow transformers' own convention: the Trainer counts
the kept tokens of the whole optimiser step (``num_items_in_batch``, over ``labels[..., 1:] != -100``)
and each micro-batch's summed loss is divided by that count, so accumulating 8 micro-batches of 1
equals one batch of 8. With ``average_tokens_across_devices`` (transformers' default) the count is
global and the loss is multiplied by the number of processes, as ``Trainer.compute_loss`` does.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import Trainer

from .loss import CACHE_KEYS, distillation_loss

__all__ = ["DistillationTrainer"]


class DistillationTrainer(Trainer):
    """A ``transformers.Trainer`` that distils ``teacher_model`` into ``model``.

    Args:
        teacher_model: the teacher (a causal LM with the student's vocabulary, or ``vocab_mismatch=`` set),
            a callable ``teacher(inputs)`` returning logits or a :class:`~divergences.hf.TopKTeacher`, or
            ``None`` to read the top-k teacher from the batches (a teacher cache).
        divergence: any registry divergence (``"kl"`` = KL(teacher ‖ student), ``"reverse_kl"``, ``"js"``, ...),
            a generator or an ``f`` callable; its parameters in ``divergence_params`` (``{"beta": 0.5}``).
        temperature, hard_weight, soft_weight, t_squared, chunk_size, vocab_mismatch, fused: as
            :func:`~divergences.hf.distillation_loss`.
        *args, **kwargs: those of ``transformers.Trainer``.

    The training loss logged by the Trainer is the distillation loss (soft part plus ``hard_weight`` × CE).
    Evaluation returns the loss only (set ``prediction_loss_only=True`` in the arguments, or the
    decoder's hidden states stand where logits would be).
    """

    def __init__(
        self,
        *args: Any,
        teacher_model: Any = None,
        divergence: Any = "kl",
        divergence_params: dict[str, Any] | None = None,
        temperature: float = 1.0,
        hard_weight: float = 0.0,
        soft_weight: float = 1.0,
        t_squared: bool = False,
        chunk_size: int | None = None,
        vocab_mismatch: str = "error",
        fused: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(teacher_model, torch.nn.Module):
            teacher_model.requires_grad_(False)
            teacher_model.eval()
            if self.place_model_on_device:
                teacher_model.to(self.args.device)
        self.teacher_model = teacher_model
        self.distill_options = dict(divergence=divergence, temperature=temperature, hard_weight=hard_weight,
                                    soft_weight=soft_weight, t_squared=t_squared, chunk_size=chunk_size,
                                    vocab_mismatch=vocab_mismatch, fused=fused, **(divergence_params or {}))
        # our loss is a sum divided by num_items_in_batch: ask the Trainer for the count, and not to divide
        # again by the accumulation steps (it still does when the count is None)
        self.model_accepts_loss_kwargs = True
        self._loss_shifts_labels = True

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        # keep the teacher-cache columns when the Trainer removes columns the model does not take
        self._signature_columns = list(dict.fromkeys([*self._signature_columns, *CACHE_KEYS]))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
        loss, outputs = distillation_loss(model, self.teacher_model, inputs, num_items_in_batch=num_items_in_batch,
                                          return_outputs=True, **self.distill_options)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes if self.args.n_gpu <= 1 else self.args.n_gpu)
        return (loss, outputs) if return_outputs else loss
