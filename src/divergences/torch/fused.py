r"""Distillation loss fused with the student's LM head: never holds the (tokens × vocab) student logits.

Per chunk of tokens: logits ``z_c = h_c Wᵀ (+ b)``, the loss and ``∂ℓ/∂z_c`` (the same kernel as
:func:`divergences.torch.divergence_loss`), then ``∂ℓ/∂h_c = (∂ℓ/∂z_c) W``, ``∂ℓ/∂W += (∂ℓ/∂z_c)ᵀ h_c``
and ``∂ℓ/∂b += Σ_rows ∂ℓ/∂z_c``. The working memory is one chunk of logits and its temporaries; the
gradient buffers of the hidden states, the weight and the bias are the only full-size allocations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from . import _chunked as ck
from .losses import DistillModule, _check_logits, prepare

__all__ = ["FusedLinearDivergenceLoss", "fused_linear_divergence_loss"]

Tensor = torch.Tensor


@dataclass
class _FusedConfig:
    kernel: ck.Kernel
    rows: Tensor | None
    coef: Tensor
    chunk_size: int
    teacher_chunk: Callable[[int, int, Tensor | None], Tensor]
    labels: Tensor | None


def _take(x: Tensor, start: int, stop: int, idx: Tensor | None) -> Tensor:
    return x[start:stop] if idx is None else x.index_select(0, idx)


class _FusedLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cfg: _FusedConfig, hidden: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:  # type: ignore[override]
        need_h, need_w = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        need_b = bias is not None and ctx.needs_input_grad[3]
        n = hidden.shape[0]
        rows = cfg.rows
        n_kept = n if rows is None else rows.numel()
        # accumulate weight/bias gradients in float32 at least (half inputs would lose the small terms)
        acc = ck.compute_dtype(hidden, weight)
        gh = (torch.empty_like if rows is None else torch.zeros_like)(hidden) if need_h else None
        # written by the first chunk's product (no separate zero-fill of a vocab × hidden buffer)
        gw = torch.empty(weight.shape, dtype=acc, device=weight.device) if need_w else None
        gw_started = False
        gb = torch.zeros(bias.shape, dtype=acc, device=bias.device) if need_b else None
        total = torch.zeros((), dtype=acc, device=hidden.device)
        for start in range(0, n_kept, cfg.chunk_size):
            stop = min(start + cfg.chunk_size, n_kept)
            idx = None if rows is None else rows[start:stop]
            hc = _take(hidden, start, stop, idx)
            logits = torch.nn.functional.linear(hc, weight, bias)
            teacher = [cfg.teacher_chunk(start, stop, idx)]
            if cfg.labels is not None:
                teacher.append(_take(cfg.labels, start, stop, idx))
            loss, g, _ = cfg.kernel(logits, teacher, need_h or need_w or need_b, False)
            coef = cfg.coef[start:stop].to(loss.dtype)
            total = total + (loss * coef).sum()
            if g is None:
                continue
            # the per-token coefficients scale the small (tokens × hidden) factors, not the (tokens × vocab) g
            g = g.to(hidden.dtype)
            col = coef.unsqueeze(-1)
            if need_h:
                gh_c = (g @ weight).mul_(col.to(hidden.dtype))
                if idx is None:
                    gh[start:stop] = gh_c
                else:
                    gh.index_copy_(0, idx, gh_c)
            if need_w:
                hc_scaled = hc.to(acc) * col.to(acc)
                if gw_started:
                    gw.addmm_(g.t().to(acc), hc_scaled)
                else:
                    torch.mm(g.t().to(acc), hc_scaled, out=gw)
                    gw_started = True
            if need_b:
                gb.add_(coef.to(acc) @ g.to(acc))
        if gw is not None and not gw_started:  # no kept token
            gw.zero_()
        gw = gw.to(weight.dtype) if gw is not None else None
        gb = gb.to(bias.dtype) if gb is not None else None
        ctx.save_for_backward(gh, gw, gb)
        return total

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        scale_one = grad_out.numel() == 1 and float(grad_out.detach()) == 1.0
        grads = [g if g is None or scale_one else g * grad_out.to(g.dtype) for g in ctx.saved_tensors]
        return (None, *grads)


def fused_linear_divergence_loss(
    student_hidden: Tensor,
    lm_head_weight: Tensor,
    teacher_logits: Tensor | None = None,
    divergence: Any = "kl",
    *,
    teacher_hidden: Tensor | None = None,
    teacher_weight: Tensor | None = None,
    teacher_bias: Tensor | None = None,
    bias: Tensor | None = None,
    labels: Tensor | None = None,
    ignore_index: int = -100,
    mask: Tensor | None = None,
    weights: Tensor | None = None,
    temperature: float = 1.0,
    reduction: str = "mean",
    chunk_size: int | None = None,
    hard_weight: float = 0.0,
    soft_weight: float = 1.0,
    t_squared: bool = False,
    vocab_mismatch: str = "error",
    **params: Any,
) -> Tensor:
    r""":func:`~divergences.torch.divergence_loss` of the student logits ``h Wᵀ + b``, without forming them.

    Equal in value and gradients (hidden states, weight, bias) to
    ``divergence_loss(student_hidden @ lm_head_weight.T + bias, teacher_logits, divergence, ...)``.
    The teacher is given either as ``teacher_logits`` (..., Vt) or as ``teacher_hidden`` (..., Ht) with
    ``teacher_weight`` (Vt, Ht) (and optional ``teacher_bias``); its logits are then formed per chunk too.
    The teacher is a constant here (no gradient flows to it). Reductions: ``"mean"``, ``"sum"``,
    ``"batchmean"`` (see :func:`~divergences.torch.divergence_loss`); ``"none"`` is not available because
    the weight gradient is a sum over tokens formed in the forward pass.

    >>> import torch
    >>> from divergences.torch import fused_linear_divergence_loss, divergence_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> h = torch.randn(6, 8, dtype=torch.float64, generator=g, requires_grad=True)
    >>> W = torch.randn(20, 8, dtype=torch.float64, generator=g, requires_grad=True)
    >>> t = torch.randn(6, 20, dtype=torch.float64, generator=g)
    >>> fused = fused_linear_divergence_loss(h, W, t, "js", beta=0.5, chunk_size=4)
    >>> bool(torch.isclose(fused, divergence_loss(h @ W.T, t, "js", beta=0.5)))
    True
    """
    if not isinstance(student_hidden, torch.Tensor) or not student_hidden.is_floating_point():
        raise ValueError("student_hidden must be a floating torch.Tensor of shape (..., hidden)")
    if not isinstance(lm_head_weight, torch.Tensor) or lm_head_weight.ndim != 2:
        raise ValueError("lm_head_weight must be a 2-D tensor of shape (vocab, hidden)")
    if lm_head_weight.shape[1] != student_hidden.shape[-1]:
        raise ValueError(f"lm_head_weight has {lm_head_weight.shape[1]} columns but student_hidden has "
                         f"hidden size {student_hidden.shape[-1]}")
    if bias is not None and tuple(bias.shape) != (lm_head_weight.shape[0],):
        raise ValueError(f"bias must have shape ({lm_head_weight.shape[0]},), got {tuple(bias.shape)}")
    if reduction == "none":
        raise ValueError("reduction='none' is not available for the fused loss; use 'mean', 'sum' or 'batchmean'")
    lead = tuple(student_hidden.shape[:-1])
    vs = lm_head_weight.shape[0]
    hidden = student_hidden.reshape(-1, student_hidden.shape[-1])

    if (teacher_logits is None) == (teacher_hidden is None):
        raise ValueError("give exactly one of teacher_logits and teacher_hidden (with teacher_weight)")
    if teacher_logits is not None:
        _check_logits(teacher_logits, "teacher_logits")
        if tuple(teacher_logits.shape[:-1]) != lead:
            raise ValueError(f"teacher_logits must have the leading shape {lead}, got {tuple(teacher_logits.shape[:-1])}")
        vt = teacher_logits.shape[-1]
        t_flat = teacher_logits.detach().reshape(-1, vt)

        def teacher_chunk(start: int, stop: int, idx: Tensor | None) -> Tensor:
            return _take(t_flat, start, stop, idx)
    else:
        if teacher_weight is None or teacher_weight.ndim != 2:
            raise ValueError("teacher_hidden needs teacher_weight, a 2-D tensor of shape (teacher vocab, teacher hidden)")
        if tuple(teacher_hidden.shape[:-1]) != lead or teacher_hidden.shape[-1] != teacher_weight.shape[1]:
            raise ValueError(f"teacher_hidden must have shape {lead + (teacher_weight.shape[1],)}, "
                             f"got {tuple(teacher_hidden.shape)}")
        vt = teacher_weight.shape[0]
        th = teacher_hidden.detach().reshape(-1, teacher_hidden.shape[-1])
        tw = teacher_weight.detach()
        tb = None if teacher_bias is None else teacher_bias.detach()

        def teacher_chunk(start: int, stop: int, idx: Tensor | None) -> Tensor:
            return torch.nn.functional.linear(_take(th, start, stop, idx), tw, tb)

    ck.check_vocab(vs, vt, vocab_mismatch)
    chunk = ck.check_chunk_size(chunk_size, max(vs, vt))
    st = prepare(lead, vs, hidden.device, ck.compute_dtype(student_hidden, lm_head_weight), divergence, params,
                 temperature=temperature, labels=labels, ignore_index=ignore_index, mask=mask, weights=weights,
                 reduction=reduction, soft_weight=soft_weight, hard_weight=hard_weight, t_squared=t_squared)
    kernel = ck.aligned_kernel(ck.dense_kernel(st.div, st.temperature, st.scale), vs, vt, vocab_mismatch)
    kernel = ck.add_hard_term(kernel, st.hard_weight)
    cfg = _FusedConfig(kernel, st.plan.rows, st.plan.coef, chunk, teacher_chunk,
                       st.plan.labels if st.hard_weight != 0.0 else None)
    return _FusedLinear.apply(cfg, hidden, lm_head_weight, bias)


class FusedLinearDivergenceLoss(DistillModule):
    """:func:`fused_linear_divergence_loss` as a module.

    The divergence and its keyword options (``temperature``, ``ignore_index``, ``reduction``, ``chunk_size``,
    ``hard_weight``, ``soft_weight``, ``t_squared``, ``vocab_mismatch`` and the divergence's parameters) are
    given at construction; the tensors at call.

    >>> import torch
    >>> from divergences.torch import FusedLinearDivergenceLoss
    >>> loss_fn = FusedLinearDivergenceLoss("reverse_kl", temperature=2.0, chunk_size=64)
    >>> h = torch.randn(10, 8, requires_grad=True); W = torch.randn(30, 8, requires_grad=True)
    >>> loss = loss_fn(h, W, torch.randn(10, 30)); loss.backward()
    >>> W.grad.shape
    torch.Size([30, 8])
    """

    def __init__(self, divergence: Any = "kl", **options: Any) -> None:
        if options.get("reduction") == "none":
            raise ValueError("reduction='none' is not available for the fused loss; use 'mean', 'sum' or 'batchmean'")
        super().__init__(divergence, **options)

    def forward(
        self,
        student_hidden: Tensor,
        lm_head_weight: Tensor,
        teacher_logits: Tensor | None = None,
        *,
        teacher_hidden: Tensor | None = None,
        teacher_weight: Tensor | None = None,
        teacher_bias: Tensor | None = None,
        labels: Tensor | None = None,
        bias: Tensor | None = None,
        mask: Tensor | None = None,
        weights: Tensor | None = None,
    ) -> Tensor:
        return fused_linear_divergence_loss(
            student_hidden, lm_head_weight, teacher_logits, self.divergence, teacher_hidden=teacher_hidden,
            teacher_weight=teacher_weight, teacher_bias=teacher_bias, bias=bias, labels=labels, mask=mask,
            weights=weights, **self.options,
        )
