r"""Distillation loss fused with the student's LM head: never holds the (tokens × vocab) student logits.

Per chunk of tokens: logits ``z_c = h_c Wᵀ (+ b)`` (optionally scaled and soft-capped, Gemma-style), the
loss and ``∂ℓ/∂z_c`` (the same kernels as :func:`divergences.torch.divergence_loss`), then
``∂ℓ/∂h_c = (∂ℓ/∂z_c) W``, ``∂ℓ/∂W += (∂ℓ/∂z_c)ᵀ h_c`` and ``∂ℓ/∂b += Σ_rows ∂ℓ/∂z_c`` (the
:class:`~divergences.torch._engine.LinearRows` source of the chunk engine). The working memory is one
chunk of logits and its temporaries; the gradient buffers of the hidden states, the weight and the
bias are the only full-size allocations. With ``reduction="none"`` the forward pass computes the
per-token losses only and the backward pass forms the products again, weighted by the incoming
per-token gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

import torch

from . import _setup
from ._agreement import Agreement, tensor_text
from ._checks import check_logits_tensor, check_not_meta, check_vocab
from ._divergence import DivergenceArg
from ._engine import DenseRows, LinearRows, compute_dtype, run
from ._keywords import keywords_checked
from ._setup import LossParts
from .losses import DistillModule
from .options import DistillOptions, LossKeywords, check_options

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["FusedLinearDivergenceLoss", "TeacherHead", "fused_linear_divergence_loss"]

Tensor = torch.Tensor


class TeacherHead(NamedTuple):
    """A teacher given by its last hidden states and LM head, whose logits ``hidden @ weight.T + bias`` the
    fused loss forms per chunk (never whole).

    :ivar hidden: (..., Ht) the teacher's hidden states (same leading shape as the student's).
    :ivar weight: (Vt, Ht) the teacher's LM head.
    :ivar bias: (Vt,) the head's bias, or None.
    """

    hidden: Tensor
    weight: Tensor
    bias: Tensor | None = None


_TEACHER_HEAD = "give the teacher as the third argument: its logits, or TeacherHead(hidden, weight, bias)"
_MOVED = {"teacher_logits": "give the teacher's logits as the third argument, teacher=",
          "teacher_hidden": _TEACHER_HEAD, "teacher_weight": _TEACHER_HEAD, "teacher_bias": _TEACHER_HEAD}


@overload
def fused_linear_divergence_loss(student_hidden: Tensor, lm_head_weight: Tensor, teacher: Tensor | TeacherHead,
                                 divergence: DivergenceArg = ..., *, bias: Tensor | None = ...,
                                 return_parts: Literal[False] = ..., **keywords: Unpack[LossKeywords]) -> Tensor: ...


@overload
def fused_linear_divergence_loss(student_hidden: Tensor, lm_head_weight: Tensor, teacher: Tensor | TeacherHead,
                                 divergence: DivergenceArg = ..., *, bias: Tensor | None = ...,
                                 return_parts: Literal[True], **keywords: Unpack[LossKeywords]) -> LossParts: ...


@overload
def fused_linear_divergence_loss(student_hidden: Tensor, lm_head_weight: Tensor, teacher: Tensor | TeacherHead,
                                 divergence: DivergenceArg = ..., *, bias: Tensor | None = ...,
                                 return_parts: bool, **keywords: Unpack[LossKeywords]) -> Tensor | LossParts: ...


@keywords_checked(moved=_MOVED)
def fused_linear_divergence_loss(student_hidden: Tensor, lm_head_weight: Tensor, teacher: Tensor | TeacherHead,
                                 divergence: DivergenceArg = "kl", *, bias: Tensor | None = None,
                                 return_parts: bool = False, **keywords: Unpack[LossKeywords]) -> Tensor | LossParts:
    r""":func:`~divergences.torch.divergence_loss` of the student logits ``h Wᵀ + b``, without forming them.

    Equal in value and gradients (hidden states, weight, bias) to
    ``divergence_loss(student_hidden @ lm_head_weight.T + bias, teacher_logits, divergence, ...)``.
    The teacher is a constant here (no gradient flows to it). All reductions, including ``"none"``
    (per token).

    :param student_hidden: (..., H) the student's last hidden states.
    :param lm_head_weight: (Vs, H) the student's LM head.
    :param teacher: the teacher's logits (..., Vt), or :class:`TeacherHead` ``(hidden, weight, bias)`` whose
        logits are then formed per chunk too.
    :param divergence: as :func:`~divergences.torch.divergence_loss` takes it (``dv.spec("js", beta=0.5)``).
    :param bias: (Vs,) the student head's bias, or None.
    :param keywords: the keywords every token loss shares (:class:`~divergences.torch.LossKeywords`; any other
        key is a TypeError naming it):

        - ``labels``: as :func:`~divergences.torch.divergence_loss`.
        - ``mask``: as :func:`~divergences.torch.divergence_loss`.
        - ``weights``: as :func:`~divergences.torch.divergence_loss`.
        - ``options``: a :class:`~divergences.torch.DistillOptions`, with two fields only this loss reads:
          ``logit_scale`` (student logits ``logit_scale · (h Wᵀ + b)``, a scaled head) and ``softcap`` (student
          logits ``softcap · tanh(z / softcap)``, Gemma 2's final logit softcapping, applied after
          ``logit_scale``; the teacher's logits are used as given).
        - ``num_items_in_batch``: as :func:`~divergences.torch.divergence_loss`.
        - ``process_group``: each rank holds a contiguous shard (V_r, H) of ``lm_head_weight`` (and of the
          teacher's logits or weight); hidden states are replicated. ``student_hidden`` receives the gradient of
          the global loss through the local shard only: sum it over the group (as a tensor-parallel
          column-parallel head does) to get the full gradient.
    :param return_parts: return :class:`~divergences.torch.LossParts` ``(loss, soft, hard)``.
    :returns: the loss (or the parts), as :func:`~divergences.torch.divergence_loss`.
    :raises ValueError: for bad tensors, options or divergence, naming the argument.
    :raises TypeError: for a removed keyword spelling (``teacher_hidden=``: ``teacher=TeacherHead(...)``;
        ``beta=``: ``dv.spec(...)``; ``temperature=``: ``options=DistillOptions(...)``).

    Mixed dtypes (bfloat16 hidden states with a float32 head, as mixed-precision recipes keep it): the
    products are formed in ``torch.promote_types`` of the two (the hidden rows cast per chunk; a narrower
    head or bias is cast once, a copy), and each gradient comes back in its input's dtype.
    ``torch.compile(fullgraph=True)`` traces the loss (on CPU and CUDA); traced, the per-call checks of
    ``validate`` become asynchronous assertions (a RuntimeError when the graph runs) and every token is
    walked, dropped ones with a zero coefficient.

    Liger's ``LigerFusedLinearJSDLoss(weight_hard_loss=h, weight_soft_loss=s, beta=β, temperature=T)`` is
    ``divergence=dv.spec("js", beta=β)``, ``options=DistillOptions(hard_weight=h, soft_weight=s, temperature=T)``
    with ``labels`` (its ``beta`` is the teacher's weight in the mixture, as ours).

    >>> import torch
    >>> from divergences.torch import fused_linear_divergence_loss, divergence_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> h = torch.randn(6, 8, dtype=torch.float64, generator=g, requires_grad=True)
    >>> W = torch.randn(20, 8, dtype=torch.float64, generator=g, requires_grad=True)
    >>> t = torch.randn(6, 20, dtype=torch.float64, generator=g)
    >>> import divergences as dv
    >>> from divergences.torch import DistillOptions
    >>> js = dv.spec("js", beta=0.5)
    >>> fused = fused_linear_divergence_loss(h, W, t, js, options=DistillOptions(chunk_size=4))
    >>> bool(torch.isclose(fused, divergence_loss(h @ W.T, t, js)))
    True
    """
    batch, options, process_group = _setup.read_keywords(keywords)
    if isinstance(teacher, TeacherHead):
        teacher_logits, teacher_hidden, teacher_weight, teacher_bias = None, teacher.hidden, teacher.weight, teacher.bias
    else:
        teacher_logits, teacher_hidden, teacher_weight, teacher_bias = teacher, None, None, None
    (lm_head_weight, teacher_logits, teacher_weight), process_group = _setup.local_shards(
        process_group, lm_head_weight, teacher_logits, teacher_weight)
    # the local checks; on a vocab-parallel group every rank's call is then compared (one collective)
    with Agreement(process_group, _setup.device_of(student_hidden, lm_head_weight)) as call:
        opts = check_options(options)
        local = _check_fused(student_hidden, lm_head_weight, bias, teacher_logits, teacher_hidden, teacher_weight,
                             teacher_bias, opts)
        lead, vs, vt = local["lead"], local["vs"], local["vt"]
        device = student_hidden.device
        _setup.check_options_apply(opts, "fused_linear_divergence_loss", None if process_group is not None else vs)
        st = _setup.plan_call(lead, device, compute_dtype(student_hidden, lm_head_weight, teacher_logits), divergence,
                              opts, batch, return_parts)
        replicated = {"student_hidden": student_hidden}
        if teacher_hidden is not None:
            replicated["teacher.hidden"] = teacher_hidden
        _setup.describe_call(call, "fused_linear_divergence_loss", lead, {**dict(local["named"]), "bias": bias}, opts,
                             st, batch, replicated=replicated, widths=(vs, vt))
    comm = _setup.comm_from(call, ["lm_head_weight", "teacher_logits" if teacher_logits is not None else "teacher.weight"],
                            opts)
    masked = _setup.check_and_mask(local["named"], comm, opts, vs, vt, tuple(local["finite_only"]),
                                   dtype=compute_dtype(student_hidden, lm_head_weight, teacher_logits))
    # below T = 1 the student logits formed per chunk may spread beyond what (z − max)/T holds: masked form
    masked = masked or opts.temperature < 1.0
    _setup.complete(st, comm, comm.global_width(vs), device, comm.global_width(max(vs, vt)))
    kernel = _setup.dense_rows_kernel(st, vs, vt, masked, device)
    teacher_src = _setup.teacher_rows(local["teacher_src"], st)
    hidden = student_hidden.reshape(-1, student_hidden.shape[-1])
    source = LinearRows(hidden, lm_head_weight, bias, opts.logit_scale, opts.softcap)
    out, parts = run(kernel, source, teacher_src, st.plan, st.chunk, comm=st.comm)
    return _setup.finish(out, parts, st, lead)


def _check_fused(student_hidden: Any, lm_head_weight: Any, bias: Any, teacher_logits: Any, teacher_hidden: Any,
                 teacher_weight: Any, teacher_bias: Any, opts: DistillOptions) -> dict[str, Any]:
    """The tensors of a fused call: types and shapes (ValueError naming the argument), the teacher's source."""
    if not isinstance(student_hidden, torch.Tensor) or not student_hidden.is_floating_point() or student_hidden.ndim < 1:
        raise ValueError("student_hidden must be a floating torch.Tensor of shape (..., hidden)")
    if not isinstance(lm_head_weight, torch.Tensor) or lm_head_weight.ndim != 2 or not lm_head_weight.is_floating_point():
        raise ValueError("lm_head_weight must be a floating 2-D tensor of shape (vocab, hidden)")
    if lm_head_weight.shape[1] != student_hidden.shape[-1]:
        raise ValueError(f"lm_head_weight has {lm_head_weight.shape[1]} columns but student_hidden has "
                         f"hidden size {student_hidden.shape[-1]}")
    if bias is not None and (not isinstance(bias, torch.Tensor) or not bias.is_floating_point()
                             or tuple(bias.shape) != (lm_head_weight.shape[0],)):
        raise ValueError(f"bias must be a floating tensor of shape ({lm_head_weight.shape[0]},), got "
                         f"{tensor_text(bias)}")
    for name, x in (("student_hidden", student_hidden), ("lm_head_weight", lm_head_weight), ("bias", bias),
                    ("teacher_logits", teacher_logits), ("teacher.hidden", teacher_hidden),
                    ("teacher.weight", teacher_weight), ("teacher.bias", teacher_bias)):
        check_not_meta(x, name)
    lead = tuple(student_hidden.shape[:-1])
    vs = lm_head_weight.shape[0]
    named = [("student_hidden", student_hidden), ("lm_head_weight", lm_head_weight)]
    finite_only = ["student_hidden", "lm_head_weight"]
    if bias is not None:
        named.append(("bias", bias))
        finite_only.append("bias")
    if teacher_logits is None and teacher_hidden is None:
        raise ValueError("teacher must be the teacher's logits (a tensor) or TeacherHead(hidden, weight, bias)")
    if teacher_logits is not None:
        check_logits_tensor(teacher_logits, "teacher_logits")
        if tuple(teacher_logits.shape[:-1]) != lead:
            raise ValueError(f"teacher_logits must have the leading shape {lead}, got {tuple(teacher_logits.shape[:-1])}")
        if teacher_weight is not None or teacher_bias is not None:
            raise ValueError("teacher.weight and teacher.bias go with teacher.hidden (a TeacherHead), not with teacher logits")
        vt = teacher_logits.shape[-1]
        teacher_src: Any = DenseRows(teacher_logits.detach().reshape(-1, vt))
        named.append(("teacher_logits", teacher_logits))
    else:
        if not isinstance(teacher_weight, torch.Tensor) or teacher_weight.ndim != 2 or \
                not teacher_weight.is_floating_point():
            raise ValueError("teacher.hidden needs teacher.weight, a floating 2-D tensor of shape (teacher vocab, "
                             "teacher hidden)")
        if not isinstance(teacher_hidden, torch.Tensor) or not teacher_hidden.is_floating_point() or \
                tuple(teacher_hidden.shape[:-1]) != lead or teacher_hidden.shape[-1] != teacher_weight.shape[1]:
            raise ValueError(f"teacher.hidden must be a floating tensor of shape {lead + (teacher_weight.shape[1],)}, "
                             f"got {tensor_text(teacher_hidden)}")
        vt = teacher_weight.shape[0]
        if teacher_bias is not None and (not isinstance(teacher_bias, torch.Tensor) or
                                         not teacher_bias.is_floating_point() or tuple(teacher_bias.shape) != (vt,)):
            raise ValueError(f"teacher.bias must be a floating tensor of shape ({vt},), got {tensor_text(teacher_bias)}")
        th = teacher_hidden.detach().reshape(-1, teacher_hidden.shape[-1])
        tb = None if teacher_bias is None else teacher_bias.detach()
        teacher_src = LinearRows(th, teacher_weight.detach(), tb)
        named += [("teacher.hidden", teacher_hidden), ("teacher.weight", teacher_weight)]
        finite_only += ["teacher.hidden", "teacher.weight"]
        if teacher_bias is not None:
            named.append(("teacher.bias", teacher_bias))
            finite_only.append("teacher.bias")
    check_vocab(vs, vt, opts.vocab_mismatch)
    return {"lead": lead, "vs": vs, "vt": vt, "named": named, "finite_only": finite_only, "teacher_src": teacher_src}


class FusedLinearDivergenceLoss(DistillModule):
    """:func:`fused_linear_divergence_loss` as a module: the divergence and the options (``options=``, a
    :class:`~divergences.torch.DistillOptions`, with ``softcap`` and ``logit_scale`` for the student's head) at
    construction; the tensors at call.

    >>> import torch
    >>> from divergences.torch import DistillOptions, FusedLinearDivergenceLoss
    >>> loss_fn = FusedLinearDivergenceLoss("reverse_kl", options=DistillOptions(temperature=2.0, chunk_size=64))
    >>> h = torch.randn(10, 8, requires_grad=True); W = torch.randn(30, 8, requires_grad=True)
    >>> loss = loss_fn(h, W, torch.randn(10, 30)); loss.backward()
    >>> W.grad.shape
    torch.Size([30, 8])
    """

    def forward(
        self,
        student_hidden: Tensor,
        lm_head_weight: Tensor,
        teacher: Tensor | TeacherHead,
        *,
        bias: Tensor | None = None,
        labels: Tensor | None = None,
        mask: Tensor | None = None,
        weights: Tensor | None = None,
        num_items_in_batch: Any = None,
    ) -> Any:
        return fused_linear_divergence_loss(
            student_hidden, lm_head_weight, teacher, self.divergence, bias=bias, labels=labels, mask=mask,
            weights=weights, options=self.options, num_items_in_batch=num_items_in_batch,
            process_group=self.process_group, return_parts=self.return_parts,
        )
