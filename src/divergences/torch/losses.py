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

from typing import TYPE_CHECKING, Any, Literal, overload

import torch

from . import _setup
from ._agreement import Agreement
from ._checks import check_logits_tensor, check_vocab
from ._divergence import DivergenceArg
from ._engine import DenseRows, compute_dtype, run
from ._keywords import keywords_checked
from ._setup import LossParts
from .options import DistillOptions, LossKeywords, check_options

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["DivergenceLoss", "LossParts", "divergence_loss"]

Tensor = torch.Tensor


@overload
def divergence_loss(student_logits: Tensor, teacher_logits: Tensor, divergence: DivergenceArg = ..., *,
                    return_parts: Literal[False] = ..., **keywords: Unpack[LossKeywords]) -> Tensor: ...


@overload
def divergence_loss(student_logits: Tensor, teacher_logits: Tensor, divergence: DivergenceArg = ..., *,
                    return_parts: Literal[True], **keywords: Unpack[LossKeywords]) -> LossParts: ...


@overload
def divergence_loss(student_logits: Tensor, teacher_logits: Tensor, divergence: DivergenceArg = ..., *,
                    return_parts: bool, **keywords: Unpack[LossKeywords]) -> Tensor | LossParts: ...


@keywords_checked()
def divergence_loss(student_logits: Tensor, teacher_logits: Tensor, divergence: DivergenceArg = "kl", *,
                    return_parts: bool = False, **keywords: Unpack[LossKeywords]) -> Tensor | LossParts:
    r"""Token-level divergence D(teacher ‖ student) between next-token distributions.

    Per token :math:`i`:
    :math:`\ell_i = s\,D\big(\mathrm{softmax}(t_i/T)\,\|\,\mathrm{softmax}(z_i/T)\big) + h\,\mathrm{CE}(z_i, y_i)`
    with ``z = student_logits``, ``t = teacher_logits`` and, from ``options``, ``T = temperature``,
    ``s = soft_weight`` (times T² if ``t_squared``), ``h = hard_weight``; CE is the cross-entropy of the student
    at temperature 1 on ``labels`` (Liger's w_soft·D + w_hard·CE).

    :param student_logits: (..., V) unnormalised log-probabilities; ``-inf`` entries are masked vocabulary
        (probability 0). float16/bfloat16 are computed in float32, float64 in float64. NaN, +inf or a row that
        is all ``-inf`` is a ValueError (checked once per call; ``options.validate=False`` skips the check).
    :param teacher_logits: (..., V) the teacher's, as ``student_logits``.
    :param divergence: a registered name (``"kl"``, ``"reverse_kl"``, ``"js"``, ``"tv"``, ``"renyi"``, ... or one
        added with :func:`divergences.register`), a ``dv.spec(...)`` value carrying the divergence's parameters
        (``dv.spec("js", beta=0.3)``), a term object or class, a callable ``f(t)``, a
        :class:`divergences.Mixture`, a torch row divergence (:func:`~divergences.torch.balanced_kl`), or a
        record of raw vectors (``"cosine"``: 1 − cosine similarity of the logit vectors; temperature has no
        effect). Distributions over ordered categories (``"wasserstein"``) are refused: a vocabulary has no
        order.
    :param keywords: the keywords every token loss shares (:class:`~divergences.torch.LossKeywords`; any other
        key is a TypeError naming it):

        - ``labels``: (...) integer targets; tokens with ``labels == options.ignore_index`` are dropped.
        - ``mask``: (...) boolean, True = keep (combined with ``labels`` by "and").
        - ``weights``: (...) per-token multipliers of the loss (any sign; constants, no gradient flows to them).
        - ``options``: a :class:`~divergences.torch.DistillOptions` (None: the defaults): ``temperature``,
          ``t_squared``, ``ignore_index``, ``reduction`` (``"mean"``: Σ w_i ℓ_i over kept tokens divided by the
          number of kept tokens or by ``num_items_in_batch``; ``"sum"``; ``"batchmean"``: divided by the size of
          the first axis; ``"none"``: the per-token w_i ℓ_i with shape (...), 0 at dropped tokens; no kept token
          gives 0), ``soft_weight``, ``hard_weight``, ``chunk_size`` (default: about 2**22 / V tokens on a CPU,
          2**26 / V on CUDA), ``vocab_mismatch`` (``"error"``; ``"crop"`` compares the first min(Vs, Vt) entries;
          ``"pad"`` gives the narrower side's missing entries probability 0), ``validate``, ``vocab_size``.
        - ``num_items_in_batch``: the global number of kept tokens (data-parallel ranks × accumulated
          micro-batches, as transformers/TRL pass it): ``"mean"`` divides by it, so that the summed micro-batch
          losses equal the full-batch mean.
        - ``process_group``: a ``torch.distributed`` group over which the vocabulary is sharded: each rank gives
          its contiguous shard (..., V_r) of both logits and gets the global loss and the gradient of its shard
          (:mod:`divergences.torch.distributed`).
    :param return_parts: return a :class:`~divergences.torch.LossParts` ``(loss, soft, hard)`` (the parts
        detached, for logging) instead of the loss; needs a reducing ``reduction``.
    :returns: the reduced loss (a scalar), the per-token losses (``reduction="none"``), or the parts.
    :raises ValueError: for bad tensors, options or divergence, naming the argument.
    :raises TypeError: for a removed keyword spelling (``beta=0.3``, ``params=``, ``temperature=2.0`` beside
        the tensors), naming the new one (``dv.spec("js", beta=0.3)``, ``options=DistillOptions(...)``).

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
    batch, options, process_group = _setup.read_keywords(keywords)
    (student_logits, teacher_logits), process_group = _setup.local_shards(process_group, student_logits, teacher_logits)
    # the local checks; on a vocab-parallel group every rank's call is then compared (one collective)
    with Agreement(process_group, _setup.device_of(student_logits, teacher_logits)) as call:
        opts = check_options(options)
        check_logits_tensor(student_logits, "student_logits")
        check_logits_tensor(teacher_logits, "teacher_logits")
        vs, vt = student_logits.shape[-1], teacher_logits.shape[-1]
        check_vocab(vs, vt, opts.vocab_mismatch)
        lead = tuple(student_logits.shape[:-1])
        if tuple(teacher_logits.shape[:-1]) != lead:
            raise ValueError(f"teacher_logits must have the leading shape {lead} of student_logits, "
                             f"got {tuple(teacher_logits.shape[:-1])}")
        device = student_logits.device
        _setup.check_options_apply(opts, "divergence_loss", None if process_group is not None else vs)
        st = _setup.plan_call(lead, device, compute_dtype(student_logits, teacher_logits), divergence, opts, batch,
                              return_parts)
        _setup.describe_call(call, "divergence_loss", lead,
                             {"student_logits": student_logits, "teacher_logits": teacher_logits}, opts, st, batch,
                             widths=(vs, vt))
    comm = _setup.comm_from(call, ["student_logits", "teacher_logits"], opts)
    named = [("student_logits", student_logits), ("teacher_logits", teacher_logits)]
    masked = _setup.check_and_mask(named, comm, opts, vs, vt, dtype=compute_dtype(student_logits, teacher_logits))
    _setup.complete(st, comm, comm.global_width(vs), device, comm.global_width(max(vs, vt)))
    kernel = _setup.dense_rows_kernel(st, vs, vt, masked, device)
    teacher = _setup.teacher_rows(DenseRows(teacher_logits.reshape(-1, vt)), st)
    out, parts = run(kernel, DenseRows(student_logits.reshape(-1, vs)), teacher, st.plan, st.chunk, teacher_grad=True,
                     comm=st.comm)
    return _setup.finish(out, parts, st, lead)


class DistillModule(torch.nn.Module):
    """Base of the loss modules: the divergence and the options at construction, tensors at call.

    :param divergence: as the functional loss takes it (a name, ``dv.spec(...)`` with its parameters, a term,
        a mixture, a row divergence); checked at construction.
    :param options: a :class:`~divergences.torch.DistillOptions` (None: the defaults).
    :param process_group: the group over which the vocabulary is sharded (None: one process).
    :param return_parts: the module returns :class:`~divergences.torch.LossParts` ``(loss, soft, hard)``.
    """

    @keywords_checked()
    def __init__(self, divergence: DivergenceArg = "kl", *, options: DistillOptions | None = None, process_group: Any = None,
                 return_parts: bool = False) -> None:
        super().__init__()
        from ._divergence import resolve

        self.options = check_options(options)
        resolve(divergence)  # fail early on a bad name or parameter
        self.divergence = divergence
        self.process_group = process_group
        self.return_parts = return_parts

    def extra_repr(self) -> str:
        return f"divergence={self.divergence!r}, options={self.options!r}"


class DivergenceLoss(DistillModule):
    """:func:`divergence_loss` as a module: divergence and options at construction, tensors at call.

    >>> import torch
    >>> import divergences as dv
    >>> from divergences.torch import DistillOptions, DivergenceLoss
    >>> loss_fn = DivergenceLoss(dv.spec("js", beta=0.5), options=DistillOptions(temperature=2.0))
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
                               weights=weights, num_items_in_batch=num_items_in_batch, options=self.options,
                               process_group=self.process_group, return_parts=self.return_parts)

