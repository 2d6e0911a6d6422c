r"""The cross-tokenizer distillation loss of a batch: re-tokenize for the teacher, align, compare at span starts.

:func:`cross_tokenizer_distillation_loss` is what ``DistillationTrainer(teacher_tokenizer=...)`` computes for
each batch:

1. each row's real tokens (``attention_mask == 1``) are decoded to text with their character offsets
   (:func:`~divergences.hf.token_offsets`, which also handles sampled, non-canonical token sequences), and the
   text is tokenized by the teacher's tokenizer with its offsets (special tokens included, as the teacher
   expects them);
2. the two tokenizations are aligned (:func:`~divergences.hf.align_offsets`); a span counts when every student
   token in it is a target (``labels != -100``) and both sides have a position predicting its first token;
3. both models run (the teacher without gradients) and, per aligned span, the ``method`` compares them:

   * ``"vocab"`` (default): :func:`~divergences.hf.vocabulary_divergence`, any registry divergence over the
     vocabulary union (tail buckets) between the next-token distributions at the span start;
   * ``"uld"``: :func:`~divergences.hf.uld_loss` at the span start;
   * ``"span"``: :func:`~divergences.hf.span_divergence` between the span events, from the summed
     log-probabilities of the whole span on each side.

The loss is ``(soft_scale · Σ_spans D + hard_weight · Σ_tokens CE) / N``, N = ``num_items_in_batch`` (what the
Trainer passes: the kept student tokens of the optimiser step) or the kept tokens of the batch; so a span of
several student tokens counts once in the soft part while N counts tokens, exactly as the ordinary loss does
when the tokenizers agree. With identical tokenizers and texts without split characters every span is one
token, and the ``"vocab"`` loss is the ordinary :func:`~divergences.hf.distillation_loss` (tested).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ..torch.options import DistillOptions
from ._spec import DivergenceArg, divergence_arg, keywords_checked
from .alignment import align_batch, align_offsets, span_divergence, span_logprobs, token_offsets
from .cross_tokenizer import VocabularyMap, uld_loss, vocabulary_divergence, vocabulary_map

__all__ = ["CROSS_METHODS", "CrossTokenizer", "cross_tokenizer_distillation_loss"]

Tensor = torch.Tensor

#: the comparisons of :func:`cross_tokenizer_distillation_loss`
CROSS_METHODS = ("vocab", "uld", "span")


def _width(model: Any) -> int:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(head, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.ndim == 2:
        return int(weight.shape[0])
    size = getattr(getattr(model, "config", None), "vocab_size", None)
    if size is None:
        raise ValueError("model: cannot find its vocabulary size (no output embeddings, no config.vocab_size)")
    return int(size)


@dataclass(frozen=True)
class CrossTokenizer:
    """The two tokenizers, the vocabulary map between the models' logits, and the comparison ``method``."""

    student_tokenizer: Any
    teacher_tokenizer: Any
    vocab_map: VocabularyMap
    method: str = "vocab"

    @classmethod
    def build(cls, student_tokenizer: Any, teacher_tokenizer: Any, student: Any, teacher: Any,
              method: str = "vocab", pairs: Mapping[int, int] | None = None) -> CrossTokenizer:
        """Check the tokenizers against the models and match their vocabularies (once, at construction)."""
        if method not in CROSS_METHODS:
            raise ValueError(f"cross_tokenizer must be one of {CROSS_METHODS}, got {method!r}")
        if student_tokenizer is None:
            raise ValueError("teacher_tokenizer is given, so the student's tokenizer is needed too: pass "
                             "processing_class= (the student's tokenizer) to the trainer")
        for name, tok in (("teacher_tokenizer", teacher_tokenizer), ("student tokenizer", student_tokenizer)):
            if not (hasattr(tok, "decode") and (hasattr(tok, "convert_ids_to_tokens") or hasattr(tok, "id_to_token"))):
                raise ValueError(f"{name} must be a transformers or tokenizers tokenizer, got {type(tok).__name__}")
        vs, vt = _width(student), _width(teacher)
        for name, tok, width in (("student", student_tokenizer, vs), ("teacher", teacher_tokenizer, vt)):
            size = tok.get_vocab_size() if hasattr(tok, "get_vocab_size") else len(tok)
            if size > width:
                raise ValueError(f"the {name} tokenizer has {size} tokens but the {name} model's logits only {width}: "
                                 "they do not belong together")
        return cls(student_tokenizer, teacher_tokenizer,
                   vocabulary_map(student_tokenizer, teacher_tokenizer, student_size=vs, teacher_size=vt, pairs=pairs),
                   method)


