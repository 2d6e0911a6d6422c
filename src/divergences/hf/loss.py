r"""Distillation loss for any ``compute_loss``: student hidden states and LM head into the fused loss.

:func:`distillation_loss` calls the student through its own forward with ``logits_to_keep=1`` (so wrappers such
as DDP run, and the LM head sees one position only), catches the decoder's last hidden states with a hook
on ``model.get_decoder()``, and passes them with the head's weight to
:func:`divergences.torch.fused_linear_divergence_loss`, so the (tokens × vocab) student logits are
formed one chunk of tokens at a time and never held whole. The teacher is given as

* a model (``torch.nn.Module``, a causal LM): run under ``torch.no_grad`` in eval mode; its hidden states
  and head go to the fused loss too (no teacher logits held either);
* a tensor of teacher logits (B, S, Vt), aligned with ``input_ids`` (position t predicts token t + 1);
* a :class:`TopKTeacher` (top-k log-probabilities and indices, (B, S, k)), or ``None`` with the batch
  holding ``teacher_topk_logprobs`` / ``teacher_topk_indices`` (as :class:`~divergences.hf.TeacherCacheCollator`
  yields them): :func:`divergences.torch.topk_divergence_loss` on chunks of student logits, each formed
  from the hidden states under activation checkpointing (positions with fewer than k entries, as served
  teachers give, are handled in :mod:`._topk`);
* a callable ``teacher(inputs)`` returning one of the above (a served teacher, see :mod:`.served`).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, overload

import torch

from ..torch.fused import TeacherHead, fused_linear_divergence_loss
from ..torch.losses import divergence_loss
from ..torch.options import DistillOptions
from ._spec import DivergenceArg, divergence_arg, keywords_checked
from ._topk import topk_sum

__all__ = ["TopKTeacher", "distillation_loss", "lm_head"]

Tensor = torch.Tensor

#: batch keys read by the loss and never passed to the model
TOPK_KEYS = ("teacher_topk_logprobs", "teacher_topk_indices")
CACHE_KEYS = (*TOPK_KEYS, "teacher_tail_logprob", "teacher_temperature")
_NOT_MODEL_INPUTS = frozenset((*CACHE_KEYS, "labels", "num_items_in_batch"))

# configuration fields of heads that are not a plain linear map (Gemma-2 softcapping, Cohere scale, Granite)
_HEAD_MODIFIERS = ("final_logit_softcapping", "logit_scale", "logits_scaling")


@dataclass(frozen=True)
class TopKTeacher:
    """A sparse teacher: ``logprobs`` and ``indices`` of shape (B, S, k), position t predicting token t + 1.

    ``indices`` are in the *student's* vocabulary; ``temperature`` is the one the log-probabilities were
    taken at (checked against the loss's temperature; ``None`` = not known, not checked).
    """

    logprobs: Tensor
    indices: Tensor
    temperature: float | None = None


def lm_head(model: torch.nn.Module) -> tuple[Tensor, Tensor | None]:
    """The (vocab, hidden) weight and the bias (or None) of a causal LM's output layer.

    Raises ValueError for heads that are not a plain linear map (logit softcapping, logit scale), whose
    logits the fused loss would get wrong; use ``fused=False`` there.
    """
    model = _unwrap(model)
    config = getattr(model, "config", None)
    for field in _HEAD_MODIFIERS:
        value = getattr(config, field, None)
        if value not in (None, 1, 1.0, 0, 0.0):
            raise ValueError(f"model: its head applies {field}={value!r} after the linear map; the fused loss "
                             f"would miss it: pass fused=False")
    get_head: Any = getattr(model, "get_output_embeddings", None)
    head = get_head() if callable(get_head) else None
    weight = getattr(head, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
        raise ValueError("model: get_output_embeddings() must return a linear layer with a (vocab, hidden) weight")
    bias = getattr(head, "bias", None)
    return weight, bias if isinstance(bias, torch.Tensor) else None


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    while hasattr(model, "module") and isinstance(model.module, torch.nn.Module):  # DDP / DataParallel
        model = model.module
    return model


def _decoder_of(model: torch.nn.Module) -> torch.nn.Module:
    inner = _unwrap(model)
    get_decoder: Any = getattr(inner, "get_decoder", None)
    decoder = get_decoder() if callable(get_decoder) else None
    if not isinstance(decoder, torch.nn.Module) or decoder is inner:
        decoder = getattr(inner, "base_model", None)
    if not isinstance(decoder, torch.nn.Module) or decoder is inner:
        raise ValueError("model: cannot find its decoder (get_decoder() or base_model) under the LM head")
    return decoder


def _decoder_hidden(model: torch.nn.Module, model_inputs: Mapping[str, Any]) -> tuple[Tensor, Any]:
    """Last hidden states (B, S, H) under the LM head, and the decoder's output.

    The call goes through ``model`` itself (so a DDP / FSDP / PEFT wrapper's forward runs and synchronises
    gradients), asking for the logits of one position only (``logits_to_keep=1``, where the model takes it);
    a forward hook on the decoder catches its full output.
    """
    decoder = _decoder_of(model)
    caught: list[Any] = []
    handle = decoder.register_forward_hook(lambda _m, _a, out: caught.append(out))
    try:
        extra: dict[str, Any] = {"use_cache": False}
        accepted = inspect.signature(_unwrap(model).forward).parameters
        for name in ("logits_to_keep", "num_logits_to_keep"):
            if name in accepted:
                extra[name] = 1
                break
        model(**model_inputs, **extra)
    finally:
        handle.remove()
    if not caught:
        raise ValueError("model: its forward did not call the decoder returned by get_decoder()")
    out = caught[-1]
    hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
    return hidden, out


def _device_of(module: torch.nn.Module) -> torch.device | None:
    first = next(iter(module.parameters()), None)
    return None if first is None else first.device


def _to_device(inputs: Mapping[str, Any], device: torch.device | None) -> dict[str, Any]:
    if device is None:
        return dict(inputs)
    return {k: v.to(device) if isinstance(v, torch.Tensor) and v.device != device else v for k, v in inputs.items()}


def _full_logits(model: torch.nn.Module, model_inputs: Mapping[str, Any]) -> tuple[Tensor, Any]:
    out = model(**model_inputs, use_cache=False)
    return out.logits, out


def _labels_and_mask(inputs: Mapping[str, Any], ignore_index: int, shift: bool) -> Tensor:
    """Targets (B, S') with ignored positions set to ``ignore_index`` (pads from attention_mask too)."""
    labels = inputs.get("labels")
    mask = inputs.get("attention_mask")
    if labels is None:
        if "input_ids" not in inputs:
            raise ValueError("inputs: give labels, or input_ids to distil on every real token")
        labels = inputs["input_ids"]
    if not isinstance(labels, torch.Tensor) or labels.ndim != 2 or labels.is_floating_point():
        raise ValueError(f"inputs['labels'] must be an integer tensor of shape (batch, seq), got "
                         f"{getattr(labels, 'shape', type(labels).__name__)}")
    if mask is not None:
        if tuple(mask.shape) != tuple(labels.shape):
            raise ValueError(f"inputs['attention_mask'] must have the shape {tuple(labels.shape)} of the labels, "
                             f"got {tuple(mask.shape)}")
        labels = labels.masked_fill(mask == 0, ignore_index)
    if not shift:
        return labels
    labels = labels[:, 1:]
    # a target predicted from a pad position (the first real token of a left-padded row) is dropped too
    return labels if mask is None else labels.masked_fill(mask[:, :-1] == 0, ignore_index)


def _shift(x: Tensor, shift: bool) -> Tensor:
    return x[:, :-1] if shift else x


def _check_lead(x: Tensor, lead: tuple[int, ...], name: str) -> None:
    if tuple(x.shape[:2]) != lead:
        raise ValueError(f"{name} must have the leading shape (batch, seq) = {lead} of input_ids, "
                         f"got {tuple(x.shape)}")


@overload
def distillation_loss(model: torch.nn.Module, teacher: Any, inputs: Mapping[str, Any], divergence: DivergenceArg = ...,
                      *, options: DistillOptions | None = ..., num_items_in_batch: int | Tensor | None = ...,
                      fused: bool = ..., return_outputs: Literal[False] = ..., model_input_keys: Sequence[str] | None = ...,
                      shift_labels: bool = ...) -> Tensor: ...


@overload
def distillation_loss(model: torch.nn.Module, teacher: Any, inputs: Mapping[str, Any], divergence: DivergenceArg = ...,
                      *, options: DistillOptions | None = ..., num_items_in_batch: int | Tensor | None = ...,
                      fused: bool = ..., return_outputs: Literal[True], model_input_keys: Sequence[str] | None = ...,
                      shift_labels: bool = ...) -> tuple[Tensor, Any]: ...


@keywords_checked()
def distillation_loss(
    model: torch.nn.Module,
    teacher: Any,
    inputs: Mapping[str, Any],
    divergence: DivergenceArg = "kl",
    *,
    options: DistillOptions | None = None,
    num_items_in_batch: int | Tensor | None = None,
    fused: bool = True,
    return_outputs: bool = False,
    model_input_keys: Sequence[str] | None = None,
    shift_labels: bool = True,
) -> Tensor | tuple[Tensor, Any]:
    r"""Distillation loss of a causal LM ``model`` against ``teacher`` on one batch ``inputs``.

    With targets y (``inputs["labels"]``, or ``input_ids`` when absent; positions whose
    ``attention_mask`` is 0 or whose label is ``options.ignore_index`` are dropped) and, after the causal shift
    (student position t against target t + 1, ``shift_labels=True``; a target predicted from a pad position,
    the first real token of a left-padded row, is dropped too), the set K of kept tokens:

    .. math:: L = \frac{1}{N}\sum_{i\in K} \Big[s\,D\big(\mathrm{softmax}(t_i/T)\,\|\,\mathrm{softmax}(z_i/T)\big)
              + h\,\mathrm{CE}(z_i, y_i)\Big]

    with z = the student's logits (never materialised whole: see :mod:`divergences.hf.loss`), t the
    teacher's, T = ``options.temperature``, ``s = options.soft_weight`` (× T² with ``options.t_squared``),
    ``h = options.hard_weight`` and N = ``num_items_in_batch`` when given (what ``transformers.Trainer``
    passes: the kept tokens of the whole optimiser step, so that summed micro-batch losses equal the
    full-batch mean under gradient accumulation), else |K| (0 kept tokens give 0). The direction is that of
    :func:`divergences.torch.divergence_loss` (``"kl"`` = KL(teacher ‖ student)). For a top-k teacher the
    divergence is taken on the k kept entries plus one tail bucket
    (:func:`divergences.torch.topk_divergence_loss`), and the teacher's log-probabilities are used as given
    (their ``temperature`` must equal the loss's when it is known).

    Mapping to peers: TRL's ``GKDTrainer.compute_loss`` is ``divergence=dv.spec("js", beta=β)`` (β = 0:
    ``"kl"``, β = 1: ``"reverse_kl"``) at temperature 1; transformers' own causal-LM loss is
    ``options=DistillOptions(hard_weight=1, soft_weight=0)``.

    :param model: the student, a ``transformers`` causal LM (or a DDP / PEFT wrapper of one). It is called
        through its forward (with ``logits_to_keep=1``) on every entry of ``inputs`` except ``labels`` and the
        teacher-cache keys (or on ``model_input_keys``).
    :param teacher: a model, teacher logits, a :class:`TopKTeacher`, ``None`` (top-k in ``inputs``) or a
        callable returning one of these.
    :param inputs: the batch (``input_ids``, ``attention_mask``, ``labels``, the teacher-cache keys).
    :param divergence: a registered name, a ``dv.spec(...)`` value with its parameters
        (``dv.spec("js", beta=0.3)``), a term or an f callable.
    :param options: a :class:`~divergences.torch.DistillOptions`: ``temperature``, ``hard_weight``,
        ``soft_weight``, ``t_squared``, ``ignore_index``, ``chunk_size``, ``vocab_mismatch``, ``validate``
        (its ``reduction`` is the one described above: other fields are refused).
    :param num_items_in_batch: N, the kept tokens of the optimiser step.
    :param fused: False computes the student's (and a model teacher's) full logits with ``model(...)``, for
        heads the fused path does not cover (softcapping, logit scale).
    :param return_outputs: also return the student decoder's output (the model's output with ``fused=False``).
    :param model_input_keys: the entries of ``inputs`` passed to the models (default: all but ``labels`` and
        the teacher-cache keys; TRL's GKD batches need ``("input_ids", "attention_mask")``).
    :param shift_labels: compare position t with target t + 1 (False: the labels are already aligned).
    :returns: the scalar loss (and the outputs with ``return_outputs``).
    :raises ValueError: naming the argument or batch key that is malformed, the options field that does not
        apply, or a divergence that cannot be computed here.
    :raises TypeError: for a removed keyword (``beta=``: use ``dv.spec(...)``; ``temperature=``: use
        ``options=``), naming the new spelling.
    """
    if not isinstance(inputs, Mapping):
        raise ValueError(f"inputs must be a mapping of tensors (a batch), got {type(inputs).__name__}")
    value = divergence_arg(divergence)
    opts = loss_options(options)
    labels = _labels_and_mask(inputs, opts.ignore_index, shift_labels)
    if model_input_keys is None:
        model_inputs = {k: v for k, v in inputs.items() if k not in _NOT_MODEL_INPUTS}
    else:
        model_inputs = {k: inputs[k] for k in model_input_keys if k in inputs}
    lead = tuple(inputs["input_ids"].shape) if "input_ids" in inputs else None
    keep = labels != opts.ignore_index
    y = labels[keep]

    if callable(teacher) and not isinstance(teacher, (torch.nn.Module, torch.Tensor)):
        teacher = teacher(inputs)
    if teacher is None:
        teacher = _topk_from_batch(inputs)

    if fused:
        hidden, outputs = _decoder_hidden(model, model_inputs)
        weight, bias = lm_head(model)
    else:
        logits, outputs = _full_logits(model, model_inputs)
        hidden, weight, bias = logits, None, None
    if lead is None:
        lead = tuple(hidden.shape[:2])
    if tuple(labels.shape) != (lead[0], lead[1] - int(shift_labels)):
        raise ValueError(f"inputs['labels'] must have the shape {lead} of input_ids, got {tuple(inputs['labels'].shape)}")
    h = _shift(hidden, shift_labels)[keep]

    if isinstance(teacher, TopKTeacher):
        _check_lead(teacher.logprobs, lead, "teacher top-k log-probabilities")
        _check_lead(teacher.indices, lead, "teacher top-k indices")
        if teacher.temperature is not None and not math.isclose(teacher.temperature, opts.temperature, rel_tol=1e-6):
            raise ValueError(f"teacher: its top-k log-probabilities were taken at temperature {teacher.temperature}, "
                             f"but the loss uses temperature={opts.temperature}; they must match")
        # a served teacher's tensors live on the CPU: bring them to the student's device
        lp = _shift(teacher.logprobs.to(h.device), shift_labels)[keep]
        ix = _shift(teacher.indices.to(h.device), shift_labels)[keep]
        total = topk_sum(h, weight, bias, lp, ix, y, value, opts)
    else:
        div = value
        summed = replace(opts, reduction="sum")
        if isinstance(teacher, torch.nn.Module):
            teacher.eval()
            t_inputs = _to_device(model_inputs, _device_of(teacher))
            t_head: TeacherHead | None = None
            t_weight: Tensor | None = None
            t_bias: Tensor | None = None
            with torch.no_grad():
                if fused:
                    t_hidden, _ = _decoder_hidden(teacher, t_inputs)
                    t_weight, t_bias = lm_head(teacher)
                else:
                    t_hidden, _ = _full_logits(teacher, t_inputs)
            # a teacher on another device: its hidden states (and head) move to the student's
            t_rows = _shift(t_hidden, shift_labels)[keep.to(t_hidden.device)].to(h.device)
            if fused and t_weight is not None:
                t_head = TeacherHead(t_rows, t_weight.to(h.device), None if t_bias is None else t_bias.to(h.device))
            if t_head is not None and weight is not None:
                total = fused_linear_divergence_loss(h, weight, t_head, div, bias=bias, labels=y, options=summed)
            else:
                total = divergence_loss(h, t_rows, div, labels=y, options=summed)
        elif isinstance(teacher, torch.Tensor):
            if teacher.ndim != 3:
                raise ValueError(f"teacher logits must have shape (batch, seq, vocab), got {tuple(teacher.shape)}")
            _check_lead(teacher, lead, "teacher logits")
            t_rows = _shift(teacher.detach().to(h.device), shift_labels)[keep]
            if fused and weight is not None:
                total = fused_linear_divergence_loss(h, weight, t_rows, div, bias=bias, labels=y, options=summed)
            else:
                total = divergence_loss(h, t_rows, div, labels=y, options=summed)
        else:
            raise ValueError("teacher must be a model, a logits tensor, a TopKTeacher, None (top-k in inputs) or a "
                             f"callable returning one of these; got {type(teacher).__name__}")

    loss = total / _denominator(num_items_in_batch, y.numel(), total)
    return (loss, outputs) if return_outputs else loss




#: the :class:`DistillOptions` fields :func:`distillation_loss` reads; the others must keep their defaults
_USED_OPTIONS = ("temperature", "hard_weight", "soft_weight", "t_squared", "ignore_index", "chunk_size",
                 "vocab_mismatch", "validate")


def loss_options(options: DistillOptions | None, owner: str = "distillation_loss") -> DistillOptions:
    """``options`` checked for :func:`distillation_loss` (None: the defaults); a field it does not read is refused."""
    if options is None:
        return DistillOptions()
    if not isinstance(options, DistillOptions):
        raise ValueError(f"options must be a divergences.torch.DistillOptions, got {type(options).__name__}")
    default = DistillOptions()
    unused = [f.name for f in fields(DistillOptions)
              if f.name not in _USED_OPTIONS and getattr(options, f.name) != getattr(default, f.name)]
    if unused:
        raise ValueError(f"options: {owner} does not use {unused} (its reduction is the mean over kept tokens, or "
                         "the sum over num_items_in_batch); leave them at their defaults")
    return options


def _topk_from_batch(inputs: Mapping[str, Any]) -> TopKTeacher:
    """The top-k teacher a :class:`~divergences.hf.TeacherCacheCollator` batch holds."""
    missing = [k for k in TOPK_KEYS if k not in inputs]
    if missing:
        raise ValueError(f"teacher is None, so inputs must hold the top-k teacher; missing {missing}")
    t = inputs.get("teacher_temperature")
    t = None if t is None else float(t.reshape(-1)[0]) if isinstance(t, torch.Tensor) else float(t)
    return TopKTeacher(inputs["teacher_topk_logprobs"], inputs["teacher_topk_indices"], t)


def _denominator(num_items_in_batch: int | Tensor | None, kept: int, like: Tensor) -> Tensor | float:
    if num_items_in_batch is None:
        return float(max(kept, 1))
    if isinstance(num_items_in_batch, torch.Tensor):
        if num_items_in_batch.numel() != 1:
            raise ValueError(f"num_items_in_batch must be a scalar, got shape {tuple(num_items_in_batch.shape)}")
        return num_items_in_batch.to(device=like.device, dtype=like.dtype).reshape(()).clamp_min(1)
    n = float(num_items_in_batch)
    if not (math.isfinite(n) and n > 0):
        raise ValueError(f"num_items_in_batch must be a positive count, got {num_items_in_batch!r}")
    return n

