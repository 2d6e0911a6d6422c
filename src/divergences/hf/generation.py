r"""Sampling completions for on-policy and sequence-level distillation.

:func:`prompts_of` cuts the prompt out of a training batch (the tokens of each row before its first target,
``labels == -100``), left padded for ``generate``; :func:`sample_completions` samples a completion per prompt
from a causal LM and returns a training batch: ``input_ids`` = prompt + completion, ``attention_mask``, and
``labels`` with the prompt, the padding and everything after the first end-of-sequence token set to -100 (the
end-of-sequence token itself is a target). :func:`retokenize` carries a batch from one tokenizer to another
through its text (sequence-level distillation from a teacher with another tokenizer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["GenerationOptions", "prompts_of", "retokenize", "sample_completions"]

Tensor = torch.Tensor


def prompts_of(inputs: Mapping[str, Any], pad_token_id: int, ignore_index: int = -100) -> tuple[Tensor, Tensor]:
    """``(prompt_ids, prompt_mask)``, left padded: each row's real tokens before its first target.

    A row's prompt ends at its first position with ``labels != ignore_index`` (``attention_mask == 0`` positions are
    skipped). A row whose first real token is already a target has no prompt: ValueError (mark the prompt with
    labels -100, as TRL's completion-only collators do).
    """
    ids = inputs.get("input_ids")
    labels = inputs.get("labels")
    if not isinstance(ids, torch.Tensor) or ids.ndim != 2:
        raise ValueError("inputs['input_ids'] must be a (batch, seq) tensor")
    if not isinstance(labels, torch.Tensor) or labels.shape != ids.shape:
        raise ValueError("inputs['labels'] must be a (batch, seq) tensor marking the prompt with -100 (the completion "
                         "to be replaced by generated text starts at the first other label)")
    mask = inputs.get("attention_mask")
    mask = torch.ones_like(ids) if mask is None else mask
    prompts = []
    for b in range(ids.shape[0]):
        real = torch.nonzero(mask[b] != 0).flatten()
        targets = real[labels[b, real] != ignore_index]
        end = int(targets[0]) if targets.numel() else int(real[-1]) + 1 if real.numel() else 0
        prompt = ids[b, real[real < end]]
        if prompt.numel() == 0:
            raise ValueError(f"row {b} of the batch has no prompt (its first real token is a target): mark the prompt "
                             "with labels -100")
        prompts.append(prompt)
    width = max(p.numel() for p in prompts)
    out = torch.full((len(prompts), width), int(pad_token_id), dtype=ids.dtype, device=ids.device)
    pmask = torch.zeros((len(prompts), width), dtype=torch.long, device=ids.device)
    for b, p in enumerate(prompts):
        out[b, width - p.numel():] = p
        pmask[b, width - p.numel():] = 1
    return out, pmask


def _special_ids(model: Any) -> tuple[int | None, int | None]:
    cfg = getattr(model, "generation_config", None) or getattr(model, "config", None)
    eos = getattr(cfg, "eos_token_id", None)
    pad = getattr(cfg, "pad_token_id", None)
    if isinstance(eos, (list, tuple)):
        eos = eos[0] if eos else None
    return eos, pad if pad is not None else eos


def sample_completions(model: Any, prompt_ids: Tensor, prompt_mask: Tensor | None = None, *, max_new_tokens: int = 32,
                       temperature: float = 1.0, do_sample: bool = True,
                       generation_kwargs: Mapping[str, Any] | None = None) -> dict[str, Tensor]:
    """Sample one completion per (left-padded) prompt with ``model.generate`` and return a training batch.

    Returns ``input_ids`` (B, P + T), ``attention_mask`` (0 on the prompt's padding and after the first
    end-of-sequence token) and ``labels`` (-100 on the prompt, the padding and after end-of-sequence). Sampling is
    plain ancestral sampling at ``temperature`` (``top_k=0``, ``top_p=1``: the student's own distribution, which
    on-policy distillation needs), greedy with ``do_sample=False``; ``generation_kwargs`` go to ``generate``
    (they override these). Runs under ``torch.no_grad`` with the model in eval mode, restored afterwards.
    Reproducible under ``torch.manual_seed``.
    """
    if not isinstance(prompt_ids, torch.Tensor) or prompt_ids.ndim != 2 or prompt_ids.shape[1] == 0:
        raise ValueError(f"prompt_ids must be a non-empty (batch, prompt) tensor, got "
                         f"{tuple(getattr(prompt_ids, 'shape', ())) or type(prompt_ids).__name__}")
    _check_generation(max_new_tokens, temperature)
    prompt_mask = torch.ones_like(prompt_ids) if prompt_mask is None else prompt_mask
    if prompt_mask.shape != prompt_ids.shape:
        raise ValueError(f"prompt_mask must have the shape {tuple(prompt_ids.shape)} of prompt_ids")
    eos, pad = _special_ids(model)
    kwargs: dict[str, Any] = dict(max_new_tokens=max_new_tokens, do_sample=do_sample, pad_token_id=pad,
                                  eos_token_id=eos)
    if do_sample:
        kwargs.update(temperature=float(temperature), top_k=0, top_p=1.0)
    kwargs.update(dict(generation_kwargs or {}))
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with torch.no_grad():
            out = model.generate(input_ids=prompt_ids, attention_mask=prompt_mask, **kwargs)
    finally:
        if was_training:
            model.train()
    width = prompt_ids.shape[1]
    completion = out[:, width:]
    alive = torch.ones_like(completion, dtype=torch.bool)
    if eos is not None and completion.numel():
        is_eos = completion == eos
        # positions after the first end-of-sequence token (the token itself stays)
        after = (torch.cumsum(is_eos.long(), dim=1) - is_eos.long()) > 0
        alive = ~after
    mask = torch.cat([prompt_mask.to(out.device), alive.long()], dim=1)
    labels = torch.cat([torch.full_like(prompt_ids, -100).to(out.device),
                        torch.where(alive, completion, torch.full_like(completion, -100))], dim=1)
    return {"input_ids": out, "attention_mask": mask, "labels": labels}


@dataclass(frozen=True)
class GenerationOptions:
    """How the trainers sample completions (:func:`sample_completions`; checked at construction).

    :param max_new_tokens: the longest completion, a positive integer.
    :param temperature: the sampling temperature, > 0.
    :param do_sample: ancestral sampling (True) or greedy decoding (False, Kim & Rush's sequence-level KD).
    :param generation_kwargs: more keywords for ``model.generate`` (they override the above).

    >>> from divergences.hf import GenerationOptions
    >>> GenerationOptions(max_new_tokens=16, do_sample=False).max_new_tokens
    16
    """

    max_new_tokens: int = 32
    temperature: float = 1.0
    do_sample: bool = True
    generation_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_generation(self.max_new_tokens, self.temperature)
        if not isinstance(self.do_sample, bool):
            raise ValueError(f"do_sample must be True or False, got {self.do_sample!r}")
        if not isinstance(self.generation_kwargs, Mapping):
            raise ValueError(f"generation_kwargs must be a mapping of generate() keywords, got "
                             f"{type(self.generation_kwargs).__name__}")
        object.__setattr__(self, "generation_kwargs", dict(self.generation_kwargs))

    def sample(self, model: Any, prompt_ids: Tensor, prompt_mask: Tensor | None = None) -> dict[str, Tensor]:
        """:func:`sample_completions` with these options."""
        return sample_completions(model, prompt_ids, prompt_mask, max_new_tokens=self.max_new_tokens,
                                  temperature=self.temperature, do_sample=self.do_sample,
                                  generation_kwargs=self.generation_kwargs)


def _check_generation(max_new_tokens: Any, temperature: Any) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    if isinstance(temperature, bool) or not (isinstance(temperature, (int, float)) and 0 < temperature < math.inf):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")


def retokenize(batch: Mapping[str, Tensor], source_tokenizer: Any, target_tokenizer: Any, target_prompts: Tensor,
               target_prompt_mask: Tensor, pad_token_id: int) -> dict[str, Tensor]:
    """A completion batch in ``source_tokenizer``'s tokens as a batch in ``target_tokenizer``'s tokens.

    The completions (the positions with labels ≠ -100) are decoded to text and encoded by the target tokenizer
    (no special tokens added), then appended to ``target_prompts`` (left padded, with ``target_prompt_mask``).
    """
    texts = []
    for b in range(batch["input_ids"].shape[0]):
        ids = batch["input_ids"][b][batch["labels"][b] != -100].tolist()
        if hasattr(source_tokenizer, "id_to_token"):
            texts.append(source_tokenizer.decode(ids, skip_special_tokens=True))
        else:
            texts.append(source_tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False))
    encoded = []
    for text in texts:
        if hasattr(target_tokenizer, "id_to_token"):
            encoded.append(list(target_tokenizer.encode(text, add_special_tokens=False).ids))
        else:
            encoded.append(list(target_tokenizer(text, add_special_tokens=False)["input_ids"]))
    width = max(1, max(len(e) for e in encoded))
    device = target_prompts.device
    comp = torch.full((len(encoded), width), int(pad_token_id), dtype=torch.long, device=device)
    cmask = torch.zeros((len(encoded), width), dtype=torch.long, device=device)
    for b, e in enumerate(encoded):
        comp[b, :len(e)] = torch.tensor(e, dtype=torch.long)
        cmask[b, :len(e)] = 1
    ids = torch.cat([target_prompts, comp], dim=1)
    mask = torch.cat([target_prompt_mask.to(device), cmask], dim=1)
    labels = torch.cat([torch.full_like(target_prompts, -100), torch.where(cmask > 0, comp, torch.full_like(comp, -100))],
                       dim=1)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
