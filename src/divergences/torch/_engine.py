r"""The one chunk engine behind every token-level distillation loss.

A loss is a sum over *rows* (tokens) of a per-row term of the student's row and the teacher's row.
The student's rows come from a **row source**: dense logits (:class:`DenseRows`) or the LM head
``h Wᵀ (+ b)`` formed per chunk (:class:`LinearRows`, the fused loss). The teacher's rows are dense
logits, logits formed from teacher hidden states, or a gathered top-k (log-probabilities and indices).
One autograd function (:class:`_Engine`) walks the kept rows in chunks; for each chunk a **kernel**
(:mod:`._kernels`) returns the per-row loss *and* its gradient with respect to the student's (and the
dense teacher's) logits, which the source turns into its own gradients (rows of a buffer, or the
products ``g W``, ``gᵀ h`` and ``Σ g`` of the LM head). Peak memory is one chunk's temporaries plus
the gradient buffers; the (tokens × vocab) student logits of the fused loss never exist.

Device rules: chunks of about 2**22 entries with cache blocks of 2**17 on a CPU, the blocks shared out
to single-threaded block workers (:mod:`._parallel`: robust on a machine shared with other torch work),
chunks of about 2**26 entries and no inner blocking on CUDA. No host synchronisation inside the loop:
boundaries (``-inf`` log-probabilities) are handled by masking, decided once per call. The backward
pass scales the saved gradients in place and reads nothing on the host on CUDA or under
``torch.compile`` (which traces the whole loss).

With reduction ``"none"`` and a source whose gradient is not per row (the LM head), the forward pass
computes the losses only and the backward pass runs the loop again with the incoming per-token
gradients as coefficients.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from ..core.backend import torch_compute_dtype
from . import _parallel
from ._checks import compiling
from ._plan import TokenPlan, plan_tokens  # noqa: F401 - the engine's callers import them from here

Tensor = torch.Tensor
#: kernel(student_chunk, teacher_chunks, need_student_grad, need_teacher_grad)
#:   -> (per-row loss (c,) or (c, 2) = [soft, hard], grad of the student chunk or None, grad of teacher 0 or None)
Kernel = Callable[[Tensor, Sequence[Tensor], bool, bool], tuple[Tensor, Tensor | None, Tensor | None]]

#: CPU: entries per chunk and per cache block of the elementwise work (2**17 float32 = 512 KiB per
#: temporary keeps a block's dozen temporaries near the cache: measured on 2048 × 32000 JSD,
#: forward + backward, 1.6× faster than blocks of 2**22).
CPU_CHUNK_ELEMENTS = 1 << 22
CPU_BLOCK_ELEMENTS = 1 << 17
#: CUDA: large chunks (few, large kernels), no inner blocking.
CUDA_CHUNK_ELEMENTS = 1 << 26


#: float64 if any input is float64, else float32 (half precision is computed in float32): the library's
#: one dtype rule
compute_dtype = torch_compute_dtype


def chunk_rows(chunk_size: int | None, vocab: int, device: torch.device) -> int:
    """Rows per chunk: ``chunk_size``, or about 2**22 (CPU) / 2**26 (CUDA) entries per (rows × vocab) temporary."""
    if chunk_size is not None:
        return int(chunk_size)
    elements = CUDA_CHUNK_ELEMENTS if device.type == "cuda" else CPU_CHUNK_ELEMENTS
    return max(1, elements // max(int(vocab), 1))


def block_elements(device: torch.device) -> int | None:
    """Entries per cache block inside a chunk: 2**17 on a CPU, None (no blocking) elsewhere."""
    return CPU_BLOCK_ELEMENTS if device.type == "cpu" else None


# ---------------------------------------------------------------------------------------------
# communication across vocabulary shards (identity on one process)
# ---------------------------------------------------------------------------------------------


class Comm(Protocol):
    """What the kernels need of the vocabulary's communication: :class:`LocalComm` (one process) or
    :class:`divergences.torch.distributed.VocabParallel` (a vocabulary sharded over a process group)."""

    parallel: bool
    offset: int

    def global_width(self, local: int) -> int: ...
    def log_softmax(self, *xs: Tensor, temperature: float = 1.0) -> list[Tensor]: ...
    def row_sums(self, *xs: Tensor) -> list[Tensor]: ...
    def logsumexp(self, x: Tensor) -> Tensor: ...
    def combine(self, x: Tensor) -> Tensor: ...
    def max_rows(self, x: Tensor) -> Tensor: ...


class LocalComm:
    """The vocabulary in one piece: every reduction over the vocabulary is local.

    :class:`divergences.torch.distributed.VocabParallel` implements the same methods with all-reduces
    over a process group; the kernels are written once against this interface.
    """

    parallel = False
    offset = 0

    def global_width(self, local: int) -> int:
        """The whole vocabulary's width, given this process's (the same here)."""
        return local

    def log_softmax(self, *xs: Tensor, temperature: float = 1.0) -> list[Tensor]:
        """Log-softmax of ``x / temperature`` over the (whole) vocabulary of each tensor (differentiable).

        Below T = 1 each row is shifted by its maximum before the division, so that ``x / T`` never
        overflows to +inf (a NaN after the softmax): entries far below the maximum become -inf
        (probability 0), the limit the softmax reaches anyway.
        """
        if temperature == 1.0:
            return [torch.log_softmax(x, dim=-1) for x in xs]
        if temperature > 1.0:
            return [torch.log_softmax(x / temperature, dim=-1) for x in xs]
        out = []
        for x in xs:
            m = x.detach().amax(dim=-1, keepdim=True)
            m = torch.where(torch.isfinite(m), m, torch.zeros((), dtype=m.dtype, device=m.device))
            out.append(torch.log_softmax((x - m) / temperature, dim=-1))
        return out

    def row_sums(self, *xs: Tensor) -> list[Tensor]:
        """Σ over the vocabulary of each (rows, V) tensor: (rows,) each (differentiable)."""
        return [x.sum(dim=-1) for x in xs]

    def logsumexp(self, x: Tensor) -> Tensor:
        """log Σ exp over the vocabulary of a (rows, V) tensor, keepdim (differentiable)."""
        return torch.logsumexp(x, dim=-1, keepdim=True)

    def combine(self, x: Tensor) -> Tensor:
        """Combine per-shard partial values that are zero off the owning shard (identity here)."""
        return x

    def max_rows(self, x: Tensor) -> Tensor:
        """Element-wise maximum over shards of a small tensor (no gradient; identity here)."""
        return x


LOCAL = LocalComm()


# ---------------------------------------------------------------------------------------------
# row sources
# ---------------------------------------------------------------------------------------------


def _take(x: Tensor, start: int, stop: int, idx: Tensor | None) -> Tensor:
    return x[start:stop] if idx is None else x.index_select(0, idx)


class DenseRows:
    """Rows of a (tokens, width) tensor (logits, labels, top-k arrays); the gradient is a buffer of rows."""

    rowwise = True

    def __init__(self, x: Tensor) -> None:
        self.x = x

    @property
    def inputs(self) -> list[Tensor]:
        return [self.x]

    @property
    def device(self) -> torch.device:
        return self.x.device

    def take(self, start: int, stop: int, idx: Tensor | None) -> Tensor:
        return _take(self.x, start, stop, idx)

    def begin(self, needs: Sequence[bool], all_rows: bool) -> None:
        # every row is written when all rows are kept; otherwise dropped rows keep a zero gradient
        self.buf = ((torch.empty_like if all_rows else torch.zeros_like)(self.x)) if needs[0] else None

    @property
    def needs_grad(self) -> bool:
        return self.buf is not None

    def put(self, g: Tensor, z: Tensor, start: int, stop: int, idx: Tensor | None, coef: Tensor | None) -> None:
        buf = self.buf
        assert buf is not None  # put is called only when needs_grad
        if idx is None and coef is not None and g.dtype == buf.dtype:
            torch.mul(g, coef, out=buf[start:stop])
            return
        if coef is not None:
            g = g.mul_(coef)
        if idx is None:
            buf[start:stop] = g
        else:
            buf.index_copy_(0, idx, g.to(buf.dtype))

    def grads(self) -> list[Tensor | None]:
        return [self.buf]

    def end(self) -> None:
        self.buf = None


class LinearRows:
    """Student logits ``cap · tanh(scale · (h Wᵀ + b) / cap)`` formed per chunk (the fused LM head).

    Gradients: ``∂/∂h = g' W``, ``∂/∂W = g'ᵀ h``, ``∂/∂b = Σ_rows g'`` with ``g'`` the logit gradient through
    the scale and the softcap; weight and bias gradients accumulate in float32 at least.

    Mixed dtypes: the products are formed in ``torch.promote_types`` of the hidden states' and the weight's
    dtypes (bfloat16 hidden states with a float32 head: float32, the hidden rows cast per chunk; a narrower
    head or bias: one cast copy of it); each gradient comes back in its input's dtype.
    """

    rowwise = False

    def __init__(self, hidden: Tensor, weight: Tensor, bias: Tensor | None, scale: float = 1.0,
                 softcap: float | None = None) -> None:
        self.hidden, self.weight, self.bias = hidden, weight, bias
        self.scale, self.softcap = scale, softcap
        self.mm = torch.promote_types(hidden.dtype, weight.dtype)
        self.w_mm = weight if weight.dtype == self.mm else weight.to(self.mm)
        self.b_mm = bias if bias is None or bias.dtype == self.mm else bias.to(self.mm)

    @property
    def device(self) -> torch.device:
        return self.hidden.device

    @property
    def inputs(self) -> list[Tensor | None]:
        return [self.hidden, self.weight, self.bias]

    def take(self, start: int, stop: int, idx: Tensor | None) -> Tensor:
        z = torch.nn.functional.linear(_take(self.hidden, start, stop, idx).to(self.mm), self.w_mm, self.b_mm)
        if self.scale != 1.0:
            z = z * self.scale
        if self.softcap is not None:
            z = torch.tanh(z / self.softcap) * self.softcap
        return z

    def begin(self, needs: Sequence[bool], all_rows: bool) -> None:
        need_h, need_w = needs[0], needs[1]
        need_b = self.bias is not None and needs[2]
        acc = compute_dtype(self.hidden, self.weight)
        self.acc = acc
        self.gh = ((torch.empty_like if all_rows else torch.zeros_like)(self.hidden)) if need_h else None
        # written by the first chunk's product (no separate zero-fill of a vocab × hidden buffer)
        self.gw = torch.empty(self.weight.shape, dtype=acc, device=self.weight.device) if need_w else None
        self.gw_started = False
        bias = self.bias
        self.gb = torch.zeros(bias.shape, dtype=acc, device=bias.device) if bias is not None and need_b else None

    @property
    def needs_grad(self) -> bool:
        return self.gh is not None or self.gw is not None or self.gb is not None

    def put(self, g: Tensor, z: Tensor, start: int, stop: int, idx: Tensor | None, coef: Tensor | None) -> None:
        if self.softcap is not None:  # d(c tanh(u/c))/du = 1 − (z/c)²
            g = g * (1 - (z.to(g.dtype) / self.softcap) ** 2)
        if self.scale != 1.0:
            g = g * self.scale
        hc = _take(self.hidden, start, stop, idx)
        # the per-token coefficients scale the small (tokens × hidden) factors, not the (tokens × vocab) g
        g = g.to(self.mm)
        col = None if coef is None else coef.reshape(-1, 1)
        if self.gh is not None:
            gh_c = g @ self.w_mm
            if col is not None:
                gh_c.mul_(col.to(gh_c.dtype))
            gh = self.gh
            if idx is None:
                gh[start:stop] = gh_c
            else:
                gh.index_copy_(0, idx, gh_c.to(gh.dtype))
        if self.gw is not None:
            hs = hc.to(self.acc) if col is None else hc.to(self.acc) * col.to(self.acc)
            if compiling():  # traced: functional products (no out=, no in-place accumulation into a buffer)
                prod = g.t().to(self.acc) @ hs
                self.gw = prod if not self.gw_started else self.gw + prod
                self.gw_started = True
            elif self.gw_started:
                self.gw.addmm_(g.t().to(self.acc), hs)
            else:
                torch.mm(g.t().to(self.acc), hs, out=self.gw)
                self.gw_started = True
        if self.gb is not None:
            self.gb.add_(g.to(self.acc).sum(0) if col is None else col.to(self.acc).reshape(-1) @ g.to(self.acc))

    def grads(self) -> list[Tensor | None]:
        if self.gw is not None and not self.gw_started:  # no kept token
            self.gw.zero_()
        gw = None if self.gw is None else self.gw.to(self.weight.dtype)
        gb = None if self.gb is None or self.bias is None else self.gb.to(self.bias.dtype)
        if compiling() and gw is not None:  # traced: the product aliases the source's attribute; hand out a copy
            gw = gw.clone()
        return [self.gh, gw, gb]

    def end(self) -> None:
        self.gh = self.gw = self.gb = None


# ---------------------------------------------------------------------------------------------
# the autograd function
# ---------------------------------------------------------------------------------------------


@dataclass
class _Config:
    kernel: Kernel
    student: Any  # DenseRows | LinearRows
    teacher: list[Any]  # row sources; teacher[0] may receive a gradient if it is DenseRows of logits
    rows: Tensor | None
    coef: Tensor | None
    chunk_size: int
    n_student: int
    teacher_grad: bool  # whether teacher[0]'s tensor is an input of the function
    block_rows: int | None = None  # rows per cache block (CPU), shared out to the block workers
    keep: Tensor | None = None  # traced plans: which of the (all walked) rows count


def _spans(n: int, step: int) -> list[tuple[int, int]]:
    return [(s, min(s + step, n)) for s in range(0, n, step)]


def _blocked(kernel: Kernel, block_rows: int, workers: int) -> Kernel:
    """The kernel over a chunk, run on blocks of ``block_rows`` rows shared out to the block workers."""

    def run_chunk(z: Tensor, teacher: Sequence[Tensor], need_z: bool, need_t: bool):
        n = z.shape[0]
        if n <= block_rows:
            return kernel(z, teacher, need_z, need_t)
        lock = threading.Lock()
        out: dict[str, Tensor] = {}

        def put(key: str, g: Tensor | None, s: int, e: int) -> None:
            if g is None:
                return
            if key not in out:
                with lock:
                    if key not in out:
                        out[key] = g.new_empty((n, *g.shape[1:]))
            out[key][s:e] = g

        def block(s: int, e: int) -> Tensor:
            loss, g_z, g_t = kernel(z[s:e], [t[s:e] for t in teacher], need_z, need_t)
            put("z", g_z, s, e)
            put("t", g_t, s, e)
            return loss

        losses = _parallel.run_blocks(block, n, block_rows, workers)
        return torch.cat(losses), out.get("z"), out.get("t")

    return run_chunk


def _loop(cfg: _Config, n: int, need_s: bool, need_t: bool, coef_all: Tensor | None, dtype: torch.dtype,
          per_row: Tensor | None) -> Tensor:
    """One pass over the kept rows; returns Σ coef·loss as (2,) = [soft, hard] (or fills ``per_row``).

    Sources whose rows are taken and put independently (logits, labels, top-k arrays) are walked in cache
    blocks shared out to the block workers (:mod:`._parallel`): take, kernel and put per block. A source that
    forms its rows by a product (the LM head) is walked in chunks in the calling thread (large products on
    torch's threads), its kernel in blocks shared out to the workers.
    """
    rows = cfg.rows
    n_kept = n if rows is None else rows.numel()
    device = per_row.device if per_row is not None else cfg.student.inputs[0].device

    def span(start: int, stop: int, kernel: Kernel) -> Tensor | None:
        idx = None if rows is None else rows[start:stop]
        zc = cfg.student.take(start, stop, idx)
        tcs = [t.take(start, stop, idx) for t in cfg.teacher]
        loss, g_z, g_t = kernel(zc, tcs, need_s, need_t)
        if cfg.keep is not None:  # traced plan: dropped rows count 0 (where, not a product: their loss may be inf)
            kc = cfg.keep[start:stop].unsqueeze(-1)
            zero = torch.zeros((), dtype=loss.dtype, device=loss.device)
            loss = torch.where(kc if loss.ndim == 2 else kc.squeeze(-1), loss, zero)
            g_z = None if g_z is None else torch.where(kc, g_z, torch.zeros((), dtype=g_z.dtype, device=g_z.device))
            g_t = None if g_t is None else torch.where(kc, g_t, torch.zeros((), dtype=g_t.dtype, device=g_t.device))
        coef = None if coef_all is None else coef_all[start:stop].to(loss.dtype)
        partial = None
        if per_row is not None:
            row = loss.sum(-1) if loss.ndim == 2 else loss
            if idx is None:
                per_row[start:stop] = row
            else:
                per_row.index_copy_(0, idx, row)
        elif coef is not None:
            partial = coef @ (loss if loss.ndim == 2 else loss.unsqueeze(-1))
        col = None if coef is None else coef.unsqueeze(-1)
        if g_z is not None:
            cfg.student.put(g_z, zc, start, stop, idx, col)
        if g_t is not None:
            cfg.teacher[0].put(g_t, tcs[0], start, stop, idx, col)
        return partial

    block = cfg.block_rows
    workers = _parallel.workers_for(device) if block is not None else 1
    rowwise = cfg.student.rowwise and all(t.rowwise for t in cfg.teacher)
    if block is not None and rowwise:
        partials = _parallel.run_blocks(lambda s, e: span(s, e, cfg.kernel), n_kept, min(block, cfg.chunk_size),
                                        workers)
    else:
        kernel = cfg.kernel if block is None else _blocked(cfg.kernel, block, workers)
        partials = [span(s, e, kernel) for s, e in _spans(n_kept, cfg.chunk_size)]
    total = torch.zeros(2, dtype=dtype, device=device)
    for p in partials:  # in block order: the same sum whatever thread ran each block
        if p is not None:
            total[: p.shape[-1]] += p
    return total


class _Engine(torch.autograd.Function):
    """loss = Σ_i coef_i ℓ_i (scalar) or the vector of ℓ_i; also the detached [soft, hard] parts."""

    @staticmethod
    def forward(ctx, cfg: _Config, *tensors: Tensor):  # type: ignore[override]
        ns = cfg.n_student
        need_s = any(ctx.needs_input_grad[1 : 1 + ns])
        need_t = cfg.teacher_grad and ctx.needs_input_grad[1 + ns]
        student = cfg.student
        n = student.inputs[0].shape[0]
        dtype = compute_dtype(*[t for t in tensors if t is not None and t.is_floating_point()],
                              *[t for s in cfg.teacher for t in s.inputs if t is not None and t.is_floating_point()])
        per_row_mode = cfg.coef is None
        # a source whose gradient is not per row cannot be rescaled per token afterwards: recompute in backward
        recompute = per_row_mode and not student.rowwise
        grads_now = not recompute
        student.begin(list(ctx.needs_input_grad[1 : 1 + ns]) if grads_now else [False] * ns, cfg.rows is None)
        if cfg.teacher_grad:
            cfg.teacher[0].begin([need_t and grads_now], cfg.rows is None)
        per_row = torch.zeros(n, dtype=dtype, device=student.inputs[0].device) if per_row_mode else None
        total = _loop(cfg, n, need_s and grads_now, need_t and grads_now, cfg.coef, dtype, per_row)
        ctx.cfg = cfg if recompute else None
        ctx.per_row = per_row_mode
        ctx.recompute = recompute
        ctx.n_inputs = len(tensors)
        ctx.ns = ns
        if recompute:
            ctx.needs = (need_s, need_t)
            ctx.dtype = dtype
            ctx.n = n
            saved: list[Tensor | None] = []
        else:
            saved = student.grads() + (cfg.teacher[0].grads() if cfg.teacher_grad else [])
            student.end()  # the sources keep no reference to the buffers (only the saved tensors do)
            if cfg.teacher_grad:
                cfg.teacher[0].end()
        ctx.save_for_backward(*[s if s is not None else None for s in saved])
        parts = total.detach().clone()
        ctx.mark_non_differentiable(parts)
        out = per_row if per_row_mode else total.sum()
        return out, parts

    @staticmethod
    @torch.autograd.function.once_differentiable  # create_graph=True: a clear error, not silent zeros
    def backward(ctx, grad_out: Tensor, _grad_parts: Tensor):  # type: ignore[override]
        if ctx.recompute:
            cfg = ctx.cfg
            need_s, need_t = ctx.needs
            coef = grad_out if cfg.rows is None else grad_out.index_select(0, cfg.rows)
            cfg.student.begin(list(ctx.needs_input_grad[1 : 1 + ctx.ns]), cfg.rows is None)
            with torch.no_grad():
                _loop(cfg, ctx.n, need_s, False, coef.to(ctx.dtype), ctx.dtype, None)
            grads = cfg.student.grads()
            cfg.student.end()  # the source keeps no buffer: a later backward (retain_graph) makes new ones
            return (None, *grads, *([None] * (ctx.n_inputs - len(grads))))
        if ctx.per_row:
            out = [None if g is None else g * grad_out.to(g.dtype).reshape(-1, *([1] * (g.ndim - 1)))
                   for g in ctx.saved_tensors]
        elif _parallel._compiling():  # traced: no data-dependent branch, no host read
            out = [None if g is None else g * grad_out.to(g.dtype) for g in ctx.saved_tensors]
        else:
            out = _scale_saved(ctx, grad_out)
        return (None, *out, *([None] * (ctx.n_inputs - len(out))))


def _scale_saved(ctx: Any, grad_out: Tensor) -> list[Tensor | None]:
    """The saved gradients times the incoming scalar gradient c, without a second full-size buffer.

    The first backward scales the buffers in place (through ``.data``, so that the saved tensors' version
    is unchanged) and returns them; on a CPU a c of exactly 1 (``loss.backward()``) skips the pass, and
    reading c there is no device synchronisation; on CUDA the product always runs (no host read). A later
    backward through the same graph (``retain_graph=True``) returns new tensors ``buffer · (c / c₁)``,
    equal bit for bit when c = c₁; after a first c₁ = 0 the buffers hold nothing, which is an error.
    """
    saved = ctx.saved_tensors
    c = grad_out.detach()
    calls = getattr(ctx, "backward_calls", 0)
    ctx.backward_calls = calls + 1
    if calls == 0:
        if c.device.type == "cpu":
            applied: Any = float(c)
            if applied != 1.0:
                for g in saved:
                    if g is not None:
                        g.data.mul_(c.to(g.dtype))
        else:
            applied = c.clone()
            for g in saved:
                if g is not None:
                    g.data.mul_(c.to(g.dtype))
        ctx.applied = applied
        return list(saved)
    applied = ctx.applied
    if bool(applied == 0):
        raise RuntimeError("this divergence loss was back-propagated before with an incoming gradient of 0, which "
                           "cleared the gradients it formed in the forward pass; compute the loss again instead of "
                           "back-propagating through it twice (retain_graph=True)")
    ratio = c / applied
    return [None if g is None else g * ratio.to(g.dtype) for g in saved]


def _row_width(source: Any) -> int:
    if isinstance(source, LinearRows):
        return int(source.weight.shape[0])
    x = source.x
    return int(x.shape[-1]) if x.ndim >= 2 else 1


def run(
    kernel: Kernel,
    student: DenseRows | LinearRows,
    teacher: Sequence[Any],
    plan: TokenPlan,
    chunk_size: int,
    *,
    teacher_grad: bool = False,
    comm: Comm = LOCAL,
) -> tuple[Tensor, Tensor]:
    """Apply the engine. Returns (loss: scalar or per kept-token vector of all tokens, parts (2,) detached).

    ``teacher`` holds row sources (:class:`DenseRows` / :class:`LinearRows`); with ``teacher_grad`` the
    first one is dense logits that receive a gradient. ``kernel`` must treat rows independently: on a CPU
    the engine runs it on cache blocks of about 2**17 entries shared out to the block workers
    (:mod:`._parallel`). A kernel that communicates (``comm.parallel``: a vocab-parallel group) must be
    run with that ``comm``: it is then called once per chunk, in order, in the calling thread, so that every
    rank issues the same collectives.
    """
    tensors = list(student.inputs)
    first = teacher[0] if teacher else None
    teacher_grad = teacher_grad and isinstance(first, DenseRows) and first.x.is_floating_point()
    if teacher_grad and isinstance(first, DenseRows):
        tensors.append(first.x)
    device = student.device
    block_rows = None
    blocks = block_elements(device)
    if blocks is not None and not comm.parallel and not _parallel._compiling():
        width = max([_row_width(student), *[_row_width(t) for t in teacher]])
        block_rows = max(1, blocks // max(width, 1))
    cfg = _Config(kernel, student, list(teacher), plan.rows, plan.coef, chunk_size, len(student.inputs), teacher_grad,
                  block_rows, plan.keep)
    if not (torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)):
        return _values_only(cfg, tensors)
    out, parts = _Engine.apply(cfg, *tensors)
    return out, parts


def _values_only(cfg: _Config, tensors: list[Any]) -> tuple[Tensor, Tensor]:
    """The loss without gradients (nothing requires one, or grad mode is off): no autograd function."""
    student = cfg.student
    n = student.inputs[0].shape[0]
    dtype = compute_dtype(*[t for t in tensors if t is not None and t.is_floating_point()],
                          *[t for s in cfg.teacher for t in s.inputs if t is not None and t.is_floating_point()])
    student.begin([False] * cfg.n_student, cfg.rows is None)
    if cfg.teacher_grad:
        cfg.teacher[0].begin([False], cfg.rows is None)
    per_row = torch.zeros(n, dtype=dtype, device=student.inputs[0].device) if cfg.coef is None else None
    with torch.no_grad():
        total = _loop(cfg, n, False, False, cfg.coef, dtype, per_row)
    return (per_row if per_row is not None else total.sum()), total.clone()
