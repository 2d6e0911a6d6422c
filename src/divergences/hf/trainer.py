r"""``DistillationTrainer``: a ``transformers.Trainer`` whose loss is :func:`divergences.hf.distillation_loss`.

The student's logits are never materialised (its hidden states and LM head go to the fused loss);
the teacher is a model, a top-k cache (``teacher_model=None`` and batches from
:class:`~divergences.hf.TeacherCacheCollator`) or a callable (a served teacher).

Gradient accumulation and data parallelism follow transformers' own convention: the Trainer counts
the kept tokens of the whole optimiser step (``num_items_in_batch``, over ``labels[..., 1:] != -100``)
and each micro-batch's summed loss is divided by that count, so accumulating 8 micro-batches of 1
equals one batch of 8. With ``average_tokens_across_devices`` (transformers' default) the count is
global and the loss is multiplied by the number of processes, as ``Trainer.compute_loss`` does.

Batches whose completions are generated during training (``seq_kd=True`` here, on-policy batches of
:class:`~divergences.hf.OnPolicyDistillationTrainer`) are normalised by their own completion tokens (times the
accumulation steps), since the Trainer's count is over the dataset's labels.

**Temperature and T².** Hinton et al. (2015) multiply the soft loss by T² so that its gradient keeps its scale
when T changes; torchdistill, DistiLLM and most image-classification KD code follow them (``t_squared=True``).
TRL's ``GKDTrainer``/``DistillationTrainer``, Liger-Kernel's distillation losses and MiniLLM do not (T = 1 in
their recipes, where the factor is 1 anyway): ``t_squared=False`` is the default here to match them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from transformers import Trainer

from ..torch.options import DistillOptions
from ._spec import DivergenceArg, divergence_arg, refuse_moved
from .generation import GenerationOptions
from .loss import CACHE_KEYS, distillation_loss, loss_options

__all__ = ["DistillationTrainer"]


def _vocab_width(model: Any) -> int | None:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(head, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.ndim == 2:
        return int(weight.shape[0])
    size = getattr(getattr(model, "config", None), "vocab_size", None)
    return int(size) if size is not None else None


class DistillationTrainer(Trainer):
    """A ``transformers.Trainer`` that distils ``teacher_model`` into ``model``.

    :param teacher_model: the teacher (a causal LM with the student's vocabulary, or
        ``options.vocab_mismatch`` set, or ``teacher_tokenizer=`` set), a callable ``teacher(inputs)``
        returning logits or a :class:`~divergences.hf.TopKTeacher`, or ``None`` to read the top-k teacher from
        the batches (a teacher cache).
    :param divergence: a registered name (``"kl"`` = KL(teacher ‖ student), ``"reverse_kl"``, ``"js"``, ...),
        a ``dv.spec(...)`` value with its parameters (``dv.spec("js", beta=0.5)``), a term or an f callable.
    :param options: a :class:`~divergences.torch.DistillOptions` (``temperature``, ``hard_weight``,
        ``soft_weight``, ``t_squared``, ``chunk_size``, ``vocab_mismatch``, ...) as
        :func:`~divergences.hf.distillation_loss` reads it; ``t_squared`` multiplies the soft loss by T²
        (Hinton et al.; see the module notes for which recipes do).
    :param fused: as :func:`~divergences.hf.distillation_loss`.
    :param teacher_tokenizer: the teacher's tokenizer when it differs from the student's (``processing_class``):
        the loss is then :func:`~divergences.hf.cross_tokenizer_distillation_loss` (text re-tokenized for the
        teacher, spans aligned, tokens matched by string with the unmatched mass in tail buckets). The
        vocabulary map is built here, at construction (``self.cross.vocab_map.report()`` says what is matched).
    :param cross_tokenizer: the comparison with ``teacher_tokenizer``: ``"vocab"`` (default), ``"uld"`` or
        ``"span"``.
    :param token_pairs: extra ``{teacher_id: student_id}`` matches for the vocabulary map.
    :param seq_kd: sequence-level KD (Kim & Rush 2016; TRL's ``seq_kd``): each batch's completions are replaced
        by the teacher's, generated from the batch's prompts (the tokens before the first label ≠ -100) with
        ``generation``; the loss (soft and hard parts) is then taken on the teacher's sequences.
    :param generation: a :class:`~divergences.hf.GenerationOptions`: how completions are sampled
        (``GenerationOptions(do_sample=False)`` for greedy decoding as in Kim & Rush).
    :param args: those of ``transformers.Trainer``.
    :param kwargs: those of ``transformers.Trainer``.
    :raises ValueError: for a teacher model whose vocabulary width differs from the student's (unless
        ``options.vocab_mismatch`` is ``"crop"``/``"pad"`` or ``teacher_tokenizer`` is given), and for bad
        arguments, each named, at construction.
    :raises TypeError: for a removed keyword (``divergence_params=``, ``beta=``: use ``dv.spec(...)``;
        ``temperature=``, ``hard_weight=``, ...: use ``options=``; ``max_new_tokens=``: use ``generation=``).

    The training loss logged by the Trainer is the distillation loss (soft part plus ``hard_weight`` × CE).
    Evaluation returns the loss only (set ``prediction_loss_only=True`` in the arguments, or the
    decoder's hidden states stand where logits would be).
    """

    def __init__(
        self,
        *args: Any,
        teacher_model: Any = None,
        divergence: DivergenceArg = "kl",
        options: DistillOptions | None = None,
        fused: bool = True,
        teacher_tokenizer: Any = None,
        cross_tokenizer: str = "vocab",
        token_pairs: Mapping[int, int] | None = None,
        seq_kd: bool = False,
        generation: GenerationOptions | None = None,
        **kwargs: Any,
    ) -> None:
        refuse_moved(type(self).__name__, kwargs, divergence, generation=True)
        self.divergence = divergence_arg(divergence)
        self.options = loss_options(options, type(self).__name__)
        if not isinstance(fused, bool):
            raise ValueError(f"fused must be True or False, got {fused!r}")
        if not isinstance(seq_kd, bool):
            raise ValueError(f"seq_kd must be True or False, got {seq_kd!r}")
        if generation is not None and not isinstance(generation, GenerationOptions):
            raise ValueError(f"generation must be a GenerationOptions, got {type(generation).__name__}")
        super().__init__(*args, **kwargs)
        vocab_mismatch = self.options.vocab_mismatch
        self.cross = None
        if teacher_tokenizer is not None:
            from .cross_distill import CrossTokenizer

            divergence_arg(self.divergence, needs="distributions")  # compared over the vocabulary union's buckets
            if not isinstance(teacher_model, torch.nn.Module):
                raise ValueError("teacher_tokenizer is given, so teacher_model must be a model (it is run on its own "
                                 f"tokenization of each batch's text), got {type(teacher_model).__name__}")
            self.cross = CrossTokenizer.build(self.processing_class, teacher_tokenizer, self.model, teacher_model,
                                              cross_tokenizer, token_pairs)
        elif isinstance(teacher_model, torch.nn.Module) and vocab_mismatch == "error":
            vs, vt = _vocab_width(self.model), _vocab_width(teacher_model)
            if vs is not None and vt is not None and vs != vt:
                raise ValueError(f"teacher_model has a vocabulary of {vt} tokens and the student {vs}: pass "
                                 "teacher_tokenizer= (different tokenizers: tokens matched by string) or, for one "
                                 "tokenizer with padded embedding rows, options=DistillOptions(vocab_mismatch='crop' "
                                 "or 'pad')")
        if seq_kd and not isinstance(teacher_model, torch.nn.Module):
            raise ValueError("seq_kd=True needs teacher_model to be a model (it generates the sequences)")
        if isinstance(teacher_model, torch.nn.Module):
            teacher_model.requires_grad_(False)
            teacher_model.eval()
            if self.place_model_on_device:
                teacher_model.to(self.args.device)
        self.teacher_model = teacher_model
        self.fused = fused
        self.seq_kd = seq_kd
        self.generation = generation if generation is not None else GenerationOptions()
        # our loss is a sum divided by num_items_in_batch: ask the Trainer for the count, and not to divide
        # again by the accumulation steps (it still does when the count is None)
        self.model_accepts_loss_kwargs = True
        self._loss_shifts_labels = True

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        # keep the teacher-cache columns when the Trainer removes columns the model does not take
        self._signature_columns = list(dict.fromkeys([*self._signature_columns, *CACHE_KEYS]))

    # -- hooks of the generating trainers ------------------------------------------------------

    def _pad_id(self) -> int:
        tok = self.processing_class
        pad: Any = getattr(tok, "pad_token_id", None)
        lookup = getattr(tok, "token_to_id", None)
        if pad is None and callable(lookup):
            pad = lookup("<pad>")
        if pad is None:
            pad = getattr(getattr(self.model, "config", None), "pad_token_id", None)
        return int(pad) if pad is not None else 0

    def _training_batch(self, model: Any, inputs: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
        """The batch the loss is taken on, and whether it was generated here."""
        if not self.seq_kd:
            return inputs, False
        from .generation import prompts_of, retokenize

        prompts, pmask = prompts_of(inputs, self._pad_id())
        if self.cross is None:
            return self.generation.sample(self.teacher_model, prompts, pmask), True
        t_prompts, t_mask = _prompts_for_teacher(prompts, pmask, self.cross)
        generated = self.generation.sample(self.teacher_model, t_prompts, t_mask)
        return retokenize(generated, self.cross.teacher_tokenizer, self.cross.student_tokenizer, prompts, pmask,
                          self._pad_id()), True

    def _soft_loss(self, model: Any, batch: Mapping[str, Any], num_items_in_batch: Any) -> torch.Tensor:
        """The distillation loss of one batch (soft part plus the hard cross-entropy)."""
        return self._loss_and_outputs(model, batch, num_items_in_batch, False)[0]

    def _loss_and_outputs(self, model: Any, batch: Mapping[str, Any], num_items_in_batch: Any,
                          return_outputs: bool) -> tuple[torch.Tensor, Any]:
        if self.cross is not None:
            from .cross_distill import cross_tokenizer_distillation_loss

            return cross_tokenizer_distillation_loss(model, self.teacher_model, batch, self.cross, self.divergence,
                                                     options=self.options,
                                                     num_items_in_batch=num_items_in_batch), None
        loss, outputs = distillation_loss(model, self.teacher_model, batch, self.divergence, options=self.options,
                                          num_items_in_batch=num_items_in_batch, fused=self.fused, return_outputs=True)
        return loss, outputs if return_outputs else None

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
        batch, generated = self._training_batch(model, inputs)
        outputs = None
        if generated:
            kept = int((batch["labels"][:, 1:] != -100).sum())
            steps = getattr(self, "current_gradient_accumulation_steps", 1) if model.training else 1
            loss = self._soft_loss(model, batch, max(kept, 1) * max(int(steps), 1))
        elif type(self)._soft_loss is DistillationTrainer._soft_loss:
            loss, outputs = self._loss_and_outputs(model, batch, num_items_in_batch, return_outputs)
        else:
            loss = self._soft_loss(model, batch, num_items_in_batch)
        if not generated and self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes if self.args.n_gpu <= 1 else self.args.n_gpu)
        return (loss, outputs) if return_outputs else loss



def _prompts_for_teacher(prompts: torch.Tensor, pmask: torch.Tensor, cross: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The student's prompts as text, tokenized by the teacher's tokenizer (left padded)."""
    from .alignment import token_offsets
    from .cross_distill import _encode, _pad_id

    rows = []
    for b in range(prompts.shape[0]):
        text, _ = token_offsets(cross.student_tokenizer, prompts[b][pmask[b] != 0])
        rows.append(_encode(cross.teacher_tokenizer, text)[0])
    width = max(len(r) for r in rows)
    pad = _pad_id(cross.teacher_tokenizer)
    ids = torch.full((len(rows), width), pad, dtype=torch.long, device=prompts.device)
    mask = torch.zeros((len(rows), width), dtype=torch.long, device=prompts.device)
    for b, r in enumerate(rows):
        ids[b, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[b, width - len(r):] = 1
    return ids, mask
