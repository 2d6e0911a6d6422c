r"""Vocab-parallel distillation losses: the vocabulary sharded across the ranks of a process group.

Pass ``process_group=`` to :func:`~divergences.torch.divergence_loss`,
:func:`~divergences.torch.fused_linear_divergence_loss`, :func:`~divergences.torch.topk_divergence_loss`
or their modules. Each rank holds a contiguous shard (..., V_r) of the student and teacher logits
(shards in rank order, uneven sizes allowed; the fused loss: a (V_r, H) shard of the LM-head weight with
replicated hidden states); every rank returns the same global loss and the gradient of that loss with
respect to its own shard.

How (per chunk of tokens, inside the one chunk engine):

* global log-softmax: all-reduce MAX of the row maxima (detached) and all-reduce SUM of
  Σ exp(z − max), for student and teacher in one message each (autograd-aware: the normaliser feeds
  per-shard terms, so its backward all-reduces the partial gradients; sums whose result is replicated,
  such as the per-token loss, have the identity as backward, as Megatron's
  ``reduce_from_tensor_model_parallel_region``);
* pointwise terms on the local shard; per-token sums (the loss, Σ ∂φ/∂b, Σ ∂φ/∂a) all-reduced in one
  message, so the local gradient is exactly ``(g − q · Σ_all g) / T``;
* the registry's "function" divergences from their sufficient sums: Rényi by a log-sum-exp across
  shards (and Σ p·expm1 near α = 1), Bhattacharyya by Σ Hellinger terms and a log-sum-exp,
  Cauchy–Schwarz by three log-sum-exps;
* top-k teacher: the teacher's (value, global index) pairs are replicated; the student's bucket
  log-probabilities are picked on the owning rank and summed across ranks, its tail is a log-sum-exp
  across shards. :func:`vocab_parallel_topk` forms the global top-k from sharded teacher logits (each
  rank's k best with global indices, all-gathered).

Communication per call is O(tokens): a few floats per token and collective (see
``benchmarks/bench_vocab_parallel.py``), never O(tokens × vocab). Before any of this the ranks exchange
their shapes once (one small all-gather): a rank whose token count or shard widths disagree, or
shards that do not add up to ``vocab_size`` (when given), give the same ValueError on every rank.
That exchange describes the whole call (:mod:`._agreement`): token shape, dtypes, options, divergence,
fingerprints of the token-side tensors (labels, mask, weights, top-k teacher, replicated hidden states); a rank
whose local checks fail, or whose call differs, makes every rank raise the same error, before any other
collective.
The finiteness check is collective too (a row is "all -inf" only if it is on every shard).

A ``DTensor`` input sharded on its last dimension is read through its local shard and its mesh's group
(``process_group`` inferred).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist

from . import _parallel
from ._engine import LOCAL, compute_dtype

__all__ = ["VocabParallel", "vocab_parallel_topk"]

Tensor = torch.Tensor


class _AllReduceSum(torch.autograd.Function):
    """All-reduce SUM forward, identity backward (the loss is replicated: each rank counts it once)."""

    @staticmethod
    def forward(ctx, x: Tensor, group: Any) -> Tensor:  # type: ignore[override]
        y = x.clone()
        dist.all_reduce(y, op=dist.ReduceOp.SUM, group=group)
        return y

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        return g, None


class _AllReduceSumShared(torch.autograd.Function):
    """All-reduce SUM forward and backward: for a sum that feeds *local* (per-shard) computations, whose
    gradient on each rank is a partial of the total (the normaliser of the log-softmax)."""

    @staticmethod
    def forward(ctx, x: Tensor, group: Any) -> Tensor:  # type: ignore[override]
        ctx.group = group
        y = x.clone()
        dist.all_reduce(y, op=dist.ReduceOp.SUM, group=group)
        return y

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        g = g.contiguous().clone()
        dist.all_reduce(g, op=dist.ReduceOp.SUM, group=ctx.group)
        return g, None


def _all_reduce_sum(x: Tensor, group: Any, *, shared: bool = False) -> Tensor:
    """All-reduce SUM; differentiable where it must be. ``shared``: the result feeds local computations."""
    _parallel.check_not_in_worker("an all-reduce over the vocabulary shards")
    if torch.is_grad_enabled() and x.requires_grad:
        return (_AllReduceSumShared if shared else _AllReduceSum).apply(x, group)
    y = x.clone()
    dist.all_reduce(y, op=dist.ReduceOp.SUM, group=group)
    return y


def _all_reduce_max(x: Tensor, group: Any) -> Tensor:
    _parallel.check_not_in_worker("an all-reduce over the vocabulary shards")
    y = x.detach().clone()
    dist.all_reduce(y, op=dist.ReduceOp.MAX, group=group)
    return y


def _finite_or_zero(m: Tensor) -> Tensor:
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m))


class VocabParallel:
    """The communication of a vocabulary sharded over ``group`` (same interface as ``LocalComm``)."""

    parallel = True

    def __init__(self, group: Any, offset: int, width: int, vocab: int, widths: list[int]) -> None:
        self.group, self.offset, self.width, self.vocab, self.widths = group, offset, width, vocab, widths

    @classmethod
    def create(cls, group: Any, widths: dict[str, int], rows: int, opts: Any, device: torch.device) -> VocabParallel:
        """Check the ranks agree (token count, shard widths) and locate this rank's shard (one collective)."""
        from ._agreement import Agreement

        with Agreement(True if group is None else group, device) as call:
            call.describe(tokens=str(rows), vocab_size=str(opts.vocab_size),
                          shard_widths=",".join(str(widths[k]) for k in widths))
        return cls.from_table(call.group, call.table or [], list(widths), opts)

    @classmethod
    def from_table(cls, group: Any, table: list[dict[str, str]], names: list[str], opts: Any) -> VocabParallel:
        """This rank's shard from the agreed table of a call (every rank reads the same table: the same errors)."""
        if group is True:
            group = dist.group.WORLD
        rank = dist.get_rank(group)
        per_rank = [[int(w) for w in rec["shard_widths"].split(",")] for rec in table]
        first = [w[0] for w in per_rank]
        for j, name in enumerate(names[1:], start=1):
            widths_j = [w[j] for w in per_rank]
            if widths_j != first:
                raise ValueError(f"process_group: {name} has shard widths {widths_j} over the ranks, but "
                                 f"{names[0]} has {first}; each rank's shards must have equal widths")
        for j, name in enumerate(names):
            widths_j = [w[j] for w in per_rank]
            if min(widths_j) < 1:
                raise ValueError(f"process_group: every rank needs a non-empty vocabulary shard; {name} has widths "
                                 f"{widths_j}")
        vocab = sum(first)
        if opts.vocab_size is not None and opts.vocab_size != vocab:
            raise ValueError(f"process_group: the shard widths {first} add up to {vocab}, not vocab_size="
                             f"{opts.vocab_size}")
        return cls(group, sum(first[:rank]), first[rank], vocab, first)

    # -- the LocalComm interface ----------------------------------------------------------------
    def global_width(self, local: int) -> int:
        return self.vocab

    def log_softmax(self, *xs: Tensor, temperature: float = 1.0) -> list[Tensor]:
        # shifted by the global row maximum before the division by T (no overflow to +inf below T = 1)
        m = _finite_or_zero(_all_reduce_max(torch.stack([x.detach().amax(dim=-1) for x in xs], dim=-1), self.group))
        ys = [x - m[:, i : i + 1] for i, x in enumerate(xs)]
        if temperature != 1.0:
            ys = [y / temperature for y in ys]
        s = torch.stack([torch.exp(y).sum(dim=-1) for y in ys], dim=-1)
        log_s = torch.log(_all_reduce_sum(s, self.group, shared=True))
        return [y - log_s[:, i : i + 1] for i, y in enumerate(ys)]

    def row_sums(self, *xs: Tensor) -> list[Tensor]:
        return list(_all_reduce_sum(torch.stack([x.sum(dim=-1) for x in xs], dim=-1), self.group).unbind(-1))

    def logsumexp(self, x: Tensor) -> Tensor:
        local = torch.logsumexp(x, dim=-1, keepdim=True)
        m = _finite_or_zero(_all_reduce_max(local, self.group))
        return m + torch.log(_all_reduce_sum(torch.exp(local - m), self.group))

    def combine(self, x: Tensor) -> Tensor:
        return _all_reduce_sum(x, self.group)

    def max_rows(self, x: Tensor) -> Tensor:
        return _all_reduce_max(x, self.group)


