r"""Token-level distillation losses: any divergence of the registry between teacher and student logits.

:func:`divergence_loss` computes, for every token, :math:`D(\text{teacher}\,\|\,\text{student})`
between ``softmax(teacher_logits / T)`` and ``softmax(student_logits / T)`` over the last axis, and
reduces over tokens. It runs in chunks of tokens with closed-form gradients (see
:mod:`divergences.torch._chunked`), so it never materialises more than one chunk of (tokens × vocab)
intermediates besides the gradient buffer.

Directions, as in the distillation literature: ``"kl"`` is the forward KL(teacher‖student)
(mass-covering), ``"reverse_kl"`` is KL(student‖teacher) (mode-seeking), ``"js"`` with ``beta`` is the
generalised JSD of GKD/TRL/Liger with M = β·teacher + (1−β)·student. ``torch.nn.functional.kl_div(input,
target)`` computes KL(target‖input): ``F.kl_div(student_logp, teacher_logp, log_target=True)`` is our
``"kl"``.

Mappings to other libraries (tested in ``tests/distill/test_distill_compat.py``):

* TRL ``generalized_jsd_loss(student_logits, teacher_logits, labels, beta, temperature, reduction)``:
  interior β is ``divergence="js", beta=β``; TRL's β = 0 is ``"kl"`` and β = 1 is ``"reverse_kl"``
  (our ``"js"`` is the formula itself, which is 0 at both ends). TRL's ``"batchmean"`` with labels is our
  ``"mean"`` with the same labels; without labels it is our ``"batchmean"``. TRL's ``"sum"``/``"mean"``
  are over tokens *and* vocabulary entries: ``"sum"`` equals ours, its ``"mean"`` is ours divided by V.
* Liger (``LigerFusedLinearJSDLoss`` and friends): the soft loss is summed over non-ignored rows and
  divided by their count: our ``"mean"`` with ``labels``; ``weight_hard_loss``/``weight_soft_loss`` are
  ``hard_weight``/``soft_weight``.
* torchtune ``ForwardKLLoss``: it returns the cross-entropy −Σ p log q averaged over non-ignored
  tokens, i.e. ``divergence="cross_entropy"`` with ``reduction="mean"``; it differs from ``"kl"`` by the
  teacher entropy, which has no gradient for the student.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from . import _chunked as ck

__all__ = ["DivergenceLoss", "divergence_loss"]

Tensor = torch.Tensor


def _check_logits(x: Any, name: str) -> Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor of logits, got {x.dtype}")
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"{name} must have a non-empty last (vocabulary) axis, got shape {tuple(x.shape)}")
    return x


def _check_labels_range(labels: Tensor | None, rows: Tensor | None, vocab: int) -> None:
    """Labels must be given for the hard term and lie in [0, vocab) on kept tokens."""
    if labels is None:
        raise ValueError("hard_weight != 0 needs labels (the hard targets)")
    kept = labels if rows is None else labels[rows]
    if kept.numel() and (int(kept.min()) < 0 or int(kept.max()) >= vocab):
        raise ValueError(f"labels of kept tokens must lie in [0, {vocab}) (or equal ignore_index)")


@dataclass
class Setup:
    """Checked options shared by the dense, fused and top-k losses."""

    div: ck.Divergence
    plan: ck.TokenPlan
    temperature: float
    scale: float  # of the soft term: soft_weight (· T² with t_squared)
    hard_weight: float


def prepare(
    lead: tuple[int, ...],
    vocab: int,
    device: torch.device,
    dtype: torch.dtype,
    divergence: Any,
    params: dict[str, Any],
    *,
    temperature: float,
    labels: Tensor | None,
    ignore_index: int,
    mask: Tensor | None,
    weights: Tensor | None,
    reduction: str,
    soft_weight: float,
    hard_weight: float,
    t_squared: bool,
) -> Setup:
    """Check the options and resolve the divergence and the kept tokens."""
    temperature = ck.check_temperature(temperature)
    soft_weight, hard_weight = float(soft_weight), float(hard_weight)
    for v, name in ((soft_weight, "soft_weight"), (hard_weight, "hard_weight")):
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v!r}")
    div = ck.resolve(divergence, params)
    plan = ck.plan_tokens(lead, labels=labels, ignore_index=ignore_index, mask=mask, weights=weights,
                          reduction=reduction, device=device, dtype=dtype)
    if hard_weight != 0.0:
        _check_labels_range(plan.labels, plan.rows, vocab)
    scale = soft_weight * (temperature**2 if t_squared else 1.0)
    return Setup(div, plan, temperature, scale, hard_weight)


def finish(out: Tensor, plan: ck.TokenPlan, lead_shape: tuple[int, ...], reduction: str) -> Tensor:
    """Shape the per-token result (``reduction='none'``, weights applied) or return the scalar."""
    if reduction != "none":
        return out
    if plan.token_weights is not None:
        out = out * plan.token_weights
    return out.reshape(lead_shape)


def divergence_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
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
    vocab_mismatch: str = "error",
    **params: Any,
) -> Tensor:
    r"""Token-level divergence D(teacher ‖ student) between next-token distributions.

    Per token :math:`i`:
    :math:`\ell_i = s\,D\big(\mathrm{softmax}(t_i/T)\,\|\,\mathrm{softmax}(z_i/T)\big) + h\,\mathrm{CE}(z_i, y_i)`
    with ``z = student_logits``, ``t = teacher_logits``, ``T = temperature``, ``s = soft_weight``
    (times T² if ``t_squared``), ``h = hard_weight`` and CE the cross-entropy of the student at
    temperature 1 on ``labels`` (Liger's w_soft·D + w_hard·CE).

    Args:
        student_logits, teacher_logits: (..., V) unnormalised log-probabilities; ``-inf`` entries are
            masked vocabulary (probability 0). float16/bfloat16 are computed in float32, float64 in float64.
        divergence: a registered name (``"kl"``, ``"reverse_kl"``, ``"js"``, ``"tv"``, ``"renyi"``, ... or
            one added with :func:`divergences.register`), a generator object, or a callable ``f(t)``.
        labels: (...) integer targets; tokens with ``labels == ignore_index`` are dropped.
        mask: (...) boolean, True = keep (combined with ``labels`` by "and").
        weights: (...) per-token multipliers of the loss (any sign; constants, no gradient flows to them).
        reduction: ``"mean"``: Σ w_i ℓ_i over kept tokens divided by the number of kept tokens;
            ``"sum"``: Σ w_i ℓ_i; ``"batchmean"``: Σ w_i ℓ_i divided by the size of the first axis
            (the batch size for (B, S, V) input; the number of tokens for (N, V)); ``"none"``: the
            per-token w_i ℓ_i with shape (...), 0 at dropped tokens. No kept token gives 0.
        chunk_size: tokens per chunk (default: about 2**22 / V, 131 tokens for V = 32000).
        t_squared: multiply the soft term by T² (Hinton et al.; keeps gradient scale across T).
        vocab_mismatch: ``"error"`` (default) when the last axes differ; ``"crop"`` compares the first
            min(Vs, Vt) entries of both; ``"pad"`` gives the narrower side's missing entries probability 0.
        params: the divergence's parameters (``beta`` for ``"js"``, ``alpha``, ``skew``, ...).

    The gradients w.r.t. both logits (the teacher's too, if it requires grad) are formed during the
    forward pass, chunk by chunk; ``create_graph=True`` (double backward) is not supported.

    >>> import torch
    >>> from divergences.torch import divergence_loss
    >>> t = torch.tensor([[2.0, 0.0, -1.0]]); s = torch.zeros(1, 3, requires_grad=True)
    >>> loss = divergence_loss(s, t, "kl")
    >>> import divergences as dv
    >>> bool(torch.isclose(loss, dv.kl(t.softmax(-1), s.detach().softmax(-1))))
    True
    >>> loss.backward(); s.grad.shape
    torch.Size([1, 3])
    """
    _check_logits(student_logits, "student_logits")
    _check_logits(teacher_logits, "teacher_logits")
    vs, vt = student_logits.shape[-1], teacher_logits.shape[-1]
    ck.check_vocab(vs, vt, vocab_mismatch)
    lead = tuple(student_logits.shape[:-1])
    if tuple(teacher_logits.shape[:-1]) != lead:
        raise ValueError(f"teacher_logits must have the leading shape {lead} of student_logits, "
                         f"got {tuple(teacher_logits.shape[:-1])}")
    chunk = ck.check_chunk_size(chunk_size, max(vs, vt))
    st = prepare(lead, vs, student_logits.device, ck.compute_dtype(student_logits, teacher_logits), divergence, params,
                 temperature=temperature, labels=labels, ignore_index=ignore_index, mask=mask, weights=weights,
                 reduction=reduction, soft_weight=soft_weight, hard_weight=hard_weight, t_squared=t_squared)
    kernel = ck.aligned_kernel(ck.dense_kernel(st.div, st.temperature, st.scale), vs, vt, vocab_mismatch)
    kernel = ck.add_hard_term(kernel, st.hard_weight)
    teacher = [teacher_logits.reshape(-1, vt)]
    if st.hard_weight != 0.0:
        teacher.append(st.plan.labels)
    out = ck.run_chunked(kernel, student_logits.reshape(-1, vs), teacher, st.plan, chunk)
    return finish(out, st.plan, lead, reduction)


class DistillModule(torch.nn.Module):
    """Base of the loss modules: the divergence and the options at construction, tensors at call."""

    def __init__(
        self,
        divergence: Any = "kl",
        *,
        temperature: float = 1.0,
        ignore_index: int = -100,
        reduction: str = "mean",
        chunk_size: int | None = None,
        hard_weight: float = 0.0,
        soft_weight: float = 1.0,
        t_squared: bool = False,
        vocab_mismatch: str = "error",
        **params: Any,
    ) -> None:
        super().__init__()
        ck.resolve(divergence, params)  # fail early on a bad name or parameter
        ck.check_temperature(temperature)
        self.divergence = divergence
        self.options = dict(temperature=temperature, ignore_index=ignore_index, reduction=reduction,
                            chunk_size=chunk_size, hard_weight=hard_weight, soft_weight=soft_weight,
                            t_squared=t_squared, vocab_mismatch=vocab_mismatch, **params)

    def extra_repr(self) -> str:
        return f"divergence={self.divergence!r}, " + ", ".join(f"{k}={v!r}" for k, v in self.options.items())


class DivergenceLoss(DistillModule):
    """:func:`divergence_loss` as a module: options at construction, tensors at call.

    >>> import torch
    >>> from divergences.torch import DivergenceLoss
    >>> loss_fn = DivergenceLoss("js", beta=0.5, temperature=2.0)
    >>> z = torch.randn(4, 10, dtype=torch.float64)
    >>> abs(float(loss_fn(z, z))) < 1e-12
    True
    """

    def forward(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        *,
        labels: Tensor | None = None,
        mask: Tensor | None = None,
        weights: Tensor | None = None,
    ) -> Tensor:
        return divergence_loss(student_logits, teacher_logits, self.divergence, labels=labels, mask=mask,
                               weights=weights, **self.options)
