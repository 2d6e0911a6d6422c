r"""Decoding-time divergences as ``transformers`` logits processors (requires ``transformers``).

* :class:`USCDLogitsProcessor` and :func:`uscd_generate` — uncertainty-aware selective contrastive
  decoding (Wang et al. 2024, repository alphadl/CodeGen-USCD) against a "lame" prompt run with
  its own KV cache;
* :class:`NGramPriorLogitsProcessor` — n-gram style prior injection, logits + λ·log p_prior;
  :func:`style_perplexity` and :func:`base_perplexity` report the output's perplexities;
* :class:`DivergenceMonitor` — records any registry divergence per step and per sequence between
  the original and the steered distribution, or between two models.

Processors passed to ``generate(logits_processor=...)`` run *before* the temperature / top-k /
top-p warpers that ``generate`` builds from its generation config, so they see (and return) raw
logits (log-probabilities under beam search: the same distributions). They keep state for one
``generate`` call (the prompt length, KV caches, records); a call whose ``input_ids`` do not extend
the previous call's starts afresh. A new ``generate`` call whose prompt *is* the previous output
extended by its last token cannot be told from the next step: call :meth:`reset` first when reusing
a processor that way.

Greedy decoding, sampling, ``num_return_sequences`` and beam search (``num_beams``) are supported;
assisted (speculative) decoding, which goes back when it rejects candidate tokens, is refused with a
ValueError.
``generate`` does not show logits processors its beam indices, so each processor finds them: at every
step, each row's tokens before the new one are the whole history of one row of the previous step (its
parent beam), and the state of that row (the lame prompt's or the reference model's KV cache, the
records, the end-of-sequence flags) moves with it. Rows of one prompt only ever take state from rows
of the same prompt. A step whose rows do not all extend a previous row starts afresh. The records
of :class:`DivergenceMonitor` and :class:`USCDLogitsProcessor` follow the beams
(:attr:`DivergenceMonitor.steps` gives each running beam its own history);
:meth:`DivergenceMonitor.sequence_steps` reads the values along any returned sequence (beam search
returns finished beams, which are no longer among the running rows).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from ._spec import DivergenceArg, divergence_arg, keywords_checked

__all__ = ["DivergenceMonitor", "NGramPriorLogitsProcessor", "USCDLogitsProcessor", "base_perplexity",
           "style_perplexity", "uscd_generate"]


class _CachedStepper:
    """Next-token logits of ``model`` on ``prefix`` + the tokens generated so far, with its own KV cache."""

    def __init__(self, model: Any, prefix_ids: torch.Tensor, prefix_mask: torch.Tensor | None,
                 mask_name: str = "attention mask") -> None:
        self.model = model
        self.ids = prefix_ids
        mask = torch.ones_like(prefix_ids) if prefix_mask is None else torch.as_tensor(prefix_mask).to(prefix_ids.device)
        rows, mask_rows = prefix_ids.shape[0], mask.shape[0] if mask.ndim else 0
        if mask.ndim == 2 and mask.shape[1] == prefix_ids.shape[1] and mask_rows and rows != mask_rows \
                and rows % mask_rows == 0:
            # the prompt was already expanded by generate (num_return_sequences, num_beams): expand its mask alike
            mask = mask.repeat_interleave(rows // mask_rows, 0)
        if mask.shape != self.ids.shape:
            raise ValueError(f"{mask_name} has shape {tuple(mask.shape)} but its input_ids {tuple(self.ids.shape)}")
        self.mask = mask
        #: rows of one prompt of the caller (they may exchange state under beam search)
        self.source_rows = mask_rows if prefix_mask is not None and mask_rows else rows
        self.group = 1
        self.cache: Any = None
        self._cache_name: str | None = None

    def expand(self, batch: int) -> None:
        if batch != self.ids.shape[0]:
            if batch % self.ids.shape[0]:
                raise ValueError(f"generation batch {batch} is not a multiple of the prompt batch {self.ids.shape[0]}")
            r = batch // self.ids.shape[0]
            self.ids, self.mask = self.ids.repeat_interleave(r, 0), self.mask.repeat_interleave(r, 0)
        self.group = batch // self.source_rows

    def reorder(self, parent: torch.Tensor) -> None:
        """Row i takes the state (prefix, mask, KV cache) of row ``parent[i]`` (a beam reorder)."""
        idx = parent.to(self.ids.device)
        self.ids, self.mask = self.ids.index_select(0, idx), self.mask.index_select(0, idx)
        if self.cache is None:
            return
        if hasattr(self.cache, "reorder_cache"):
            self.cache.reorder_cache(idx)
        elif isinstance(self.cache, tuple):  # the legacy tuple of (key, value) per layer
            self.cache = tuple(tuple(t.index_select(0, idx.to(t.device)) for t in layer) for layer in self.cache)
        else:
            raise ValueError(f"beam search: the KV cache of {type(self.model).__name__} ({type(self.cache).__name__}) "
                             "cannot be reordered to follow the beams; use num_beams=1")

    @torch.no_grad()
    def __call__(self, new_tokens: torch.Tensor) -> torch.Tensor:
        new_tokens = new_tokens.to(self.ids.device)
        # the first call feeds the whole prefix; later calls only the new tokens (the cache holds the rest)
        feed = torch.cat([self.ids, new_tokens], dim=1) if self.cache is None else new_tokens
        self.mask = torch.cat([self.mask, torch.ones_like(new_tokens)], dim=1)
        positions = (self.mask.long().cumsum(-1) - 1).clamp(min=0)[:, -feed.shape[1]:]
        # transformers >= 5.2x names the cache argument and output ``cache``; older ones ``past_key_values``
        if self._cache_name is None:
            params = inspect.signature(self.model.forward).parameters
            self._cache_name = "cache" if "cache" in params else "past_key_values"
        out = self.model(input_ids=feed, attention_mask=self.mask, position_ids=positions, use_cache=True,
                         **{self._cache_name: self.cache})
        self.cache = out[self._cache_name] if self._cache_name in out else out.past_key_values
        return out.logits[:, -1, :]


def _parents(prefix: torch.Tensor, last: torch.Tensor, group: int | None) -> torch.Tensor | None:
    """For each row of ``prefix``, a row of ``last`` with the same tokens (its parent beam), in the same block of
    ``group`` rows when ``group`` is given; None when a row has none (a new generation)."""
    a, b = prefix.detach().cpu().numpy(), last.detach().cpu().numpy()
    index: dict[tuple[int, bytes], int] = {}
    for j in range(b.shape[0]):
        index.setdefault((j // group if group else 0, b[j].tobytes()), j)
    out = []
    for r in range(a.shape[0]):
        j = index.get((r // group if group else 0, a[r].tobytes()))
        if j is None:
            return None
        out.append(j)
    return torch.tensor(out, dtype=torch.long, device=prefix.device)


def _trace(records: list[torch.Tensor], parents: list[torch.Tensor | None]) -> torch.Tensor:
    """``[rows, steps]``: each row of the last step with the records of its own ancestors (beams followed)."""
    idx = torch.arange(records[-1].shape[0], device=records[-1].device)
    cols = []
    for value, parent in zip(reversed(records), reversed(parents)):
        cols.append(value[idx.to(value.device)])
        if parent is not None:
            idx = parent.to(idx.device)[idx]
    return torch.stack(cols[::-1], dim=1)


class _Stateful(LogitsProcessor):
    """Tracks the prompt length, the tokens generated since the previous call, and the beams (row parents)."""

    _seen: int | None = None
    _batch: int | None = None
    _last: torch.Tensor | None = None  # the previous call's input_ids: a new generate call does not extend them
    _prompt: torch.Tensor | None = None  # the first call's input_ids
    _parent_log: list[torch.Tensor | None]
    _new_log: list[torch.Tensor]

    def reset(self) -> None:
        """Forget the current generation (prompt length, caches, records): the next call starts one."""
        self._seen = self._batch = self._last = self._prompt = None
        self._parent_log, self._new_log = [], []
        self._on_reset()

    def _on_reset(self) -> None:  # pragma: no cover - overridden
        pass

    def _group(self) -> int | None:
        """Rows that may exchange state under beam search (blocks of this many rows), or None: any two rows with
        the same tokens have the same state."""
        return None

    def _reorder(self, parent: torch.Tensor) -> None:  # pragma: no cover - overridden
        pass

    def _new_tokens(self, input_ids: torch.LongTensor) -> tuple[torch.Tensor, bool]:
        """(tokens appended since the last call, whether this call starts a generation); under beam search the
        state is first moved to follow the rows' parent beams."""
        parent = None
        fresh = True
        if self._seen is not None and self._last is not None and input_ids.shape[0] == self._batch \
                and input_ids.shape[1] > self._seen:
            prefix = input_ids[:, :self._seen]
            if torch.equal(prefix, self._last):
                fresh = False
            else:
                parent = _parents(prefix, self._last, self._group())
                fresh = parent is None
        elif self._seen is not None and self._last is not None and self._prompt is not None \
                and input_ids.shape[0] == self._batch and self._prompt.shape[1] < input_ids.shape[1] <= self._seen \
                and torch.equal(input_ids, self._last[:, :input_ids.shape[1]]):
            # generate went back to an earlier step of this generation: assisted (speculative) decoding rejected
            # candidate tokens this processor already saw; its records and caches would hold the rejected steps
            raise ValueError(f"{type(self).__name__}: generate repeated or went back to an earlier step "
                             f"({input_ids.shape[1]} tokens after {self._seen}; assisted / speculative decoding "
                             "rejected candidate tokens): not supported, the "
                             "state would hold the rejected steps; call reset() first if this is a new generate call "
                             "on a prefix of the previous output")
        new = input_ids[:, :0] if fresh else input_ids[:, self._seen:]
        if fresh:
            self.reset()
            self._batch, self._prompt = input_ids.shape[0], input_ids
        elif parent is not None:
            self._reorder(parent)
        self._parent_log.append(parent)
        self._new_log.append(new)
        self._seen, self._last = input_ids.shape[1], input_ids
        return new, fresh


