"""What every token loss does before and after the chunk engine: options, divergence, tokens, output.

Shared by the dense (:mod:`.losses`), fused (:mod:`.fused`) and top-k (:mod:`.topk`) losses and
their vocab-parallel forms, so that none of them imports another's private helpers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any, NamedTuple

import torch

from ._agreement import Agreement
from ._checks import check_labels_range, scan_logits
from ._divergence import DivergenceArg, Resolved, resolve
from ._engine import LOCAL, Comm, DenseRows, TokenPlan, chunk_rows, plan_tokens
from .options import DistillOptions

Tensor = torch.Tensor


@dataclass(frozen=True)
class Batch:
    """Which tokens of a call count, and with what weight: the per-token keywords of every token loss
    (:class:`~divergences.torch.LossKeywords` less ``options`` and ``process_group``)."""

    labels: Tensor | None = None
    mask: Tensor | None = None
    weights: Tensor | None = None
    num_items_in_batch: Any = None


def read_keywords(keywords: Mapping[str, Any]) -> tuple[Batch, Any, Any]:
    """``(batch, options, process_group)`` from a token loss's ``**keywords`` (their names are checked by
    :func:`~divergences.torch._keywords.keywords_checked`; ``options`` is checked inside the call's agreement)."""
    batch = Batch(keywords.get("labels"), keywords.get("mask"), keywords.get("weights"),
                  keywords.get("num_items_in_batch"))
    return batch, keywords.get("options"), keywords.get("process_group")


def comm_for(process_group: Any, widths: dict[str, int], rows: int, opts: DistillOptions, device: torch.device):
    """LOCAL, or the vocab-parallel comm of ``process_group`` (checked across ranks, one collective)."""
    if process_group is None:
        return LOCAL
    from .distributed import VocabParallel

    return VocabParallel.create(process_group, widths, rows, opts, device)


def comm_from(call: Agreement, names: list[str], opts: DistillOptions):
    """LOCAL without a group; else the vocab-parallel comm located from the agreed table of the call."""
    if call.table is None:
        return LOCAL
    from .distributed import VocabParallel

    return VocabParallel.from_table(call.group, call.table, names, opts)


def device_of(*xs: Any) -> torch.device:
    for x in xs:
        if isinstance(x, torch.Tensor):
            return x.device
    return torch.device("cpu")


def divergence_text(div: Resolved) -> str:
    """The resolved divergence as text that is the same on every rank for the same divergence."""
    if div.generator is not None:
        return f"{div.name}: {div.generator!r}"
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(div.params.items()))
    return f"{div.name}({params})"


def describe_call(call: Agreement, loss: str, lead: tuple[int, ...], dtypes: dict[str, Any], opts: DistillOptions,
                  st: Setup | None, batch: Batch = Batch(), *, replicated: dict[str, Any] | None = None,
                  teacher: dict[str, Any] | None = None, k: int | None = None, widths: tuple[int, ...] = ()) -> None:
    """Fill this rank's record of a vocab-parallel call (nothing without a group)."""
    if call.group is None:
        return
    from ._agreement import fingerprints

    fields = {f.name: getattr(opts, f.name) for f in dataclass_fields(opts)}
    fields.pop("vocab_size")
    num_items_in_batch = batch.num_items_in_batch
    prints = fingerprints({"labels": batch.labels, "mask": batch.mask, "weights": batch.weights,
                           "num_items_in_batch": num_items_in_batch if isinstance(num_items_in_batch, torch.Tensor)
                           else None, **(replicated or {}), **(teacher or {})})
    num = num_items_in_batch if not isinstance(num_items_in_batch, torch.Tensor) else prints["num_items_in_batch"]
    rep = "; ".join(f"{n}: {prints[n]}" for n in (replicated or {}))
    tea = "; ".join(f"{n}: {prints[n]}" for n in (teacher or {}))
    kept = "" if st is None else (st.plan.n_tokens if st.plan.rows is None else int(st.plan.rows.numel()))
    dtype_text = ", ".join(f"{n}={'absent' if x is None else str(getattr(x, 'dtype', x)).replace('torch.', '')}"
                           for n, x in dtypes.items())
    call.describe(loss=loss, tokens=str(lead), dtypes=dtype_text,
                  divergence="" if st is None else divergence_text(st.div), vocab_size=str(opts.vocab_size),
                  labels=prints["labels"], mask=prints["mask"], weights=prints["weights"],
                  num_items_in_batch=str(num), kept_tokens=str(kept), replicated=rep, teacher=tea,
                  k="" if k is None else str(k), shard_widths=",".join(str(w) for w in widths),
                  return_parts=repr(False if st is None else st.return_parts),
                  **{name: repr(v) for name, v in fields.items()})


