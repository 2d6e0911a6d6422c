r"""Top-k teacher losses on chunks of student logits formed from hidden states (activation checkpointing).

``topk_sum`` sums, over rows, the per-token top-k loss of ``logits = hidden @ weightᵀ + bias`` (or of given
logits when ``weight`` is None), one chunk of rows at a time under ``torch.utils.checkpoint``, so only one
chunk of (rows × vocab) logits is alive in the forward pass and again in the backward pass.

Rows with fewer than k real teacher entries (a served teacher that returned fewer, slots marked by a
``-inf`` log-probability) are *ragged*: an unused slot is not a teacher entry of probability 0 (the teacher's
mass for that token is unknown, it is in the tail), so the student's probability of the slot's filler id
must stay in the student's tail too. :func:`divergences.torch.topk_divergence_loss` would give every slot its
own bucket; ragged batches are therefore computed here, by autograd on the buckets (kept entries + tail),
for pointwise divergences (f-divergences, cross-entropy, user generators).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch

from ..core.backend import torch_compute_dtype
from ..core.divergence import Divergence
from ..torch.engine import check_topk, chunk_rows
from ..torch.options import DistillOptions
from ..torch.topk import teacher_tail_log, topk_divergence_loss
from ._spec import DivergenceValue

Tensor = torch.Tensor


def _ragged_rows(z: Tensor, lp: Tensor, ix: Tensor, y: Tensor, gen: Any, temperature: float, scale: float,
                 hard_weight: float) -> Tensor:
    """Σ over rows of scale·D(kept + tail buckets) + hard_weight·CE, with unused slots folded into the tails."""
    dtype = torch_compute_dtype(z, lp)
    zf = z.to(dtype)
    logq = torch.log_softmax(zf / temperature if temperature != 1.0 else zf, dim=-1)
    lp = lp.to(dtype)
    valid = torch.isfinite(lp)
    qk = logq.gather(-1, ix)
    # the student's tail: every entry but the *valid* kept ones (filler ids keep their own mass)
    outside = logq.scatter(-1, ix, torch.where(valid, torch.full_like(qk, -math.inf), qk))
    b_tail = torch.logsumexp(outside, dim=-1)
    a_tail = teacher_tail_log(lp).squeeze(-1)
    zero = torch.zeros_like(qk)
    # φ(0, 0) = f(1) = 0: the unused slots get safe finite inputs, then a zero contribution
    kept = torch.where(valid, gen.phi(torch.where(valid, lp, zero), torch.where(valid, qk, zero)), zero).sum(-1)
    total = (kept + gen.phi(a_tail, b_tail)) * scale
    if hard_weight != 0.0:
        total = total + hard_weight * torch.nn.functional.cross_entropy(zf, y, reduction="none")
    return total.sum()


def topk_sum(hidden: Tensor, weight: Tensor | None, bias: Tensor | None, lp: Tensor, ix: Tensor, labels: Tensor,
             value: DivergenceValue, options: DistillOptions) -> Tensor:
    """Σ over rows of the top-k distillation loss (see the module docstring).

    :param value: the divergence (from :func:`~divergences.hf._spec.divergence_arg`).
    :param options: the loss options (:func:`~divergences.hf.loss.loss_options`); the sum ignores ``reduction``.
    """
    from torch.utils.checkpoint import checkpoint

    if lp.shape != ix.shape or lp.ndim != 2 or lp.shape[0] != hidden.shape[0]:
        raise ValueError(f"teacher top-k log-probabilities and indices must both have shape (tokens, k) = "
                         f"({hidden.shape[0]}, k) on the kept tokens, got {tuple(lp.shape)} and {tuple(ix.shape)}")
    n = hidden.shape[0]
    vocab = weight.shape[0] if weight is not None else hidden.shape[-1]
    chunk = chunk_rows(options.chunk_size, vocab, hidden.device)
    # the checks of the dense top-k path (NaN, +inf and positive log-probabilities, mass above 1, indices outside
    # the vocabulary or listed twice in a row), on every row, before either path runs
    check_topk(lp, ix, (n,), vocab)
    ragged = bool((lp == -math.inf).any()) if lp.numel() else False
    term = None
    if ragged:
        if not (isinstance(value, Divergence) and value.pointwise):
            raise ValueError(f"teacher: some positions have fewer than k top-k entries (-inf log-probabilities); "
                             f"divergence {value.name!r} is not pointwise and needs every position to have k entries")
        term = value.term()
        if options.hard_weight != 0.0 and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= vocab):
            raise ValueError(f"labels of kept tokens must lie in [0, {vocab})")
    div = value
    summed = replace(options, reduction="sum", vocab_mismatch="error")
    # starts at 0 · Σ hidden so that a batch with no kept token still has a graph (zero gradients)
    total = hidden.sum().to(torch_compute_dtype(hidden, weight)) * 0.0
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))

        def part(h: Tensor, w: Tensor | None, b: Tensor | None, sl: slice = sl) -> Tensor:
            z = h if w is None else torch.nn.functional.linear(h, w, b)
            if term is not None:
                return _ragged_rows(z, lp[sl], ix[sl], labels[sl], term, options.temperature, options.soft_scale,
                                    options.hard_weight)
            return topk_divergence_loss(z, lp[sl], ix[sl], div, labels=labels[sl], options=summed)

        total = total + checkpoint(part, hidden[sl], weight, bias, use_reentrant=False)
    return total
