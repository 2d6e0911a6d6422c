r"""Speculative decoding: the acceptance rate of a draft model, and the losses draft-model trainers minimise.

In speculative sampling (Leviathan et al. 2023; Chen et al. 2023) a draft model proposes a token
x ~ q (the draft's next-token distribution) and the target model accepts it with probability
min(1, p(x)/q(x)); on rejection a token is drawn from the normalised residual max(p − q, 0). The output is
distributed exactly as p, and the probability that a proposal is accepted is

.. math:: \alpha(p, q) = \sum_x \min\big(p(x), q(x)\big) = 1 - \mathrm{TV}(p, q),
          \qquad \mathrm{TV}(p, q) = \tfrac12 \sum_x |p(x) - q(x)|,

an identity, not an approximation: ``1 − acceptance_rate`` is exactly the registry's ``"tv"``. The expected
number of tokens per target call with γ drafted tokens and a constant α is (1 − α^{γ+1})/(1 − α).

Numerics. Per position, from log-probabilities a = log p and b = log q (log-softmax of the logits at the
given temperature), both sums are formed in one pass over the vocabulary: α by a log-sum-exp of
min(a, b) (exact in relative terms however small α is), TV by Σ max(p − q, 0) (exact in relative terms however
close p and q are, up to the rounding of the log-softmax itself); log α is log1p(−TV) where TV ≤ ½ and the
log-sum-exp elsewhere, so −log α keeps its relative precision at both ends (≈ TV for a nearly perfect draft;
≈ 99 for α ≈ 1e-43, where 1 − TV is 0 in any precision). Rows
are processed in chunks under activation checkpointing; float16/bfloat16 are computed in float32.
A position where p and q have disjoint supports (only possible with masked, ``-inf``, logits) has α = 0:
``−log α`` is +inf there, with a zero gradient.
"""

from __future__ import annotations

from typing import Any

import torch

from ._rowwise import checked_options, checked_pair, chunked, compute_dtype, kept, reduce

__all__ = ["DRAFT_OBJECTIVES", "acceptance_rate", "draft_loss", "log_acceptance_rate"]

Tensor = torch.Tensor

#: the objectives of :func:`draft_loss`
DRAFT_OBJECTIVES = ("neg_log_acceptance", "tv")


def _log_acceptance_rows(draft: Tensor, target: Tensor, temperature: float) -> Tensor:
    dtype = compute_dtype(draft, target)
    b = torch.log_softmax(draft.to(dtype) / temperature, dim=-1)
    a = torch.log_softmax(target.to(dtype) / temperature, dim=-1)
    low = torch.minimum(a, b)
    some = torch.isfinite(low).any(dim=-1, keepdim=True)
    lse = torch.logsumexp(torch.where(some, low, torch.zeros_like(low)), dim=-1)
    log_alpha_direct = torch.where(some.squeeze(-1), lse, torch.full_like(lse, -torch.inf))
    tv = torch.relu(torch.exp(a) - torch.exp(b)).sum(dim=-1)
    small = tv <= 0.5
    near_one = torch.log1p(-torch.where(small, tv, torch.zeros_like(tv)))  # no log(0) in the unused branch
    log_alpha = torch.where(small, near_one, log_alpha_direct)
    # α ≤ 1: a rounding excess above 0 is removed from the value, not from the gradient
    return log_alpha - torch.relu(log_alpha.detach())


def log_acceptance_rate(draft_logits: Tensor, target_logits: Tensor, *, temperature: float = 1.0,
                        chunk_size: int | None = None, validate: bool = True) -> Tensor:
    r"""log α per position: the log-probability that the target accepts a token proposed by the draft.

    :math:`\log\alpha = \log\sum_x \min(p(x), q(x))` with ``p = softmax(target_logits / T)`` and
    ``q = softmax(draft_logits / T)`` over the last axis; both logits share their leading shape and vocabulary.
    Returns shape ``draft_logits.shape[:-1]``, differentiable in both inputs (see the module notes for the
    numerics; at p = q the gradient is 0, α being maximal there).

    >>> import torch
    >>> from divergences.torch import log_acceptance_rate
    >>> p, q = torch.tensor([[0.5, 0.5]]), torch.tensor([[0.9, 0.1]])
    >>> log_acceptance_rate(q.log(), p.log()).exp()   # min(.5,.9) + min(.5,.1)
    tensor([0.6000])
    """
    opts = checked_options(temperature, "none", chunk_size, -100)
    draft_logits, target_logits = checked_pair(draft_logits, target_logits, ("draft_logits", "target_logits"),
                                               validate=validate)
    lead = tuple(draft_logits.shape[:-1])
    v = draft_logits.shape[-1]
    rows = chunked(lambda d, t: _log_acceptance_rows(d, t, opts.temperature),
                   [draft_logits.reshape(-1, v), target_logits.reshape(-1, v)], v, opts.chunk_size)
    return rows.reshape(lead)


