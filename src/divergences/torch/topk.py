r"""Distillation from a sparse (top-k) teacher, as offline distillation datasets store it.

The teacher is known only through its k largest log-probabilities and their vocabulary indices. Both
distributions are compared on k + 1 buckets: the k kept entries, and one *tail* bucket holding the
rest of the mass (the teacher's tail 1 − Σ_k p, the student's tail 1 − Σ_k q over the same indices).
This is exact for any divergence (a coarsening of the vocabulary), so by the data-processing
inequality the top-k value is a lower bound of the full-vocabulary f-divergence.

The teacher's tail 1 − Σ_k p is formed with a rounding error of about k·ε of the compute dtype; a tail
below that counts as exactly zero, like the student's tail at k = V (empty), so that k = V gives the
dense loss (instead of +inf from a tail of 1e-16 against an exact 0).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal, overload

import torch

from . import _setup
from ._agreement import Agreement
from ._checks import check_logits_tensor, check_not_meta, require, scan_logits
from ._divergence import DivergenceArg, Resolved
from ._engine import LOCAL, Comm, DenseRows, compute_dtype, run
from ._kernels import add_hard_term, autograd_kernel, finite_gradients, local_index
from ._keywords import keywords_checked
from ._setup import LossParts
from .options import LossKeywords, check_options

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["topk_divergence_loss"]

Tensor = torch.Tensor


def teacher_tail_log(logp_k: Tensor) -> Tensor:
    """log(1 − Σ_k p) from the top-k log-probabilities, -inf (zero) below the rounding level k·ε."""
    s = torch.logsumexp(logp_k, dim=-1, keepdim=True).clamp(max=0.0)
    tail = torch.log(-torch.expm1(s))
    floor = math.log(logp_k.shape[-1] * torch.finfo(logp_k.dtype).eps)
    return torch.where(tail < floor, torch.full_like(tail, -math.inf), tail)


def _buckets(z: Tensor, logp_k: Tensor, idx: Tensor, temperature: float, comm: Comm):
    """Student log-probs over the (local) vocabulary, the local columns of the k indices, and the
    teacher/student log-probs over the k + 1 buckets (replicated on every rank)."""
    (b,) = comm.log_softmax(z, temperature=temperature)
    width = b.shape[-1]
    li, inside = local_index(idx, comm, width)
    if inside is None:
        bk = b.gather(-1, li)
        rest = b.scatter(-1, li, -math.inf)
    else:
        ext = torch.cat([b, b.new_full((b.shape[0], 1), -math.inf)], dim=-1)
        bk = comm.combine(torch.where(inside, ext.gather(-1, li), torch.zeros((), dtype=b.dtype, device=b.device)))
        rest = ext.scatter(-1, li, -math.inf)[:, :width]
    b_tail = comm.logsumexp(rest)
    a = torch.cat([logp_k, teacher_tail_log(logp_k)], dim=-1)
    bb = torch.cat([bk, b_tail], dim=-1)
    return b, li, inside, a, bb


def _refuse_vectors(div: Resolved) -> None:
    if div.kind == "vectors":
        raise ValueError(f"divergence {div.name!r} compares raw vectors (inputs='vectors'), so it needs dense teacher "
                         "logits, not a top-k teacher")


def _topk_kernel(div: Resolved, temperature: float, scale: float, comm: Comm = LOCAL):
    gen: Any = div.generator

    def closed(z: Tensor, teacher, need_z: bool, need_t: bool):
        logp_k, idx = teacher[0], teacher[1]
        dtype = compute_dtype(z, logp_k)
        b, li, inside, a, bb = _buckets(z.to(dtype), logp_k.to(dtype), idx, temperature, comm)
        if not need_z:
            return gen.phi(a, bb).sum(dim=-1) * scale, None, None
        terms, _, db = gen.phi_dphi(a, bb)
        loss = terms.sum(dim=-1) * scale
        total = db.sum(dim=-1, keepdim=True)
        b_tail = bb[..., -1:]
        finite = torch.isfinite(b_tail)
        d_tail = torch.where(finite, db[..., -1:], torch.zeros_like(b_tail))
        # entries outside the top-k: q_u (d_tail / q_tail − Σg), with q_u / q_tail = exp(b_u − b_tail) ≤ 1
        shift = torch.where(finite, b_tail, torch.zeros_like(b_tail))
        gz = torch.exp(b - shift).mul_(d_tail).sub_(torch.exp(b).mul_(total))
        # entries in the top-k: g_j − q_j Σg
        inner = db[..., :-1] - torch.exp(bb[..., :-1]) * total
        if inside is None:
            gz.scatter_(-1, li, inner)
        else:
            gz = torch.cat([gz, gz.new_zeros(gz.shape[0], 1)], dim=-1).scatter_(-1, li, inner)[:, :-1]
        return loss, gz.mul_(scale / temperature), None

    def row_loss(z: Tensor, logp_k: Tensor, idx: Tensor) -> Tensor:
        _, _, _, a, bb = _buckets(z, logp_k, idx, temperature, LOCAL)
        return div.rows(a, bb, LOCAL)

    _refuse_vectors(div)
    if div.closed_form and div.generator is not None:
        return finite_gradients(closed, div)
    if comm.parallel:
        def parallel_row_loss(z: Tensor, logp_k: Tensor, idx: Tensor) -> Tensor:
            _, _, _, a, bb = _buckets(z, logp_k, idx, temperature, comm)
            # the k + 1 buckets are replicated on every rank: evaluate them locally
            return div.rows(a, bb, LOCAL)
        return finite_gradients(autograd_kernel(parallel_row_loss, scale, n_teacher_grads=0), div)
    return finite_gradients(autograd_kernel(row_loss, scale, n_teacher_grads=0), div)


def _check_topk_local(logp: Any, idx: Any, lead: tuple[int, ...]) -> None:
    """Types and shapes of the top-k teacher (no vocabulary needed)."""
    if not isinstance(logp, torch.Tensor) or not logp.is_floating_point():
        raise ValueError("teacher_topk_logprobs must be a floating tensor of log-probabilities")
    if not isinstance(idx, torch.Tensor) or idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise ValueError("teacher_topk_indices must be an integer tensor")
    if tuple(logp.shape) != tuple(idx.shape) or tuple(logp.shape[:-1]) != lead:
        raise ValueError(f"teacher_topk_logprobs and teacher_topk_indices must both have shape {lead} + (k,), "
                         f"got {tuple(logp.shape)} and {tuple(idx.shape)}")
    if logp.shape[-1] == 0:
        raise ValueError("k (the last axis of the top-k tensors) must be at least 1, got 0")
    check_not_meta(logp, "teacher_topk_logprobs")
    check_not_meta(idx, "teacher_topk_indices")


def check_topk(logp: Any, idx: Any, lead: tuple[int, ...], vocab: int) -> None:
    _check_topk_local(logp, idx, lead)
    k = logp.shape[-1]
    if k > vocab:
        raise ValueError(f"k (the last axis of the top-k tensors) must lie in [1, {vocab}], got {k}")
    if idx.numel():  # host reads eagerly, asynchronous assertions under torch.compile
        require(((idx >= 0) & (idx < vocab)).all(),
                f"teacher_topk_indices must lie in [0, {vocab}) (the student vocabulary)")
        if k > 1:
            s = torch.sort(idx, dim=-1).values
            require(~(s[..., 1:] == s[..., :-1]).any(), "teacher_topk_indices must be distinct within each token")
        require(~(torch.isnan(logp) | (logp > 0)).any(), "teacher_topk_logprobs must be log-probabilities (≤ 0, no NaN)")
        mass = torch.logsumexp(logp.to(compute_dtype(logp)), dim=-1)
        tol = 1e-6 if logp.dtype == torch.float64 else 1e-3
        require(~(mass > math.log1p(tol)).any(),
                f"the top-k teacher probabilities of a token sum to more than 1 (tolerance {tol})")
        # k log-probabilities of -inf are a valid teacher: all its mass is in the tail bucket (padded
        # positions of a teacher cache look like this, and are dropped by labels / mask anyway)


@overload
def topk_divergence_loss(student_logits: Tensor, teacher_topk_logprobs: Tensor, teacher_topk_indices: Tensor,
                         divergence: DivergenceArg = ..., *,
                         return_parts: Literal[False] = ..., **keywords: Unpack[LossKeywords]) -> Tensor: ...


@overload
def topk_divergence_loss(student_logits: Tensor, teacher_topk_logprobs: Tensor, teacher_topk_indices: Tensor,
                         divergence: DivergenceArg = ..., *,
                         return_parts: Literal[True], **keywords: Unpack[LossKeywords]) -> LossParts: ...


@overload
def topk_divergence_loss(student_logits: Tensor, teacher_topk_logprobs: Tensor, teacher_topk_indices: Tensor,
                         divergence: DivergenceArg = ..., *,
                         return_parts: bool, **keywords: Unpack[LossKeywords]) -> Tensor | LossParts: ...


@keywords_checked()
def topk_divergence_loss(student_logits: Tensor, teacher_topk_logprobs: Tensor, teacher_topk_indices: Tensor,
                         divergence: DivergenceArg = "kl", *, return_parts: bool = False,
                         **keywords: Unpack[LossKeywords]) -> Tensor | LossParts:
    r"""D(teacher ‖ student) on the teacher's top-k entries plus one tail bucket.

    Per token, with ``K`` the k indices, ``p_j = exp(teacher_topk_logprobs_j)`` and ``q = softmax(z/T)``:
    the teacher is (p_1, …, p_k, 1 − Σ_j p_j) and the student (q_{K_1}, …, q_{K_k}, 1 − Σ_j q_{K_j}); the
    divergence is taken between these (k + 1)-bucket distributions. The tail is formed in log space
    (log(−expm1(logsumexp))), so no mass is lost to rounding; a teacher tail below the rounding level
    k·ε counts as zero (k = V then equals the dense loss). ``temperature`` applies to the student
    logits only; the teacher's log-probabilities are used as given (store them at the temperature you
    distil at). Options, reductions and the hard-label term are those of
    :func:`~divergences.torch.divergence_loss` (``options.vocab_mismatch``, ``softcap`` and ``logit_scale``
    do not apply).

    :param student_logits: (..., V) the student's logits.
    :param teacher_topk_logprobs: (..., k) the teacher's k largest log-probabilities (≤ 0; their probabilities
        sum to at most 1, tolerance 1e-3, 1e-6 in float64).
    :param teacher_topk_indices: (..., k) their vocabulary indices, distinct within a token, in [0, V).
    :param divergence: as :func:`~divergences.torch.divergence_loss` takes it; raw-vector records (cosine) need
        dense teacher logits and are refused.
    :param keywords: the keywords every token loss shares (:class:`~divergences.torch.LossKeywords`; any other
        key is a TypeError naming it):

        - ``labels``: as :func:`~divergences.torch.divergence_loss`.
        - ``mask``: as :func:`~divergences.torch.divergence_loss`.
        - ``weights``: as :func:`~divergences.torch.divergence_loss`.
        - ``options``: a :class:`~divergences.torch.DistillOptions`.
        - ``num_items_in_batch``: as :func:`~divergences.torch.divergence_loss`.
        - ``process_group``: the student logits are a vocabulary shard on each rank and the top-k (with *global*
          indices) is the same on every rank (see :func:`divergences.torch.distributed.vocab_parallel_topk` to
          form it from sharded teacher logits).
    :param return_parts: return :class:`~divergences.torch.LossParts` ``(loss, soft, hard)``.
    :returns: the loss (or the parts), as :func:`~divergences.torch.divergence_loss`.
    :raises ValueError: for bad tensors, options or divergence, naming the argument.
    :raises TypeError: for a removed keyword spelling, naming the new one.

    >>> import torch
    >>> from divergences.torch import topk_divergence_loss, divergence_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> t = torch.randn(3, 10, dtype=torch.float64, generator=g); s = torch.randn(3, 10, dtype=torch.float64, generator=g)
    >>> lp, ix = t.log_softmax(-1).topk(10)          # k = V: the full teacher (empty tail)
    >>> bool(torch.isclose(topk_divergence_loss(s, lp, ix, "kl"), divergence_loss(s, t, "kl")))
    True
    """
    batch, options, process_group = _setup.read_keywords(keywords)
    (student_logits,), process_group = _setup.local_shards(process_group, student_logits)
    # the local checks; on a vocab-parallel group every rank's call is then compared (one collective)
    with Agreement(process_group, _setup.device_of(student_logits)) as call:
        opts = check_options(options)
        check_logits_tensor(student_logits, "student_logits")
        lead = tuple(student_logits.shape[:-1])
        width = student_logits.shape[-1]
        _check_topk_local(teacher_topk_logprobs, teacher_topk_indices, lead)
        device = student_logits.device
        _setup.check_options_apply(opts, "topk_divergence_loss", None if process_group is not None else width)
        st = _setup.plan_call(lead, device, compute_dtype(student_logits, teacher_topk_logprobs), divergence, opts,
                              batch, return_parts)
        _refuse_vectors(st.div)
        _setup.describe_call(call, "topk_divergence_loss", lead, {"student_logits": student_logits,
                             "teacher_topk_logprobs": teacher_topk_logprobs}, opts, st, batch,
                             teacher={"teacher_topk_logprobs": teacher_topk_logprobs,
                                      "teacher_topk_indices": teacher_topk_indices},
                             k=teacher_topk_indices.shape[-1], widths=(width,))
    comm = _setup.comm_from(call, ["student_logits"], opts)
    vocab = comm.global_width(width)
    check_topk(teacher_topk_logprobs, teacher_topk_indices, lead, vocab)  # the same data on every rank
    if opts.validate:
        scan_logits([("student_logits", student_logits)], comm)
    _setup.complete(st, comm, vocab, device)
    kernel = add_hard_term(_topk_kernel(st.div, opts.temperature, st.scale, comm), st.hard, comm=comm)
    k = teacher_topk_indices.shape[-1]
    teacher = [DenseRows(teacher_topk_logprobs.detach().reshape(-1, k)),
               *_setup.teacher_rows(DenseRows(teacher_topk_indices.reshape(-1, k).long()), st)]
    out, parts = run(kernel, DenseRows(student_logits.reshape(-1, width)), teacher, st.plan, st.chunk, comm=comm)
    return _setup.finish(out, parts, st, lead)
