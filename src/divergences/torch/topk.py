r"""Distillation from a sparse (top-k) teacher, as offline distillation datasets store it.

The teacher is known only through its k largest log-probabilities and their vocabulary indices. Both
distributions are compared on k + 1 buckets: the k kept entries, and one *tail* bucket holding the
rest of the mass (the teacher's tail 1 − Σ_k p, the student's tail 1 − Σ_k q over the same indices).
This is exact for any divergence (a coarsening of the vocabulary), so by the data-processing
inequality the top-k value is a lower bound of the full-vocabulary f-divergence.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from . import _chunked as ck
from .losses import _check_logits, finish, prepare

__all__ = ["topk_divergence_loss"]

Tensor = torch.Tensor


def _tail_log(logp_k: Tensor) -> Tensor:
    """log(1 − Σ_k p) from the top-k log-probabilities: log(−expm1(logsumexp)), -inf if Σ_k p ≥ 1."""
    s = torch.logsumexp(logp_k, dim=-1, keepdim=True).clamp(max=0.0)
    return torch.log(-torch.expm1(s))


def _buckets(z: Tensor, logp_k: Tensor, idx: Tensor, temperature: float) -> tuple[Tensor, Tensor, Tensor]:
    """Student log-probs over the vocabulary, and teacher/student log-probs over the k + 1 buckets."""
    zf = z / temperature if temperature != 1.0 else z
    b = torch.log_softmax(zf, dim=-1)
    b_tail = torch.logsumexp(b.scatter(-1, idx, -math.inf), dim=-1, keepdim=True)
    a = torch.cat([logp_k, _tail_log(logp_k)], dim=-1)
    bb = torch.cat([b.gather(-1, idx), b_tail], dim=-1)
    return b, a, bb


def _topk_kernel(div: ck.Divergence, temperature: float, scale: float) -> ck.Kernel:
    gen = div.generator

    def closed(z: Tensor, teacher, need_z: bool, need_t: bool):
        logp_k, idx = teacher[0], teacher[1]
        dtype = ck.compute_dtype(z, logp_k)
        b, a, bb = _buckets(z.to(dtype), logp_k.to(dtype), idx, temperature)
        loss = gen.phi(a, bb).sum(dim=-1) * scale
        if not need_z:
            return loss, None, None
        _, db = gen.dphi(a, bb)
        total = db.sum(dim=-1, keepdim=True)
        b_tail = bb[..., -1:]
        finite = torch.isfinite(b_tail)
        d_tail = torch.where(finite, db[..., -1:], torch.zeros_like(b_tail))
        # entries outside the top-k: q_u (d_tail / q_tail − Σg), with q_u / q_tail = exp(b_u − b_tail) ≤ 1
        shift = torch.where(finite, b_tail, torch.zeros_like(b_tail))
        gz = torch.exp(b - shift).mul_(d_tail).sub_(torch.exp(b).mul_(total))
        # entries in the top-k: g_j − q_j Σg
        gz.scatter_(-1, idx, db[..., :-1] - torch.exp(bb[..., :-1]) * total)
        return loss, gz.mul_(scale / temperature), None

    def row_loss(z: Tensor, logp_k: Tensor, idx: Tensor) -> Tensor:
        _, a, bb = _buckets(z, logp_k, idx, temperature)
        if gen is not None:
            return gen.phi(a, bb).sum(dim=-1)
        return div.function(a, bb, from_logits=True, validate=False, axis=-1, **(div.params or {}))

    if div.closed_form:
        return closed
    return ck.autograd_kernel(row_loss, scale, n_teacher_grads=0)


def _check_topk(logp: Tensor, idx: Tensor, lead: tuple[int, ...], vocab: int) -> None:
    if not isinstance(logp, torch.Tensor) or not logp.is_floating_point():
        raise ValueError("teacher_topk_logprobs must be a floating tensor of log-probabilities")
    if not isinstance(idx, torch.Tensor) or idx.is_floating_point() or idx.dtype == torch.bool:
        raise ValueError("teacher_topk_indices must be an integer tensor")
    if tuple(logp.shape) != tuple(idx.shape) or tuple(logp.shape[:-1]) != lead:
        raise ValueError(f"teacher_topk_logprobs and teacher_topk_indices must both have shape {lead} + (k,), "
                         f"got {tuple(logp.shape)} and {tuple(idx.shape)}")
    k = logp.shape[-1]
    if k == 0 or k > vocab:
        raise ValueError(f"k (the last axis of the top-k tensors) must lie in [1, {vocab}], got {k}")
    if idx.numel():
        if int(idx.min()) < 0 or int(idx.max()) >= vocab:
            raise ValueError(f"teacher_topk_indices must lie in [0, {vocab}) (the student vocabulary)")
        s = torch.sort(idx, dim=-1).values
        if k > 1 and bool((s[..., 1:] == s[..., :-1]).any()):
            raise ValueError("teacher_topk_indices must be distinct within each token")
        if bool(torch.isnan(logp).any()) or bool((logp > 0).any()):
            raise ValueError("teacher_topk_logprobs must be log-probabilities (≤ 0, no NaN)")
        mass = torch.logsumexp(logp.to(ck.compute_dtype(logp)), dim=-1)
        tol = 1e-6 if logp.dtype == torch.float64 else 1e-3
        if bool((mass > math.log1p(tol)).any()):
            raise ValueError(f"the top-k teacher probabilities of a token sum to more than 1 (tolerance {tol})")


def topk_divergence_loss(
    student_logits: Tensor,
    teacher_topk_logprobs: Tensor,
    teacher_topk_indices: Tensor,
    divergence: Any = "kl",
    *,
    temperature: float = 1.0,
    labels: Tensor | None = None,
    ignore_index: int = -100,
    mask: Tensor | None = None,
    weights: Tensor | None = None,
    reduction: str = "mean",
    chunk_size: int | None = None,
    hard_weight: float = 0.0,
    soft_weight: float = 1.0,
    t_squared: bool = False,
    **params: Any,
) -> Tensor:
    r"""D(teacher ‖ student) on the teacher's top-k entries plus one tail bucket.

    Per token, with ``K`` the k indices, ``p_j = exp(teacher_topk_logprobs_j)`` and ``q = softmax(z/T)``:
    the teacher is (p_1, …, p_k, 1 − Σ_j p_j) and the student (q_{K_1}, …, q_{K_k}, 1 − Σ_j q_{K_j}); the
    divergence is taken between these (k + 1)-bucket distributions. The tail is formed in log space
    (log(−expm1(logsumexp))), so no mass is lost to rounding. ``temperature`` applies to the student
    logits only; the teacher's log-probabilities are used as given (store them at the temperature you
    distil at). Options, reductions and the hard-label term are those of
    :func:`~divergences.torch.divergence_loss`.

    Indices must be distinct within a token and lie in [0, V); the top-k probabilities must not sum to
    more than 1 (tolerance 1e-3, 1e-6 in float64).

    >>> import torch
    >>> from divergences.torch import topk_divergence_loss, divergence_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> t = torch.randn(3, 10, dtype=torch.float64, generator=g); s = torch.randn(3, 10, dtype=torch.float64, generator=g)
    >>> lp, ix = t.log_softmax(-1).topk(10)          # k = V: the full teacher (empty tail)
    >>> bool(torch.isclose(topk_divergence_loss(s, lp, ix, "kl"), divergence_loss(s, t, "kl")))
    True
    """
    _check_logits(student_logits, "student_logits")
    lead = tuple(student_logits.shape[:-1])
    vocab = student_logits.shape[-1]
    _check_topk(teacher_topk_logprobs, teacher_topk_indices, lead, vocab)
    chunk = ck.check_chunk_size(chunk_size, vocab)
    st = prepare(lead, vocab, student_logits.device, ck.compute_dtype(student_logits, teacher_topk_logprobs), divergence,
                 params, temperature=temperature, labels=labels, ignore_index=ignore_index, mask=mask, weights=weights,
                 reduction=reduction, soft_weight=soft_weight, hard_weight=hard_weight, t_squared=t_squared)
    kernel = ck.add_hard_term(_topk_kernel(st.div, st.temperature, st.scale), st.hard_weight)
    k = teacher_topk_indices.shape[-1]
    teacher = [teacher_topk_logprobs.detach().reshape(-1, k), teacher_topk_indices.reshape(-1, k).long()]
    if st.hard_weight != 0.0:
        teacher.append(st.plan.labels)
    out = ck.run_chunked(kernel, student_logits.reshape(-1, vocab), teacher, st.plan, chunk)
    return finish(out, st.plan, lead, reduction)