def _check_vocab(scores: torch.Tensor, other: int, what: str) -> None:
    if scores.shape[-1] != other:
        raise ValueError(f"{what} has a vocabulary of {other} but the scores have {scores.shape[-1]} "
                         "(vocabulary mismatch between the two models)")


class USCDLogitsProcessor(_Stateful):
    r"""Uncertainty-aware selective contrastive decoding against a lame prompt (USCD).

    At each step, with pₛ the standard prompt's next-token distribution (``softmax(scores)``) and
    pₗ the lame prompt's (``lame_model``, default ``model``, run on ``lame_input_ids`` + the tokens
    generated so far, with its own KV cache):

    * uncertainty: the standard deviation of pₛ over the vocabulary (``torch.std``, unbiased);
      a row is *uncertain* when it is ≤ ``uncertainty_threshold`` (a flat distribution has a small
      spread);
    * plausibility: tokens with pₛ ≥ ``plausibility`` · mean(pₛ) = ``plausibility`` / V are kept
      (the most likely token always is);
    * contrast (``contrast="probability"``, the repository's rule): score = log(pₛ − w·pₗ) on the
      plausible tokens with pₛ − w·pₗ > 0, −inf elsewhere; ``contrast="log"``: log pₛ − w·log pₗ on
      the plausible tokens (Li et al.'s contrastive-decoding form).

    Confident rows keep their logits unchanged. ``weight=0`` returns the scores untouched: plain
    decoding, exactly (the lame model is then not run).

    Defaults follow the repository's released run (``codellama_7b_weight_10_-07``:
    ``--mean_num 0.005 --filter_num 0.666667 --src_weights 1.0 -0.7``); its ``main.py`` defaults are
    0.0035 and 1/3. Differences from the repository (``bigcode_eval/contrast.py``):

    * it batches the standard and lame prompts as rows 0 and 1 of one batch and tests only row 0's
      uncertainty; here every row of a batch is tested and contrasted on its own, and the lame
      prompt runs as a separate model call with its own cache (left padding handled by position ids);
    * it applies the plausibility mask even at weight 0 (so weight 0 is not plain decoding); here
      weight 0 is the identity;
    * when every plausible token has pₛ ≤ w·pₗ its log gives NaN, turned into −inf for all tokens;
      here the row falls back to log pₛ on the plausible tokens;
    * confident rows return the log-softmax there, the raw logits here (the same distribution).

    The uncertainty threshold depends on V (a one-hot row has std ≈ 1/√V): retune it for
    another vocabulary size. :attr:`uncertain` holds the per-step uncertain-row masks.
    """

    def __init__(self, model: Any, lame_input_ids: torch.Tensor, lame_attention_mask: torch.Tensor | None = None, *,
                 weight: float = 0.7, uncertainty_threshold: float = 0.005, plausibility: float = 0.666667,
                 contrast: str = "probability", lame_model: Any = None) -> None:
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight must be a finite number >= 0, got {weight!r}")
        if not uncertainty_threshold >= 0:
            raise ValueError(f"uncertainty_threshold must be >= 0, got {uncertainty_threshold!r}")
        if not plausibility >= 0:
            raise ValueError(f"plausibility must be >= 0, got {plausibility!r}")
        if contrast not in ("probability", "log"):
            raise ValueError(f"contrast must be 'probability' or 'log', got {contrast!r}")
        lame_input_ids = torch.as_tensor(lame_input_ids)
        if lame_input_ids.ndim != 2:
            raise ValueError(f"lame_input_ids must be [batch, length], got shape {tuple(lame_input_ids.shape)}")
        self.model, self.lame_model = model, lame_model if lame_model is not None else model
        self.lame_input_ids, self.lame_attention_mask = lame_input_ids, lame_attention_mask
        self.weight, self.threshold, self.plausibility, self.contrast = float(weight), uncertainty_threshold, \
            plausibility, contrast
        self.uncertain: list[torch.Tensor] = []
        self._stepper: _CachedStepper | None = None

    def _on_reset(self) -> None:
        self.uncertain = []
        self._stepper = None

    def _group(self) -> int | None:
        return self._stepper.group if self._stepper is not None else None

    def _reorder(self, parent: torch.Tensor) -> None:
        if self._stepper is not None:
            self._stepper.reorder(parent)

    @property
    def uncertain_steps(self) -> torch.Tensor:
        """``[rows, steps]`` uncertain-row masks, each row (beam) with the masks of its own ancestors.

        :attr:`uncertain` holds the mask of each call as ``generate`` gave its rows; under beam search the rows of
        one call are not those of the next, and this traces them."""
        if not self.uncertain:
            raise ValueError("nothing recorded yet: run generate with this processor first")
        return _trace(self.uncertain, self._parent_log[-len(self.uncertain):])

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        new, fresh = self._new_tokens(input_ids)
        if self.weight == 0:
            return scores
        if fresh:
            self._stepper = _CachedStepper(self.lame_model, self.lame_input_ids.to(input_ids.device),
                                           self.lame_attention_mask, "lame_attention_mask")
            self._stepper.expand(input_ids.shape[0])
        stepper = self._stepper
        assert stepper is not None  # made by the first call of each generation
        lame = stepper(new)
        _check_vocab(scores, lame.shape[-1], "lame_model")
        dtype = torch.promote_types(scores.dtype, torch.float32)
        logp_s = torch.log_softmax(scores.to(dtype), dim=-1)
        p_s = logp_s.exp()
        uncertain = p_s.std(dim=-1) <= self.threshold
        self.uncertain.append(uncertain)
        if not uncertain.any():
            return scores
        vocab = scores.shape[-1]
        plausible = p_s >= self.plausibility / vocab
        plausible |= torch.zeros_like(plausible).scatter(-1, p_s.argmax(-1, keepdim=True), True)
        neg_inf = torch.full_like(p_s, -math.inf)
        logp_l = torch.log_softmax(lame.to(dtype), dim=-1)
        if self.contrast == "probability":
            diff = p_s - self.weight * logp_l.exp()
            alive = plausible & (diff > 0)
            contrasted = torch.where(alive, torch.log(torch.where(alive, diff, torch.ones_like(diff))), neg_inf)
            empty = ~alive.any(-1, keepdim=True)
            contrasted = torch.where(empty, torch.where(plausible, logp_s, neg_inf), contrasted)
        else:
            contrasted = torch.where(plausible, logp_s - self.weight * logp_l, neg_inf)
        return torch.where(uncertain[:, None], contrasted, scores.to(dtype)).to(scores.dtype)


