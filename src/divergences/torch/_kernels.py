r"""Per-chunk kernels of the chunk engine: the loss of a chunk of rows and its gradient, at once.

For a pointwise-separable divergence :math:`\ell = \sum_v \phi(a_v, b_v)` with ``a = log p``
(teacher) and ``b = log q`` (student), ``q = softmax(z / T)``:

.. math::  \partial \ell / \partial z = (g - q \textstyle\sum_v g_v) / T, \qquad g = \partial\phi/\partial b,

and likewise for the teacher logits with :math:`\partial\phi/\partial a` and ``p``. The term and its
derivatives come from the generator: the boundary-aware :meth:`~divergences.core.terms.Pointwise.phi_dphi`
(``-inf`` log-probabilities handled by masking, no data-dependent branch) when the call's inputs hold a
``-inf`` or were not validated, the interior form otherwise (decided once per call). A generator without
closed-form derivative and the registry's ``"function"`` divergences (Rényi, Bhattacharyya,
Cauchy–Schwarz) are differentiated by autograd *within* each chunk. Every reduction over the
vocabulary goes through a ``comm`` object (:class:`~._engine.LocalComm`, or the vocab-parallel one of
:mod:`.distributed`), so the same kernels serve sharded vocabularies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import array_api_compat
import torch

from ._divergence import Resolved
from ._engine import LOCAL, Comm, Kernel, compute_dtype

Tensor = torch.Tensor
_XP = array_api_compat.array_namespace(torch.empty(0))


def _through_softmax(g: Tensor, logp: Tensor, total: Tensor, scale: float) -> Tensor:
    """(g − softmax · Σg) · scale: the gradient through log-softmax, from g = ∂ℓ/∂(log-probs)."""
    out = torch.addcmul(g, torch.exp(logp), total.unsqueeze(-1), value=-1.0)
    return out.mul_(scale) if scale != 1.0 else out


def pointwise_terms(gen: Any, a: Tensor, b: Tensor, need: bool, masked: bool) -> tuple[Tensor, Any, Any]:
    """(terms, ∂/∂a, ∂/∂b) of a generator: masked (boundary-aware, branch-free) or interior form."""
    if masked:
        if need:
            return gen.phi_dphi(a, b)
        return gen.phi(a, b), None, None
    if need:
        return gen._phi_dphi(a, b, _XP)
    return gen._phi(a, b, _XP), None, None


def dense_kernel(div: Resolved, temperature: float, scale: float, *, comm: Comm = LOCAL,
                 masked: bool = True, block: int | None = None) -> Kernel:
    """Kernel for a dense teacher (logits of the same width as the student's chunk).

    Per row: ``scale · D(softmax(t/T) ‖ softmax(z/T))`` and its gradients.
    """
    if div.kind == "vectors":  # raw vectors compared by direction: the cosine distance
        return cosine_kernel(scale, comm=comm)
    gen = div.generator

    def closed(z: Tensor, teacher: Sequence[Tensor], need_z: bool, need_t: bool):
        dtype = compute_dtype(z, teacher[0])
        b, a = comm.log_softmax(z.to(dtype), teacher[0].to(dtype), temperature=temperature)
        terms, da, db = pointwise_terms(gen, a, b, need_z or need_t, masked)
        sums = comm.row_sums(terms, *([db] if need_z else []), *([da] if need_t else []))
        loss = sums[0]
        gz = _through_softmax(db, b, sums[1], scale / temperature) if need_z else None
        gt = _through_softmax(da, a, sums[-1], scale / temperature) if need_t else None
        return (loss * scale if scale != 1.0 else loss), gz, gt

    def row_loss(z: Tensor, t: Tensor) -> Tensor:
        b, a = comm.log_softmax(z, t, temperature=temperature)
        return div.rows(a, b, comm)

    row_dphi = div.row_dphi

    def closed_rows(z: Tensor, teacher: Sequence[Tensor], need_z: bool, need_t: bool):
        assert row_dphi is not None  # chosen below only when the divergence gives it
        dtype = compute_dtype(z, teacher[0])
        b, a = comm.log_softmax(z.to(dtype), teacher[0].to(dtype), temperature=temperature)
        loss, da, db = row_dphi(a, b, comm, masked)
        sums = comm.row_sums(*([db] if need_z else []), *([da] if need_t else []))
        gz = _through_softmax(db, b, sums[0], scale / temperature) if need_z else None
        gt = _through_softmax(da, a, sums[-1], scale / temperature) if need_t else None
        return (loss * scale if scale != 1.0 else loss), gz, gt

    if div.row_dphi is not None:
        kernel = closed_rows if block is None or comm.parallel else cache_blocked(closed_rows, block)
    elif div.closed_form:
        kernel = closed if block is None or comm.parallel else cache_blocked(closed, block)
    else:
        kernel = autograd_kernel(row_loss, scale)
    return finite_gradients(kernel, div)


def finite_gradients(kernel: Kernel, div: Resolved) -> Kernel:
    """Gradients that are never NaN: 0 on a token whose loss overflowed to +inf (χ² at logits of ±1e4,
    T → 0), and NaN entries of other tokens set to 0. Divergences that cannot overflow skip the pass."""
    if div.generator is not None and div.generator.bounded_gradient:  # the term's fact: no overflow
        return kernel

    def clean(g: Tensor | None, ok: Tensor) -> Tensor | None:
        if g is None:
            return None
        return torch.where(ok, g, torch.zeros((), dtype=g.dtype, device=g.device)).nan_to_num_(nan=0.0)

    def wrapped(z: Tensor, teacher: Sequence[Tensor], need_z: bool, need_t: bool):
        loss, gz, gt = kernel(z, teacher, need_z, need_t)
        if gz is None and gt is None:
            return loss, gz, gt
        ok = torch.isfinite(loss if loss.ndim == 1 else loss.sum(-1)).unsqueeze(-1)
        return loss, clean(gz, ok), clean(gt, ok)

    return wrapped


def cosine_kernel(scale: float, *, comm: Comm = LOCAL) -> Kernel:
    r"""Per row ``scale · (1 − cos(z, t))``, cos = z·t / (max(‖z‖, ε) max(‖t‖, ε)), ε = 1e-8 (as
    ``torch.nn.functional.cosine_similarity``); gradient ``−scale (t/(‖z‖‖t‖) − cos · z/‖z‖²)``. The value
    is formed as ½‖ẑ − t̂‖² (unit vectors), so equal directions give exactly 0, never a rounding residue."""

    def kernel(z: Tensor, teacher: Sequence[Tensor], need_z: bool, need_t: bool):
        dtype = compute_dtype(z, teacher[0])
        zf, tf = z.to(dtype), teacher[0].to(dtype)
        dot, zz, tt = comm.row_sums(zf * tf, zf * zf, tf * tf)
        nz, nt = zz.sqrt().clamp_min(1e-8), tt.sqrt().clamp_min(1e-8)
        cos = (dot / (nz * nt)).clamp(-1.0, 1.0)
        # 1 − cos as ½‖z/‖z‖ − t/‖t‖‖² where both are non-zero: exactly 0 for equal directions
        (half_sq,) = comm.row_sums(torch.square(zf / nz.unsqueeze(-1) - tf / nt.unsqueeze(-1)))
        loss = torch.where((zz.sqrt() > 1e-8) & (tt.sqrt() > 1e-8), 0.5 * half_sq, 1 - cos) * scale
        gz = gt = None
        if need_z:
            gz = (zf * (cos / (nz * nz)).unsqueeze(-1) - tf / (nz * nt).unsqueeze(-1)).mul_(scale)
        if need_t:
            gt = (tf * (cos / (nt * nt)).unsqueeze(-1) - zf / (nz * nt).unsqueeze(-1)).mul_(scale)
        return loss, gz, gt

    return kernel


def cache_blocked(kernel: Kernel, elements: int) -> Kernel:
    """Run ``kernel`` on blocks of about ``elements`` entries of the chunk, assembling its outputs.

    The chunk itself may be large (the fused loss wants large chunks for efficient matrix
    products); the elementwise work is cheaper in blocks that stay in cache. Every tensor passed
    as a teacher is row-aligned with the chunk (logits, labels, top-k arrays), so blocks slice rows.
    """

    def run(z: Tensor, teacher: Sequence[Tensor], need_z: bool, need_t: bool):
        n = z.shape[0]
        rows = max(1, elements // max(1, z.shape[-1]))
        if n <= rows:
            return kernel(z, teacher, need_z, need_t)
        losses, gz, gt = [], None, None
        for s in range(0, n, rows):
            loss, g_z, g_t = kernel(z[s : s + rows], [t[s : s + rows] for t in teacher], need_z, need_t)
            losses.append(loss)
            if g_z is not None:
                gz = g_z.new_empty((n, *g_z.shape[1:])) if gz is None else gz
                gz[s : s + rows] = g_z
            if g_t is not None:
                gt = g_t.new_empty((n, *g_t.shape[1:])) if gt is None else gt
                gt[s : s + rows] = g_t
        return torch.cat(losses), gz, gt

    return run


def autograd_kernel(row_loss: Callable[..., Tensor], scale: float, n_teacher_grads: int = 1) -> Kernel:
    """Kernel that differentiates ``row_loss(z, *teacher) -> (c,)`` by autograd within the chunk.

    Rows are independent, so the gradient of the chunk's sum is the stack of the per-row gradients.
    Only the first ``n_teacher_grads`` teacher tensors can receive a gradient.
    """

    def kernel(z: Tensor, teacher: Sequence[Tensor], need_z: bool, need_t: bool):
        dtype = compute_dtype(z, *[t for t in teacher if t.is_floating_point()])
        with torch.enable_grad():
            zc = z.detach().to(dtype).requires_grad_(need_z)
            tc = [t.detach().to(dtype) if t.is_floating_point() else t.detach() for t in teacher]
            if need_t and n_teacher_grads:
                tc[0] = tc[0].requires_grad_(True)
            loss = row_loss(zc, *tc) * scale
            inputs = ([zc] if need_z else []) + ([tc[0]] if need_t and n_teacher_grads else [])
            grads = list(torch.autograd.grad(loss.sum(), inputs)) if inputs else []
        gz = grads.pop(0) if need_z else None
        gt = grads.pop(0) if need_t and n_teacher_grads else None
        return loss.detach(), gz, gt

    return kernel


def local_index(idx: Tensor, comm: Comm, width: int) -> tuple[Tensor, Tensor | None]:
    """Global vocabulary indices → local column (``width``, a dummy column, off this shard), and the mask."""
    if not comm.parallel:
        return idx, None
    li = idx - comm.offset
    inside = (li >= 0) & (li < width)
    return torch.where(inside, li, torch.full_like(li, width)), inside


def add_hard_term(kernel: Kernel, hard_weight: float, *, comm: Comm = LOCAL) -> Kernel:
    """Kernel plus ``hard_weight`` · cross-entropy of the student (temperature 1) on the labels.

    The labels travel as the last teacher tensor of the chunk; the loss becomes (c, 2) = [soft, hard].
    """
    if hard_weight == 0.0:
        return kernel

    def with_hard(z: Tensor, teacher: Sequence[Tensor], need_z: bool, need_t: bool):
        *rest, labels = teacher
        loss, gz, gt = kernel(z, rest, need_z, need_t)
        width = z.shape[-1]
        (logp,) = comm.log_softmax(z.to(loss.dtype))
        li, inside = local_index(labels.unsqueeze(-1), comm, width)
        if inside is None:
            picked = logp.gather(-1, li)
        else:
            ext = torch.cat([logp, logp.new_zeros(logp.shape[0], 1)], dim=-1)
            picked = comm.combine(ext.gather(-1, li))
        ce = -picked.squeeze(-1)
        loss = torch.stack([loss, hard_weight * ce], dim=-1)
        if need_z:
            g = torch.exp(logp).mul_(hard_weight)
            minus = torch.full_like(ce, -hard_weight).unsqueeze(-1)
            if inside is None:
                g.scatter_add_(-1, li, minus)
            else:
                g = torch.cat([g, g.new_zeros(g.shape[0], 1)], dim=-1)
                g.scatter_add_(-1, li, minus)
                g = g[:, :width]
            gz = g if gz is None else gz.add_(g)
        return loss, gz, gt

    return with_hard


def aligned_kernel(kernel: Kernel, student_vocab: int, teacher_vocab: int, vocab_mismatch: str) -> Kernel:
    """Wrap a dense kernel so that student and teacher chunks of different widths are cropped or padded.

    ``crop`` keeps the first min(Vs, Vt) entries of both (both renormalised there); ``pad`` appends
    ``-inf`` logits (probability 0) to the narrower side. Gradients are mapped back to the original widths.
    """
    if student_vocab == teacher_vocab:
        return kernel
    width = min(student_vocab, teacher_vocab) if vocab_mismatch == "crop" else max(student_vocab, teacher_vocab)

    def fit(x: Tensor) -> Tensor:
        v = x.shape[-1]
        if v > width:
            return x[..., :width]
        if v < width:
            pad = x.new_full((*x.shape[:-1], width - v), -math.inf)
            return torch.cat([x, pad], dim=-1)
        return x

    def unfit(g: Tensor | None, v: int) -> Tensor | None:
        if g is None or g.shape[-1] == v:
            return g
        if g.shape[-1] > v:
            return g[..., :v]
        return torch.cat([g, g.new_zeros((*g.shape[:-1], v - g.shape[-1]))], dim=-1)

    def wrapped(z: Tensor, teacher: Sequence[Tensor], need_z: bool, need_t: bool):
        t0, *rest = teacher
        loss, gz, gt = kernel(fit(z), [fit(t0), *rest], need_z, need_t)
        return loss, unfit(gz, student_vocab), unfit(gt, teacher_vocab)

    return wrapped