def from_dtensor(*xs: Any) -> tuple[list[Any], Any]:
    """Local shards and the process group of DTensors sharded on their last dimension (else unchanged, None)."""
    try:
        from torch.distributed.tensor import DTensor, Shard
    except ImportError:  # pragma: no cover - old torch
        return list(xs), None
    group = None
    out = []
    for x in xs:
        if isinstance(x, DTensor):
            placements = x.placements
            if x.device_mesh.ndim != 1 or len(placements) != 1 or not isinstance(placements[0], Shard) or \
                    placements[0].dim not in (-1, x.ndim - 1):
                raise ValueError("a DTensor input must be sharded on its last (vocabulary) dimension over a 1-D mesh, "
                                 f"got placements {placements}")
            group = x.device_mesh.get_group()
            out.append(x.to_local())
        else:
            out.append(x)
    return out, group


def vocab_parallel_topk(
    logits: Tensor,
    k: int,
    process_group: Any = None,
    *,
    temperature: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """Global top-k log-probabilities and *global* vocabulary indices from a vocabulary shard of logits.

    Each rank gives its contiguous shard (..., V_r) (rank order); every rank gets the same
    ``(logprobs, indices)`` of shape (..., k), sorted by decreasing probability, log-probabilities of
    ``softmax(logits / T)`` over the whole vocabulary: the teacher input of
    :func:`~divergences.torch.topk_divergence_loss` with ``process_group``. Each rank sends its k best
    (value, global index) pairs: O(tokens × k × ranks), never the vocabulary. Detached. Without a group it
    is ``torch.log_softmax(logits / T, -1).topk(k)``.
    """
    from ._agreement import Agreement
    from ._setup import describe_call, device_of
    from .options import DistillOptions

    # the local checks; with a group every rank's call is then compared (one collective)
    with Agreement(process_group, device_of(logits)) as call:
        opts = DistillOptions(temperature=temperature)
        if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.ndim < 1 or \
                logits.shape[-1] == 0:
            raise ValueError("logits must be a floating torch.Tensor of shape (..., V_r) with V_r ≥ 1")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        lead = tuple(logits.shape[:-1])
        describe_call(call, "vocab_parallel_topk", lead, {"logits": logits}, opts, None, k=k,
                      widths=(logits.shape[-1],))
    z = logits.detach().reshape(-1, logits.shape[-1]).to(compute_dtype(logits))
    if process_group is None:
        if k > z.shape[-1]:
            raise ValueError(f"k must be at most the vocabulary size {z.shape[-1]}, got {k}")
        (logp,) = LOCAL.log_softmax(z, temperature=opts.temperature)
        v, i = logp.topk(k, dim=-1)
        return v.reshape(*lead, k), i.reshape(*lead, k)
    comm = VocabParallel.from_table(call.group, call.table or [], ["logits"], opts)
    if k > comm.vocab:
        raise ValueError(f"k must be at most the vocabulary size {comm.vocab}, got {k}")
    with torch.no_grad():
        (logp,) = comm.log_softmax(z, temperature=opts.temperature)
        kk = min(k, comm.width)
        v, i = logp.topk(kk, dim=-1)
        if kk < k:  # pad this rank's candidates to k
            v = torch.cat([v, v.new_full((v.shape[0], k - kk), -math.inf)], dim=-1)
            i = torch.cat([i, i.new_full((i.shape[0], k - kk), -1)], dim=-1)
        i = torch.where(i >= 0, i + comm.offset, i)
        world = len(comm.widths)
        vs = [torch.empty_like(v) for _ in range(world)]
        is_ = [torch.empty_like(i) for _ in range(world)]
        dist.all_gather(vs, v.contiguous(), group=comm.group)
        dist.all_gather(is_, i.contiguous(), group=comm.group)
        allv, alli = torch.cat(vs, dim=-1), torch.cat(is_, dim=-1)
        top, pos = allv.topk(k, dim=-1)
        idx = alli.gather(-1, pos)
    return top.reshape(*lead, k), idx.reshape(*lead, k)