def uscd_generate(model: Any, input_ids: torch.Tensor, lame_input_ids: torch.Tensor, *,
                  attention_mask: torch.Tensor | None = None, lame_attention_mask: torch.Tensor | None = None,
                  weight: float = 0.7, uncertainty_threshold: float = 0.005, plausibility: float = 0.666667,
                  contrast: str = "probability", lame_model: Any = None, logits_processor: Sequence[Any] = (),
                  **generate_kwargs: Any) -> tuple[Any, USCDLogitsProcessor]:
    """``model.generate`` with USCD: both prompts run step by step (greedy, sampling or beam search).

    ``input_ids`` / ``attention_mask`` are the standard (few-shot) prompts, ``lame_input_ids`` /
    ``lame_attention_mask`` the same prompts without their examples (same batch size; left padding
    for both is handled). ``generate_kwargs`` go to ``generate`` (``do_sample``, ``max_new_tokens``,
    ``temperature``, ``num_return_sequences``, ...); ``logits_processor`` are run after USCD.
    Returns ``(generate's output, the processor)``.
    """
    lame_input_ids = torch.as_tensor(lame_input_ids)
    if lame_input_ids.shape[0] != input_ids.shape[0]:
        raise ValueError(f"lame_input_ids has batch {lame_input_ids.shape[0]} but input_ids has {input_ids.shape[0]}")
    proc = USCDLogitsProcessor(model, lame_input_ids, lame_attention_mask, weight=weight,
                               uncertainty_threshold=uncertainty_threshold, plausibility=plausibility,
                               contrast=contrast, lame_model=lame_model)
    out = model.generate(input_ids=input_ids, attention_mask=attention_mask,
                         logits_processor=LogitsProcessorList([proc, *logits_processor]), **generate_kwargs)
    return out, proc


