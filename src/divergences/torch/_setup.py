"""What every token loss does before and after the chunk engine: options, divergence, tokens, output.

Shared by the dense (:mod:`.losses`), fused (:mod:`.fused`) and top-k (:mod:`.topk`) losses and
their vocab-parallel forms, so that none of them imports another's private helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ._checks import check_labels_range, scan_logits
from ._divergence import Divergence, resolve
from ._engine import LOCAL, DenseRows, TokenPlan, chunk_rows, plan_tokens
from .options import DistillOptions

Tensor = torch.Tensor


def comm_for(process_group: Any, widths: dict[str, int], rows: int, opts: DistillOptions, device: torch.device):
    """LOCAL, or the vocab-parallel comm of ``process_group`` (checked across ranks)."""
    if process_group is None:
        return LOCAL
    from .distributed import VocabParallel

    return VocabParallel.create(process_group, widths, rows, opts, device)


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

    div: Divergence
    plan: TokenPlan
    opts: DistillOptions
    comm: Any
    chunk: int

    @property
    def scale(self) -> float:
        return self.opts.soft_scale

    @property
    def hard(self) -> float:
        return self.opts.hard_weight


def prepare(
    lead: tuple[int, ...],
    vocab: int,
    device: torch.device,
    dtype: torch.dtype,
    divergence: Any,
    params: Any,
    flat: dict[str, Any],
    opts: DistillOptions,
    *,
    labels: Tensor | None,
    mask: Tensor | None,
    weights: Tensor | None,
    num_items_in_batch: Any = None,
    comm: Any = LOCAL,
    width: int | None = None,
) -> Setup:
    """Resolve the divergence and the kept tokens.

    ``vocab`` is the (global) student vocabulary (the range of the labels); ``width`` the row width that
    sizes the chunks (default ``vocab``): on a vocab-parallel group the global one, so that every rank
    walks the same chunks.
    """
    div = resolve(divergence, params, flat)
    plan = plan_tokens(lead, labels=labels, ignore_index=opts.ignore_index, mask=mask, weights=weights,
                       reduction=opts.reduction, device=device, dtype=dtype, num_items_in_batch=num_items_in_batch)
    if opts.hard_weight != 0.0:
        check_labels_range(plan.labels, plan.rows, vocab, plan.keep)
    # the same rows per chunk on every rank of a vocab-parallel group: sized from the global vocabulary
    return Setup(div, plan, opts, comm, chunk_rows(opts.chunk_size, width or vocab, device))


def check_and_mask(named: list[tuple[str, Tensor]], comm: Any, opts: DistillOptions, vs: int, vt: int,
                   finite_only: tuple[str, ...] = ()) -> bool:
    """The per-call check (unless ``validate=False``); True when the kernels need the masked form:
    a ``-inf`` in the logits, padding to a common width, or unchecked input."""
    if not opts.validate:
        return True
    pad = vs != vt and opts.vocab_mismatch == "pad"
    return scan_logits(named, comm, finite_only=finite_only) or pad


def dense_rows_kernel(st: Setup, vs: int, vt: int, masked: bool, device: torch.device):
    """The kernel of a dense-teacher loss: divergence, vocabulary alignment, hard-label term."""
    from . import _kernels as kn

    # no blocking here: the engine runs every row kernel on cache blocks (CPU), shared out to its workers
    kernel = kn.dense_kernel(st.div, st.opts.temperature, st.scale, comm=st.comm, masked=masked, block=None)
    kernel = kn.aligned_kernel(kernel, vs, vt, st.opts.vocab_mismatch)
    return kn.add_hard_term(kernel, st.hard, comm=st.comm)


def teacher_rows(first: Any, st: Setup) -> list[Any]:
    """The teacher's row sources: ``first``, then the labels when the hard term is on."""
    return [first, DenseRows(st.plan.labels)] if st.hard != 0.0 else [first]


def finish(out: Tensor, parts: Tensor, st: Setup, lead_shape: tuple[int, ...]) -> Any:
    """Shape the per-token result (``reduction='none'``, weights applied) or the scalar; parts if asked."""
    if st.opts.reduction == "none":
        if st.plan.token_weights is not None:
            out = out * st.plan.token_weights
        out = out.reshape(lead_shape)
    if not st.opts.return_parts:
        return out
    return out, parts[0], parts[1]