def local_shards(process_group: Any, *xs: Any) -> tuple[list[Any], Any]:
    """DTensors sharded on the vocabulary → their local shards and group (the given group wins)."""
    if not any(type(x).__name__ == "DTensor" for x in xs):
        return list(xs), process_group
    from .distributed import from_dtensor

    out, group = from_dtensor(*xs)
    return out, process_group if process_group is not None else group


@dataclass
class Setup:
    """Checked options, resolved divergence, kept tokens, rows per chunk and the vocabulary comm."""

    div: Resolved
    plan: TokenPlan
    opts: DistillOptions
    comm: Comm
    chunk: int
    return_parts: bool = False

    @property
    def scale(self) -> float:
        return self.opts.soft_scale

    @property
    def hard(self) -> float:
        return self.opts.hard_weight


def plan_call(
    lead: tuple[int, ...],
    device: torch.device,
    dtype: torch.dtype,
    divergence: DivergenceArg,
    opts: DistillOptions,
    batch: Batch,
    return_parts: bool = False,
) -> Setup:
    """The local part of a loss's setup: resolve the divergence and the kept tokens (no communication; the
    vocab-parallel agreement and :func:`complete` follow).

    Also refuses a temperature whose reciprocal overflows the compute dtype ``dtype``, and ``return_parts``
    with ``reduction="none"``.
    """
    if not isinstance(return_parts, bool):
        raise ValueError(f"return_parts must be True or False, got {return_parts!r}")
    if return_parts and opts.reduction == "none":
        raise ValueError("return_parts=True needs a reducing reduction ('mean', 'sum' or 'batchmean'), "
                         "got reduction='none'")
    limit = 1.0 / float(torch.finfo(dtype).max)
    if opts.temperature < limit:
        raise ValueError(f"temperature={opts.temperature!r} is so small that 1/T overflows {str(dtype).replace('torch.', '')}, "
                         f"the compute dtype of these inputs; use T ≥ {limit:.3g} (or float64 inputs)")
    div = resolve(divergence)
    plan = plan_tokens(lead, labels=batch.labels, ignore_index=opts.ignore_index, mask=batch.mask,
                       weights=batch.weights, reduction=opts.reduction, device=device, dtype=dtype,
                       num_items_in_batch=batch.num_items_in_batch)
    if opts.hard_weight != 0.0 and plan.labels is None:
        check_labels_range(None, None, 0)  # raises: the hard term needs labels
    return Setup(div, plan, opts, LOCAL, 0, return_parts)


#: the options each loss does not use, with their defaults (a different value is refused, not ignored)
_UNUSED = {
    "divergence_loss": {"softcap": None, "logit_scale": 1.0},
    "topk_divergence_loss": {"softcap": None, "logit_scale": 1.0, "vocab_mismatch": "error"},
    "fused_linear_divergence_loss": {},
}