def _leading_pad(row: torch.Tensor, pad_token_id: int | None) -> int:
    if pad_token_id is None:
        return 0
    not_pad = (row != pad_token_id).nonzero()
    return int(not_pad[0]) if not_pad.numel() else row.numel()


class NGramPriorLogitsProcessor(_Stateful):
    r"""Adds λ·log p_prior(token | context) to the logits, p_prior an :class:`~divergences.llm.NGramPrior`.

    The context of each row is its ``input_ids`` without the left padding of the prompt (leading
    ``pad_token_id`` tokens, found once at the first step). ``strength=0`` returns the scores
    untouched (bit-identical). The prior's vocabulary must equal the scores' (fit the prior with
    the model's ``vocab_size``, which may exceed the tokenizer's).
    """

    def __init__(self, prior: Any, *, strength: float, pad_token_id: int | None = None) -> None:
        if not math.isfinite(strength):
            raise ValueError(f"strength must be finite, got {strength!r}")
        self.prior, self.strength, self.pad_token_id = prior, float(strength), pad_token_id
        self._lead: list[int] = []

    def _reorder(self, parent: torch.Tensor) -> None:
        self._lead = [self._lead[j] for j in parent.tolist()]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        _, fresh = self._new_tokens(input_ids)
        if fresh:
            self._lead = [_leading_pad(r, self.pad_token_id) for r in input_ids]
        if self.strength == 0:
            return scores
        _check_vocab(scores, self.prior.vocab_size, "prior")
        contexts = [row[lead:].tolist() for row, lead in zip(input_ids, self._lead)]
        dtype = torch.promote_types(scores.dtype, torch.float32)
        log_prior = self.prior.log_prob(contexts, dtype=dtype, device=scores.device)
        return (scores.to(dtype) + self.strength * log_prior).to(scores.dtype)


