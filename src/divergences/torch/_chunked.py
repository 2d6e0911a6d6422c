r"""The chunked engine behind the token-level distillation losses.

One autograd function serves every divergence of the registry. Rows (tokens) are processed in
chunks; for each chunk the per-token loss *and* its gradient with respect to the logits are formed
at once, in float32 (float64 for float64 input), and written into a gradient buffer. Peak memory
is therefore one chunk's temporaries plus the gradient buffer, never a stack of (tokens × vocab)
intermediates as plain autograd would keep.

For a pointwise-separable divergence :math:`\ell = \sum_v \phi(a_v, b_v)` with ``a = log p``
(teacher) and ``b = log q`` (student), ``q = softmax(z / T)``:

.. math::  \partial \ell / \partial z = (g - q \textstyle\sum_v g_v) / T, \qquad g = \partial\phi/\partial b,

and likewise for the teacher logits with :math:`\partial\phi/\partial a` and ``p``. The pointwise
term and its derivatives come from the generator (:meth:`~divergences.generators.Pointwise.phi`,
:meth:`~divergences.generators.Pointwise.dphi`). A generator without closed-form derivative (a
user's ``f`` alone) and the registry's ``"function"`` divergences (Rényi, Bhattacharyya, ...) are
differentiated by autograd *within* each chunk, so they keep the same memory profile.

The gradient is computed in the forward pass, so double backward (``create_graph=True``) is not
supported by these losses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .. import registry
from .._backend import namespace
from ..generators import Pointwise

Tensor = torch.Tensor
#: kernel(student_chunk, teacher_chunks, need_student_grad, need_teacher_grad)
#:   -> (per-row loss (c,), grad of the student chunk or None, grad of teacher chunk 0 or None)
Kernel = Callable[[Tensor, Sequence[Tensor], bool, bool], tuple[Tensor, Tensor | None, Tensor | None]]

_REDUCTIONS = ("mean", "sum", "batchmean", "none")
_VOCAB_MODES = ("error", "crop", "pad")


def compute_dtype(*tensors: Tensor | None) -> torch.dtype:
    """float64 if any input is float64, else float32 (half precision is computed in float32)."""
    return torch.float64 if any(t is not None and t.dtype == torch.float64 for t in tensors) else torch.float32


def default_chunk_size(vocab: int, elements: int = 1 << 22) -> int:
    """Rows per chunk: about ``elements`` entries per (rows × vocab) temporary, at least 1 row."""
    return max(1, elements // max(int(vocab), 1))


def check_chunk_size(chunk_size: int | None, vocab: int, elements: int = 1 << 22) -> int:
    if chunk_size is None:
        return default_chunk_size(vocab, elements)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
    return chunk_size


def check_temperature(temperature: float) -> float:
    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be a finite positive number, got {temperature!r}")
    return t


# ---------------------------------------------------------------------------------------------
# the divergence: a generator (closed form or autograd) or a registry function
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Divergence:
    """A resolved divergence: a pointwise term, or a registry function of two logit arrays."""

    name: str
    generator: Pointwise | None = None
    function: Callable[..., Any] | None = None
    params: dict[str, Any] | None = None

    @property
    def closed_form(self) -> bool:
        return self.generator is not None and self.generator.has_closed_form_gradient


def resolve(divergence: Any, params: dict[str, Any]) -> Divergence:
    """A :class:`Divergence` from a registered name, a generator object or a callable ``f(t)``."""
    if isinstance(divergence, str):
        spec = registry.get(divergence)
        if spec.kind == "function":
            unknown = set(params) - set(spec.defaults)
            if unknown:
                raise ValueError(
                    f"divergence {divergence!r} takes no parameter(s) {sorted(unknown)}; "
                    f"its parameters are {sorted(spec.defaults) or 'none'}"
                )
            return Divergence(divergence, function=spec.function, params=dict(params))
        return Divergence(divergence, generator=spec.generator(**params))
    if divergence is None:
        raise ValueError("divergence must be a registered name, a generator or a callable f(t), got None")
    gen = registry.get_generator(divergence, **params)
    return Divergence(getattr(gen, "name", "custom"), generator=gen)


# ---------------------------------------------------------------------------------------------
# per-chunk kernels
# ---------------------------------------------------------------------------------------------


def _softmax_grad(g: Tensor, logp: Tensor, scale: float) -> Tensor:
    """(g − softmax · Σg) · scale: the gradient through log-softmax, from g = ∂ℓ/∂(log-probs)."""
    out = torch.addcmul(g, torch.exp(logp), g.sum(dim=-1, keepdim=True), value=-1.0)
    return out.mul_(scale) if scale != 1.0 else out


def _log_probs(z: Tensor, temperature: float, dtype: torch.dtype) -> Tensor:
    z = z.to(dtype)
    if temperature != 1.0:
        z = z / temperature
    return torch.log_softmax(z, dim=-1)


def dense_kernel(div: Divergence, temperature: float, scale: float) -> Kernel:
    """Kernel for a dense teacher (logits of the same width as the student's chunk).

    Per row: ``scale · D(softmax(t/T) ‖ softmax(z/T))`` and its gradients.
    """
    gen = div.generator

    def closed(z: Tensor, teacher: Sequence[Tensor], need_z: bool, need_t: bool):
        dtype = compute_dtype(z, teacher[0])
        b = _log_probs(z, temperature, dtype)
        a = _log_probs(teacher[0], temperature, dtype)
        xp = namespace(a)
        need = need_z or need_t
        # the masked (boundary-aware) forms only where a -inf log-probability occurs
        if bool(b.amin() == -math.inf) or bool(a.amin() == -math.inf):
            terms = gen.phi(a, b)
            da, db = gen.dphi(a, b) if need else (None, None)
        elif need:  # interior: term and derivatives in one pass over the shared work
            terms, da, db = gen._phi_dphi(a, b, xp)
        else:
            terms, da, db = gen._phi(a, b, xp), None, None
        loss = terms.sum(dim=-1)
        gz = gt = None
        if need_z:
            gz = _softmax_grad(db, b, scale / temperature)
        if need_t:
            gt = _softmax_grad(da, a, scale / temperature)
        return loss * scale if scale != 1.0 else loss, gz, gt

    def row_loss(z: Tensor, t: Tensor) -> Tensor:
        if gen is not None:
            return gen.phi(_log_probs(t, temperature, z.dtype), _log_probs(z, temperature, z.dtype)).sum(dim=-1)
        return div.function(t / temperature, z / temperature, from_logits=True, validate=False, axis=-1,
                            **(div.params or {}))

    if div.closed_form:
        return cache_blocked(closed)
    return autograd_kernel(row_loss, scale)


#: elements per block of the elementwise work inside a chunk: 2**17 float32 (512 KiB per
#: temporary) keeps a block's dozen temporaries near the CPU cache; measured on 2048 × 32000 JSD
#: forward + backward, blocks of 2**17 run about 1.6× faster than blocks of 2**22.
BLOCK_ELEMENTS = 1 << 17


def cache_blocked(kernel: Kernel, elements: int = BLOCK_ELEMENTS) -> Kernel:
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


def add_hard_term(kernel: Kernel, hard_weight: float) -> Kernel:
    """Kernel plus ``hard_weight`` · cross-entropy of the student (temperature 1) on the labels.

    The labels travel as the last teacher tensor of the chunk.
    """
    if hard_weight == 0.0:
        return kernel

    def with_hard(z: Tensor, teacher: Sequence[Tensor], need_z: bool, need_t: bool):
        *rest, labels = teacher
        loss, gz, gt = kernel(z, rest, need_z, need_t)
        logp = torch.log_softmax(z.to(loss.dtype), dim=-1)
        ce = -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        loss = loss + hard_weight * ce
        if need_z:
            g = torch.exp(logp).mul_(hard_weight)
            g.scatter_add_(-1, labels.unsqueeze(-1), torch.full_like(ce, -hard_weight).unsqueeze(-1))
            gz = g if gz is None else gz.add_(g)
        return loss, gz, gt

    return with_hard


# ---------------------------------------------------------------------------------------------
# vocabulary alignment
# ---------------------------------------------------------------------------------------------


def check_vocab(student_vocab: int, teacher_vocab: int, vocab_mismatch: str) -> None:
    if vocab_mismatch not in _VOCAB_MODES:
        raise ValueError(f"vocab_mismatch must be one of {_VOCAB_MODES}, got {vocab_mismatch!r}")
    if student_vocab != teacher_vocab and vocab_mismatch == "error":
        raise ValueError(
            f"vocabulary mismatch: student logits have {student_vocab} entries on the last axis, teacher logits "
            f"{teacher_vocab}; pass vocab_mismatch='crop' (compare the first {min(student_vocab, teacher_vocab)} "
            f"entries of both) or 'pad' (give the shorter side's extra entries probability 0)"
        )


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


# ---------------------------------------------------------------------------------------------
# which tokens count, and how the reduction weighs them
# ---------------------------------------------------------------------------------------------


@dataclass
class TokenPlan:
    """Kept rows (``rows``: indices into the flattened tokens, None for all) and their coefficients.

    ``coef[i]`` multiplies the loss of kept row ``rows[i]`` in the reduced loss (None for
    ``reduction="none"``, where the per-token losses are returned).
    """

    n_tokens: int
    rows: Tensor | None
    coef: Tensor | None
    labels: Tensor | None  # flattened labels (int64), or None
    token_weights: Tensor | None  # flattened weights for reduction="none"


def plan_tokens(
    lead_shape: tuple[int, ...],
    *,
    labels: Tensor | None,
    ignore_index: int,
    mask: Tensor | None,
    weights: Tensor | None,
    reduction: str,
    device: torch.device,
    dtype: torch.dtype,
) -> TokenPlan:
    """Resolve ``labels``/``mask``/``weights``/``reduction`` for tokens of shape ``lead_shape``.

    Divisors: ``mean`` divides the (weighted) sum by the number of kept tokens; ``sum`` does not
    divide; ``batchmean`` divides by ``lead_shape[0]`` (the batch size; the token count for 2-D
    input). With no kept token the result is 0.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    n = math.prod(lead_shape)
    keep = None
    flat_labels = None
    if labels is not None:
        if tuple(labels.shape) != lead_shape:
            raise ValueError(f"labels must have shape {lead_shape} (the logits without the vocabulary axis), "
                             f"got {tuple(labels.shape)}")
        if labels.is_floating_point() or labels.dtype == torch.bool:
            raise ValueError(f"labels must be an integer tensor, got {labels.dtype}")
        flat_labels = labels.reshape(n).to(device=device, dtype=torch.long)
        keep = flat_labels != ignore_index
    if mask is not None:
        mask = torch.as_tensor(mask, device=device)
        if tuple(mask.shape) != lead_shape:
            raise ValueError(f"mask must have shape {lead_shape}, got {tuple(mask.shape)}")
        m = mask.reshape(n).to(torch.bool)
        keep = m if keep is None else keep & m
    w = None
    if weights is not None:
        weights = torch.as_tensor(weights, device=device)
        if tuple(weights.shape) != lead_shape:
            raise ValueError(f"weights must have shape {lead_shape}, got {tuple(weights.shape)}")
        w = weights.detach().reshape(n).to(dtype)
    rows = None if keep is None else torch.nonzero(keep, as_tuple=False).squeeze(-1)
    n_kept = n if rows is None else int(rows.numel())
    if reduction == "none":
        return TokenPlan(n, rows, None, flat_labels, w)
    coef = torch.ones(n_kept, device=device, dtype=dtype) if w is None else (w if rows is None else w[rows])
    if reduction == "mean":
        coef = coef / max(n_kept, 1)
    elif reduction == "batchmean":
        coef = coef / max(lead_shape[0] if lead_shape else 1, 1)
    return TokenPlan(n, rows, coef, flat_labels, None)


# ---------------------------------------------------------------------------------------------
# the autograd function
# ---------------------------------------------------------------------------------------------


@dataclass
class _Config:
    kernel: Kernel
    rows: Tensor | None
    coef: Tensor | None
    chunk_size: int
    n_teacher: int  # how many teacher tensors follow the student in apply()


class _ChunkedRows(torch.autograd.Function):
    """loss = Σ_i coef_i ℓ_i (scalar) or the vector of ℓ_i, with gradients formed in forward."""

    @staticmethod
    def forward(ctx, cfg: _Config, student: Tensor, *teacher: Tensor) -> Tensor:  # type: ignore[override]
        n = student.shape[0]
        need_z = student.requires_grad
        need_t = bool(teacher) and teacher[0].is_floating_point() and teacher[0].requires_grad
        dtype = compute_dtype(student, *[t for t in teacher if t.is_floating_point()])
        rows = cfg.rows
        n_kept = n if rows is None else rows.numel()
        # every row is written when all rows are kept; otherwise dropped rows keep a zero gradient
        alloc = torch.empty_like if rows is None else torch.zeros_like
        gz = alloc(student) if need_z else None
        gt = alloc(teacher[0]) if need_t else None
        per_row = torch.zeros(n, dtype=dtype, device=student.device) if cfg.coef is None else None
        total = torch.zeros((), dtype=dtype, device=student.device)
        for start in range(0, n_kept, cfg.chunk_size):
            stop = min(start + cfg.chunk_size, n_kept)
            if rows is None:
                idx = None
                zc = student[start:stop]
                tcs = [t[start:stop] for t in teacher]
            else:
                idx = rows[start:stop]
                zc = student.index_select(0, idx)
                tcs = [t.index_select(0, idx) for t in teacher]
            coef = None if cfg.coef is None else cfg.coef[start:stop].to(dtype).unsqueeze(-1)
            loss, g_z, g_t = cfg.kernel(zc, tcs, need_z, need_t)
            if coef is None:
                if idx is None:
                    per_row[start:stop] = loss
                else:
                    per_row.index_copy_(0, idx, loss)
            else:
                total = total + (loss * coef.squeeze(-1)).sum()
            for buf, g in ((gz, g_z), (gt, g_t)):
                if buf is None:
                    continue
                if idx is None and coef is not None and g.dtype == buf.dtype:
                    torch.mul(g, coef, out=buf[start:stop])
                    continue
                if coef is not None:
                    g = g.mul_(coef)
                if idx is None:
                    buf[start:stop] = g
                else:
                    buf.index_copy_(0, idx, g.to(buf.dtype))
        ctx.save_for_backward(gz, gt)
        ctx.n_teacher = len(teacher)
        ctx.per_row = cfg.coef is None
        return per_row if cfg.coef is None else total

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        gz, gt = ctx.saved_tensors
        out = []
        for g in (gz, gt):
            if g is None:
                out.append(None)
            elif ctx.per_row:
                out.append(g * grad_out.to(g.dtype).unsqueeze(-1))
            elif grad_out.numel() == 1 and float(grad_out.detach()) == 1.0:
                out.append(g)
            else:
                out.append(g * grad_out.to(g.dtype))
        teacher_grads = [out[1]] + [None] * (ctx.n_teacher - 1) if ctx.n_teacher else []
        return (None, out[0], *teacher_grads)


def run_chunked(
    kernel: Kernel,
    student: Tensor,
    teacher: Sequence[Tensor],
    plan: TokenPlan,
    chunk_size: int,
) -> Tensor:
    """Apply the chunked function to flattened (tokens, vocab) student logits and teacher tensors."""
    cfg = _Config(kernel, plan.rows, plan.coef, chunk_size, len(teacher))
    return _ChunkedRows.apply(cfg, student, *teacher)
