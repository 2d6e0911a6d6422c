r"""Token-level distillation losses: any divergence of the registry between teacher and student logits.

:func:`divergence_loss` computes, for every token, :math:`D(\text{teacher}\,\|\,\text{student})`
between ``softmax(teacher_logits / T)`` and ``softmax(student_logits / T)`` over the last axis, and
reduces over tokens. It runs in chunks of tokens with closed-form gradients (see
:mod:`divergences.torch._engine`), so it never materialises more than one chunk of (tokens × vocab)
intermediates besides the gradient buffer. Options are one :class:`~divergences.torch.DistillOptions`
(``options=``) or the equivalent keywords; with ``process_group=`` the vocabulary is sharded across the
group's ranks (see :mod:`divergences.torch.distributed`).

Directions, as in the distillation literature: ``"kl"`` is the forward KL(teacher‖student)
(mass-covering), ``"reverse_kl"`` is KL(student‖teacher) (mode-seeking), ``"js"`` with ``beta`` is the
generalised JSD of GKD/TRL/Liger with M = β·teacher + (1−β)·student. ``torch.nn.functional.kl_div(input,
target)`` computes KL(target‖input): ``F.kl_div(student_logp, teacher_logp, log_target=True)`` is our
``"kl"``.

Mappings to other libraries (tested in ``tests/torch/test_distill_compat.py``):

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

from collections.abc import Mapping
from typing import Any

import torch

from ._agreement import Agreement
from ._checks import check_logits_tensor, check_vocab
from ._engine import DenseRows, compute_dtype, run
from ._setup import (
    check_and_mask,
    check_options_apply,
    comm_from,
    complete,
    dense_rows_kernel,
    describe_call,
    device_of,
    finish,
    local_shards,
    plan_call,
    teacher_rows,
)
from .options import DistillOptions, build_options, split_options

__all__ = ["DivergenceLoss", "divergence_loss"]

Tensor = torch.Tensor


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
    validate: bool = True,
    params: Mapping[str, Any] | None = None,
    options: DistillOptions | None = None,
    num_items_in_batch: Any = None,
    process_group: Any = None,
    **flat_params: Any,
) -> Any:
    r"""Token-level divergence D(teacher ‖ student) between next-token distributions.

    Per token :math:`i`:
    :math:`\ell_i = s\,D\big(\mathrm{softmax}(t_i/T)\,\|\,\mathrm{softmax}(z_i/T)\big) + h\,\mathrm{CE}(z_i, y_i)`
    with ``z = student_logits``, ``t = teacher_logits``, ``T = temperature``, ``s = soft_weight``
    (times T² if ``t_squared``), ``h = hard_weight`` and CE the cross-entropy of the student at
    temperature 1 on ``labels`` (Liger's w_soft·D + w_hard·CE).

    Args:
        student_logits, teacher_logits: (..., V) unnormalised log-probabilities; ``-inf`` entries are
            masked vocabulary (probability 0). float16/bfloat16 are computed in float32, float64 in float64.
            NaN, +inf or a row that is all ``-inf`` is a ValueError (checked once per call; ``validate=False``
            skips the check).
        divergence: a registered name (``"kl"``, ``"reverse_kl"``, ``"js"``, ``"tv"``, ``"renyi"``, ... or
            one added with :func:`divergences.register`), a configured generator object
            (``JensenShannon(beta=0.3)``), a callable ``f(t)``, a :func:`~divergences.torch.mixture`, or
            ``"cosine"`` (1 − cosine similarity of the logit vectors; temperature has no effect).
        params: the divergence's parameters (``{"beta": 0.3}`` for ``"js"``, ``alpha``, ``skew``, ...); the
            short form passes them as keywords (``beta=0.3``), never both.
        labels: (...) integer targets; tokens with ``labels == ignore_index`` are dropped.
        mask: (...) boolean, True = keep (combined with ``labels`` by "and").
        weights: (...) per-token multipliers of the loss (any sign; constants, no gradient flows to them).
        reduction: ``"mean"``: Σ w_i ℓ_i over kept tokens divided by the number of kept tokens (or by
            ``num_items_in_batch``); ``"sum"``: Σ w_i ℓ_i; ``"batchmean"``: Σ w_i ℓ_i divided by the size of
            the first axis; ``"none"``: the per-token w_i ℓ_i with shape (...), 0 at dropped tokens. No kept
            token gives 0.
        chunk_size: tokens per chunk (default: about 2**22 / V on a CPU, 131 tokens for V = 32000; 2**26 / V
            on CUDA).
        t_squared: multiply the soft term by T² (Hinton et al.; keeps gradient scale across T).
        vocab_mismatch: ``"error"`` (default) when the last axes differ; ``"crop"`` compares the first
            min(Vs, Vt) entries of both; ``"pad"`` gives the narrower side's missing entries probability 0.
        options: a :class:`~divergences.torch.DistillOptions`; keywords that differ from their defaults
            override it. ``options.return_parts`` returns ``(loss, soft, hard)`` (the parts detached).
        num_items_in_batch: the global number of kept tokens (data-parallel ranks × accumulated
            micro-batches, as transformers/TRL pass it): ``"mean"`` divides by it, so that the summed
            micro-batch losses equal the full-batch mean.
        process_group: a ``torch.distributed`` group over which the vocabulary is sharded: each rank gives
            its contiguous shard (..., V_r) of both logits and gets the global loss and the gradient of its
            shard (:mod:`divergences.torch.distributed`).

    ``torch.compile(fullgraph=True)`` traces the loss: traced, the per-call checks (``validate``, label
    range) become asynchronous assertions (a RuntimeError naming the tensor when the graph runs), and every
    token is walked, dropped ones with a zero coefficient (no data-dependent count).

    Values that overflow (χ² losses at logits of ±1e4, T → 0) are +inf, with finite (never NaN) gradients.
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
    (student_logits, teacher_logits), process_group = local_shards(process_group, student_logits, teacher_logits)
    # the local checks; on a vocab-parallel group every rank's call is then compared (one collective)
    with Agreement(process_group, device_of(student_logits, teacher_logits)) as call:
        opts = build_options(options, temperature=temperature, ignore_index=ignore_index, reduction=reduction,
                             chunk_size=chunk_size, hard_weight=hard_weight, soft_weight=soft_weight,
                             t_squared=t_squared, vocab_mismatch=vocab_mismatch, validate=validate)
        check_logits_tensor(student_logits, "student_logits")
        check_logits_tensor(teacher_logits, "teacher_logits")
        vs, vt = student_logits.shape[-1], teacher_logits.shape[-1]
        check_vocab(vs, vt, opts.vocab_mismatch)
        lead = tuple(student_logits.shape[:-1])
        if tuple(teacher_logits.shape[:-1]) != lead:
            raise ValueError(f"teacher_logits must have the leading shape {lead} of student_logits, "
                             f"got {tuple(teacher_logits.shape[:-1])}")
        device = student_logits.device
        check_options_apply(opts, "divergence_loss", None if process_group is not None else vs)
        st = plan_call(lead, device, compute_dtype(student_logits, teacher_logits), divergence, params, flat_params,
                       opts, labels=labels, mask=mask, weights=weights, num_items_in_batch=num_items_in_batch)
        describe_call(call, "divergence_loss", lead, {"student_logits": student_logits, "teacher_logits": teacher_logits},
                      opts, st, labels=labels, mask=mask, weights=weights, num_items_in_batch=num_items_in_batch,
                      widths=(vs, vt))
    comm = comm_from(call, ["student_logits", "teacher_logits"], opts)
    named = [("student_logits", student_logits), ("teacher_logits", teacher_logits)]
    masked = check_and_mask(named, comm, opts, vs, vt, dtype=compute_dtype(student_logits, teacher_logits))
    complete(st, comm, comm.vocab if comm.parallel else vs, device, comm.vocab if comm.parallel else max(vs, vt))
    kernel = dense_rows_kernel(st, vs, vt, masked, device)
    teacher = teacher_rows(DenseRows(teacher_logits.reshape(-1, vt)), st)
    out, parts = run(kernel, DenseRows(student_logits.reshape(-1, vs)), teacher, st.plan, st.chunk, teacher_grad=True,
                     comm=st.comm)
    return finish(out, parts, st, lead)


class DistillModule(torch.nn.Module):
    """Base of the loss modules: the divergence and the options at construction, tensors at call.

    ``options`` (a :class:`~divergences.torch.DistillOptions`) and/or the option keywords; other keywords
    are the divergence's parameters (or give them as ``params``); ``process_group`` shards the vocabulary.
    """

    def __init__(
        self,
        divergence: Any = "kl",
        *,
        options: DistillOptions | None = None,
        params: Mapping[str, Any] | None = None,
        process_group: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        opt_kw, flat = split_options(kwargs)
        self.options = build_options(options, **opt_kw)
        from ._divergence import resolve

        resolve(divergence, params, flat)  # fail early on a bad name or parameter
        self.divergence = divergence
        self.params = dict(params) if params is not None else dict(flat)
        self.process_group = process_group

    def _call_kwargs(self) -> dict[str, Any]:
        return dict(options=self.options, params=self.params, process_group=self.process_group)

    def extra_repr(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"divergence={self.divergence!r}{params}, options={self.options!r}"


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
        num_items_in_batch: Any = None,
    ) -> Any:
        return divergence_loss(student_logits, teacher_logits, self.divergence, labels=labels, mask=mask,
                               weights=weights, num_items_in_batch=num_items_in_batch, **self._call_kwargs())