class DivergenceMonitor(_Stateful):
    r"""Records D(original ‖ steered) per step and per sequence, for any registry divergence.

    ``DivergenceMonitor(processor, divergence="js")`` wraps a processor (or a
    ``LogitsProcessorList``): it calls it, records ``divergences.divergence(divergence, scores,
    steered, from_logits=True)`` per row, and returns the steered scores. ``divergence`` is a
    registered divergence between distributions, by name or as a ``dv.spec(...)`` value with its
    parameters (``dv.spec("js", beta=0.3)``); a parameter beside the name (``beta=0.3``) is a
    TypeError showing that spelling. Without a
    processor it passes the scores through and compares them with ``reference_model``'s next-token
    logits (run with its own KV cache on ``reference_input_ids`` + the generated tokens;
    ``reference_input_ids`` default to the prompt, then give ``reference_attention_mask`` for left
    padding). Rows that have produced ``eos_token_id`` record NaN from the next step on and are left
    out of :meth:`summary`. Rows whose steered logits equal the original ones record exactly 0.
    Place it where the steering happens in the processor list (e.g. last).
    """

    @keywords_checked(options=False, owner="DivergenceMonitor")
    def __init__(self, processor: Any = None, *, divergence: DivergenceArg = "js", reference_model: Any = None,
                 reference_input_ids: torch.Tensor | None = None, reference_attention_mask: torch.Tensor | None = None,
                 eos_token_id: int | Sequence[int] | None = None) -> None:
        # unknown names and parameters fail here, not at the first step
        value = divergence_arg(divergence, needs="exact")
        if processor is None and reference_model is None:
            raise ValueError("give a processor to monitor or a reference_model to compare with")
        if processor is not None and reference_model is not None:
            raise ValueError("give either processor or reference_model, not both")
        self.processor, self.divergence = processor, value
        self.reference_model = reference_model
        self.reference_input_ids, self.reference_attention_mask = reference_input_ids, reference_attention_mask
        eos = [] if eos_token_id is None else [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
        self.eos = torch.tensor(eos, dtype=torch.long)
        self.values: list[torch.Tensor] = []
        self._stepper: _CachedStepper | None = None
        self._done: torch.Tensor | None = None

    def _on_reset(self) -> None:
        self.values, self._stepper, self._done = [], None, None

    def _group(self) -> int | None:
        if self._stepper is None:
            return None
        # the reference prompt is the generation's own prompt, without a mask: a row's tokens are its whole state
        if self.reference_input_ids is None and self.reference_attention_mask is None:
            return None
        return self._stepper.group

    def _reorder(self, parent: torch.Tensor) -> None:
        if self._stepper is not None:
            self._stepper.reorder(parent)
        if self._done is not None:
            self._done = self._done[parent.to(self._done.device)]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        import divergences as dv

        new, fresh = self._new_tokens(input_ids)
        if fresh:
            self._done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            if self.reference_model is not None:
                ids = input_ids if self.reference_input_ids is None else torch.as_tensor(self.reference_input_ids)
                self._stepper = _CachedStepper(self.reference_model, ids.to(input_ids.device),
                                               self.reference_attention_mask, "reference_attention_mask")
                self._stepper.expand(input_ids.shape[0])
        done = self._done
        assert done is not None  # made by the first call of each generation
        if not fresh and self.eos.numel():
            done |= torch.isin(new, self.eos.to(new.device)).any(-1)
        if self.processor is not None:
            steered = self.processor(input_ids, scores)
            original = scores
        else:
            stepper = self._stepper
            assert stepper is not None  # made with done, when a reference model is given
            steered = scores
            original = stepper(new)
            _check_vocab(scores, original.shape[-1], "reference_model")
        dtype = torch.promote_types(scores.dtype, torch.float32)
        with torch.no_grad():
            value = dv.divergence(self.divergence, original.to(dtype), steered.to(dtype), from_logits=True,
                                  validate=False)
            # D(p, p) = 0 exactly: the registry's JS of two equal float32 rows rounds to ±1e-8
            value = torch.where((original == steered).all(-1), torch.zeros_like(value), value)
        self.values.append(torch.where(done, torch.full_like(value, math.nan), value))
        return steered

    @property
    def steps(self) -> torch.Tensor:
        """``[batch, steps]`` divergence per generation step (NaN after a row's end of sequence).

        Under beam search each row is a beam still running at the last step, with the values of its own
        ancestors at the earlier steps (:attr:`values` keeps each call's values as ``generate`` gave its rows)."""
        if not self.values:
            raise ValueError("nothing recorded yet: run generate with this monitor first")
        return _trace(self.values, self._parent_log[-len(self.values):])

    def sequence_steps(self, sequences: torch.Tensor) -> torch.Tensor:
        """``[n, steps]`` the values recorded along each of ``sequences`` (``generate``'s output rows).

        Step t holds the value recorded when the sequence's first (prompt + t) tokens were the history of a row;
        NaN where the sequence had no such row (it ended, or it was not generated in this run). With beam search
        this reads the returned (finished) beams, which ``steps`` does not hold."""
        if not self.values:
            raise ValueError("nothing recorded yet: run generate with this monitor first")
        seqs = torch.as_tensor(sequences)
        if seqs.ndim != 2:
            raise ValueError(f"sequences must be [n, length], got shape {tuple(seqs.shape)}")
        prompt = self._prompt
        assert prompt is not None  # recorded with the values
        p = prompt.shape[1]
        out = torch.full((seqs.shape[0], len(self.values)), math.nan, dtype=self.values[0].dtype)
        parents, news = self._parent_log[-len(self.values):], self._new_log[-len(self.values):]
        for i, s in enumerate(seqs.to(prompt.device)):
            if s.shape[0] < p:
                continue
            alive = (prompt == s[:p]).all(-1)
            for t, value in enumerate(self.values):
                if t > 0:
                    if p + t > s.shape[0]:
                        break
                    parent, new = parents[t], news[t]
                    prev = alive if parent is None else alive[parent.to(alive.device)]
                    alive = prev & (new[:, -1] == s[p + t - 1])
                if not alive.any():
                    break
                out[i, t] = value[int(alive.nonzero()[0])].to(out.device)
        return out

    def summary(self) -> dict[str, torch.Tensor]:
        """Per sequence: ``mean``, ``max``, ``sum`` over its live steps, and ``steps`` (their count)."""
        v = self.steps
        live = ~torch.isnan(v)
        count = live.sum(-1)
        zero = torch.zeros_like(v)
        total = torch.where(live, v, zero).sum(-1)
        return {"mean": total / count.clamp(min=1), "max": torch.where(live, v, torch.full_like(v, -math.inf)).amax(-1),
                "sum": total, "steps": count}


def _generated_mask(sequences: torch.Tensor, prompt_length: int, eos_token_id: int | None) -> torch.Tensor:
    gen = torch.zeros_like(sequences, dtype=torch.bool)
    gen[:, prompt_length:] = True
    if eos_token_id is not None:
        is_eos = (sequences == eos_token_id) & gen
        after = (is_eos.long().cumsum(-1) - is_eos.long()) > 0   # strictly after the first eos
        gen &= ~after
    return gen


def base_perplexity(model: Any, sequences: torch.Tensor, *, prompt_length: int,
                    attention_mask: torch.Tensor | None = None, eos_token_id: int | None = None) -> float:
    """Perplexity exp(−mean log p_model) of the generated tokens (after ``prompt_length``).

    ``sequences`` is ``generate``'s output (prompt + generated, batch-padded); ``attention_mask`` the
    prompt's mask (left padding); tokens after a row's first ``eos_token_id`` are not scored.
    """
    if sequences.shape[1] <= prompt_length:
        raise ValueError("sequences hold no generated token after prompt_length")
    prompt_mask = torch.ones_like(sequences[:, :prompt_length]) if attention_mask is None else attention_mask
    mask = torch.cat([prompt_mask.to(sequences.device), torch.ones_like(sequences[:, prompt_length:])], dim=1)
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=sequences, attention_mask=mask, position_ids=positions).logits
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    token = torch.gather(logp, -1, sequences[:, 1:, None]).squeeze(-1)
    scored = _generated_mask(sequences, prompt_length, eos_token_id)[:, 1:]
    return float(torch.exp(-token[scored].mean()))


def style_perplexity(prior: Any, sequences: torch.Tensor, *, prompt_length: int, pad_token_id: int | None = None,
                     eos_token_id: int | None = None) -> float:
    """Style perplexity of the generated tokens under an n-gram ``prior`` (the prompt as context)."""
    seqs, starts = [], []
    scored = _generated_mask(sequences, prompt_length, eos_token_id)
    for row, keep in zip(sequences, scored):
        lead = _leading_pad(row[:prompt_length], pad_token_id)
        end = int(keep.nonzero().max()) + 1 if keep.any() else prompt_length
        seqs.append(row[lead:end].tolist())
        starts.append(prompt_length - lead)
    return prior.perplexity(seqs, start=starts)