def check_options_apply(opts: DistillOptions, loss: str, vocab: int | None) -> None:
    """Refuse options that ``loss`` does not use, and a ``vocab_size`` that contradicts the logits.

    ``vocab`` is the student's vocabulary on one process (None on a vocab-parallel group, where
    ``vocab_size`` is checked against the sum of the shard widths).
    """
    for name, default in _UNUSED[loss].items():
        value = getattr(opts, name)
        if value != default:
            why = ("a top-k teacher is indexed in the student's vocabulary" if name == "vocab_mismatch" else
                   "only the fused loss forms the student logits, so only it can scale or cap them")
            raise ValueError(f"options.{name}={value!r} does not apply to {loss} ({why}); leave it at {default!r}")
    if vocab is not None and opts.vocab_size is not None and opts.vocab_size != vocab:
        raise ValueError(f"options.vocab_size={opts.vocab_size} contradicts the student's vocabulary of {vocab} entries "
                         "(the last axis of its logits, or the rows of the LM head)")


def complete(st: Setup, comm: Comm, vocab: int, device: torch.device, width: int | None = None) -> Setup:
    """The rest of the setup once the vocabulary is known: labels in range, rows per chunk, comm.

    ``vocab`` is the (global) student vocabulary (the range of the labels); ``width`` the row width that
    sizes the chunks (default ``vocab``): on a vocab-parallel group the global one, so that every rank
    walks the same chunks.
    """
    if st.opts.hard_weight != 0.0:
        check_labels_range(st.plan.labels, st.plan.rows, vocab, st.plan.keep)
    st.comm = comm
    st.chunk = chunk_rows(st.opts.chunk_size, width or vocab, device)
    return st


def check_and_mask(named: list[tuple[str, Tensor]], comm: Comm, opts: DistillOptions, vs: int, vt: int,
                   finite_only: tuple[str, ...] = (), dtype: torch.dtype | None = None) -> bool:
    """The per-call check (unless ``validate=False``); True when the kernels need the masked form:
    a ``-inf`` in the logits, padding to a common width, unchecked input, or logits whose spread divided by
    a temperature below 1 may overflow ``dtype`` (the compute dtype) to -inf."""
    if not opts.validate:
        return True
    pad = vs != vt and opts.vocab_mismatch == "pad"
    overflow_at = None
    if opts.temperature < 1.0:
        overflow_at = float(torch.finfo(dtype or torch.float32).max) * opts.temperature / 2
    return scan_logits(named, comm, finite_only=finite_only, overflow_at=overflow_at) or pad


def dense_rows_kernel(st: Setup, vs: int, vt: int, masked: bool, device: torch.device):
    """The kernel of a dense-teacher loss: divergence, vocabulary alignment, hard-label term."""
    from . import _kernels as kn

    # no blocking here: the engine runs every row kernel on cache blocks (CPU), shared out to its workers
    kernel = kn.dense_kernel(st.div, st.opts.temperature, st.scale, comm=st.comm, masked=masked, block=None)
    kernel = kn.aligned_kernel(kernel, vs, vt, st.opts.vocab_mismatch)
    return kn.add_hard_term(kernel, st.hard, comm=st.comm)


def teacher_rows(first: Any, st: Setup) -> list[Any]:
    """The teacher's row sources: ``first``, then the labels when the hard term is on."""
    if st.hard == 0.0:
        return [first]
    assert st.plan.labels is not None  # plan_call refuses a hard term without labels
    return [first, DenseRows(st.plan.labels)]


class LossParts(NamedTuple):
    """A loss with its two parts (``return_parts=True``): ``soft``, the reduced soft term (with
    ``soft_weight`` and T²), and ``hard``, the reduced hard term (with ``hard_weight``); both detached, for
    logging."""

    loss: Tensor
    soft: Tensor
    hard: Tensor


def finish(out: Tensor, parts: Tensor, st: Setup, lead_shape: tuple[int, ...]) -> Tensor | LossParts:
    """Shape the per-token result (``reduction='none'``, weights applied) or the scalar; parts if asked."""
    if st.opts.reduction == "none":
        if st.plan.token_weights is not None:
            out = out * st.plan.token_weights
        out = out.reshape(lead_shape)
    if not st.return_parts:
        return out
    return LossParts(out, parts[0], parts[1])