def _encode(tokenizer: Any, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    if hasattr(tokenizer, "id_to_token"):  # tokenizers.Tokenizer
        enc = tokenizer.encode(text)
        return list(enc.ids), [tuple(o) for o in enc.offsets]
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("teacher_tokenizer must be a fast tokenizer (it must return offset_mapping)")
    out = tokenizer(text, return_offsets_mapping=True, add_special_tokens=True)
    return list(out["input_ids"]), [tuple(o) for o in out["offset_mapping"]]


def _pad_id(tokenizer: Any) -> int:
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is None and hasattr(tokenizer, "token_to_id"):
        pad = tokenizer.token_to_id("<pad>")
    return int(pad) if pad is not None else 0


def teacher_inputs(inputs: Mapping[str, Any], cross: CrossTokenizer, keep: Tensor, device: torch.device
                   ) -> tuple[dict[str, Tensor], Any]:
    """The teacher's batch (right padded) and the :class:`~divergences.hf.AlignedBatch` of the spans."""
    ids = inputs["input_ids"]
    mask = inputs.get("attention_mask")
    mask = torch.ones_like(ids) if mask is None else mask
    rows, alignments = [], []
    for b in range(ids.shape[0]):
        real = torch.nonzero(mask[b] != 0).flatten()
        text, s_off = token_offsets(cross.student_tokenizer, ids[b, real])
        t_ids, t_off = _encode(cross.teacher_tokenizer, text)
        al = align_offsets(s_off, t_off)
        pos = real.tolist()
        # a span starting at the row's first real token has no real predicting position (with left padding
        # pos[0] − 1 is a pad): its start is set to 0, which align_batch drops (and counts)
        shifted = tuple((pos[a] if a > 0 else 0, pos[e - 1] + 1) for a, e in al.student_spans)
        alignments.append(type(al)(shifted, al.teacher_spans, al.dropped_student, al.dropped_teacher))
        rows.append(t_ids)
    width = max(1, max(len(r) for r in rows))
    pad = _pad_id(cross.teacher_tokenizer)
    t_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    t_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, r in enumerate(rows):
        t_ids[b, :len(r)] = torch.tensor(r, dtype=torch.long)
        t_mask[b, :len(r)] = 1
    return {"input_ids": t_ids.to(device), "attention_mask": t_mask.to(device)}, align_batch(alignments, keep.cpu())


@keywords_checked()
def cross_tokenizer_distillation_loss(
    model: torch.nn.Module,
    teacher: torch.nn.Module,
    inputs: Mapping[str, Any],
    cross: CrossTokenizer,
    divergence: DivergenceArg = "kl",
    *,
    options: DistillOptions | None = None,
    num_items_in_batch: Any = None,
) -> Tensor:
    r"""Distillation loss between a student and a teacher with different tokenizers, on one batch.

    ``inputs`` is the student's batch (``input_ids``, ``attention_mask``, ``labels``; right or left padded);
    ``cross`` a :class:`CrossTokenizer` (built once by the trainer); ``divergence`` a registered name or a
    ``dv.spec(...)`` value with its parameters (``"kl"`` = KL(teacher ‖ student) over the vocabulary union);
    ``options`` a
    :class:`~divergences.torch.DistillOptions` for ``temperature``, ``soft_weight``, ``hard_weight``,
    ``t_squared`` and ``ignore_index``. See the module notes for the steps and the normalisation.
    """
    value = divergence_arg(divergence, needs="distributions")
    opts = options if options is not None else DistillOptions()
    if not isinstance(teacher, torch.nn.Module):
        raise ValueError("teacher: with teacher_tokenizer, the teacher must be a model (it is run on its own "
                         f"tokenization of the text), got {type(teacher).__name__}")
    if "input_ids" not in inputs:
        raise ValueError("inputs must hold input_ids")
    ids = inputs["input_ids"]
    labels = inputs.get("labels", ids)
    mask = inputs.get("attention_mask")
    keep = labels != opts.ignore_index
    if mask is not None:
        keep = keep & (mask != 0)
    model_inputs = {k: inputs[k] for k in ("input_ids", "attention_mask") if k in inputs}
    logits = model(**model_inputs, use_cache=False).logits
    device = logits.device
    t_inputs, batch = teacher_inputs(inputs, cross, keep, _device(teacher) or device)
    teacher.eval()
    with torch.no_grad():
        t_logits = teacher(**t_inputs, use_cache=False).logits.to(device)
    b, s_row, t_row = batch.batch.to(device), batch.student_row.to(device), batch.teacher_row.to(device)
    if cross.method == "span":
        s_span = span_logprobs(logits, ids.to(device), batch.student_spans, batch.batch, temperature=opts.temperature)
        t_span = span_logprobs(t_logits, t_inputs["input_ids"].to(device), batch.teacher_spans, batch.batch,
                               temperature=opts.temperature)
        soft = span_divergence(s_span, t_span, value, reduction="sum")
    elif cross.method == "uld":
        soft = uld_loss(logits[b, s_row], t_logits[b, t_row], temperature=opts.temperature, reduction="sum")
    else:
        soft = vocabulary_divergence(logits[b, s_row], t_logits[b, t_row], cross.vocab_map, value,
                                     temperature=opts.temperature, reduction="sum")
    total = opts.soft_scale * soft
    target = keep[:, 1:]
    if opts.hard_weight != 0.0:
        ce = torch.nn.functional.cross_entropy(logits[:, :-1][target].to(torch.promote_types(logits.dtype, torch.float32)),
                                               labels[:, 1:][target].to(device),
                                               reduction="sum")
        total = total + opts.hard_weight * ce
    count = int(target.sum())
    if num_items_in_batch is None:
        denominator: Any = float(max(count, 1))
    else:
        denominator = num_items_in_batch.to(total) if isinstance(num_items_in_batch, Tensor) else float(num_items_in_batch)
        if not isinstance(denominator, Tensor) and not (math.isfinite(denominator) and denominator > 0):
            raise ValueError(f"num_items_in_batch must be a positive count, got {num_items_in_batch!r}")
    # a batch with no aligned span still has a graph (zero gradients)
    return total / denominator + 0.0 * logits.sum()


def _device(module: torch.nn.Module) -> torch.device | None:
    first = next(iter(module.parameters()), None)
    return None if first is None else first.device