def acceptance_rate(draft_logits: Tensor, target_logits: Tensor, *, temperature: float = 1.0,
                    chunk_size: int | None = None, validate: bool = True) -> Tensor:
    r"""α = Σ_x min(p(x), q(x)) = 1 − TV(p, q) per position (``exp`` of :func:`log_acceptance_rate`).

    ``p`` is the target's next-token distribution (``target_logits``), ``q`` the draft's; α is symmetric in
    them. It equals ``1 − divergence_loss(draft_logits, target_logits, "tv", options=DistillOptions(reduction="none"))``.

    >>> import torch
    >>> from divergences.torch import DistillOptions, acceptance_rate, divergence_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> d, t = torch.randn(4, 50, generator=g), torch.randn(4, 50, generator=g)
    >>> tv = divergence_loss(d, t, "tv", options=DistillOptions(reduction="none"))
    >>> bool(torch.allclose(acceptance_rate(d, t), 1 - tv, atol=1e-6))
    True
    """
    return torch.exp(log_acceptance_rate(draft_logits, target_logits, temperature=temperature, chunk_size=chunk_size,
                                         validate=validate))


def draft_loss(
    draft_logits: Tensor,
    target_logits: Tensor,
    objective: str = "neg_log_acceptance",
    *,
    temperature: float = 1.0,
    labels: Tensor | None = None,
    mask: Tensor | None = None,
    reduction: str = "mean",
    chunk_size: int | None = None,
    ignore_index: int = -100,
) -> Any:
    r"""The draft-model training loss of speculative decoding, per position reduced over the kept tokens.

    * ``objective="neg_log_acceptance"``: :math:`-\log\alpha = -\log\sum_x \min(p(x), q(x))` (≥ 0, 0 iff the
      draft equals the target): the log of the expected acceptance, whose sum over a block of drafted
      positions is −log of the probability that the whole block is accepted (for independent acceptances);
    * ``objective="tv"``: :math:`1 - \alpha = \mathrm{TV}(p, q)`, the rejection rate, computed by the distillation
      engine (:func:`divergences.torch.divergence_loss` with ``"tv"``: chunked, closed-form gradient).

    ``target_logits`` (p) are usually detached; ``draft_logits`` (q) carry the gradient. ``labels``/``mask``
    select positions (``labels == ignore_index`` or ``mask == False`` are dropped), and ``reduction`` is
    ``"mean"`` over kept positions, ``"sum"``, ``"batchmean"`` (over the first axis) or ``"none"`` (0 at dropped
    positions), as in :func:`divergences.torch.divergence_loss`.

    Mapping to draft trainers: DistillSpec (Zhou et al. 2024) trains the draft on TV (our ``"tv"``) or on
    FKL/RKL/JSD (``divergence_loss`` with ``"kl"``, ``"reverse_kl"``, ``"js"``); EAGLE's and Medusa's heads use the
    cross-entropy to the target's distribution or to its sampled token (``divergence_loss(..., "cross_entropy")``,
    or ``hard_weight=1``); the acceptance-rate objective −log α is the one whose minimum maximises the expected
    accepted length directly.

    >>> import torch
    >>> from divergences.torch import draft_loss
    >>> q = torch.tensor([[0.9, 0.1]]).log().requires_grad_(True)   # draft
    >>> p = torch.tensor([[0.5, 0.5]]).log()                        # target
    >>> loss = draft_loss(q, p)            # −log 0.6
    >>> round(float(loss.detach()), 4)
    0.5108
    >>> loss.backward(); q.grad.shape
    torch.Size([1, 2])
    """
    if objective not in DRAFT_OBJECTIVES:
        raise ValueError(f"objective must be one of {DRAFT_OBJECTIVES}, got {objective!r}")
    opts = checked_options(temperature, reduction, chunk_size, ignore_index)
    if objective == "tv":
        from .losses import divergence_loss

        checked_pair(draft_logits, target_logits, ("draft_logits", "target_logits"), validate=False)
        return divergence_loss(draft_logits, target_logits, "tv", labels=labels, mask=mask, options=opts)
    log_alpha = log_acceptance_rate(draft_logits, target_logits, temperature=opts.temperature,
                                    chunk_size=opts.chunk_size)
    lead = tuple(draft_logits.shape[:-1])
    keep = kept(lead, log_alpha.device, labels, mask, opts.ignore_index)
    value = -log_alpha
    # a dropped position with α = 0 (+inf) must not turn the reduction into inf or its gradient into NaN
    value = torch.where(keep, value, torch.zeros_like(value))
    return reduce(value, keep, opts.reduction, lead)
