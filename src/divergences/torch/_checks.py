"""Checks of the tensors given to the token losses: types and shapes, and finiteness once per call.

:func:`scan_logits` reads each logits tensor with two plain reductions (row maxima, global minimum) and makes
one host synchronisation per call, never one per chunk: NaN or +inf anywhere, or a row that is all
``-inf`` (no probability left), is a ValueError naming the tensor. It also reports whether any
``-inf`` occurs, so that the kernels use the boundary-aware (masked) form only when needed. With
``validate=False`` nothing is read and the masked form is used (it is correct for every input, and it
traces under ``torch.compile(fullgraph=True)``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

Tensor = torch.Tensor


def check_not_meta(x: Any, name: str) -> None:
    """A meta tensor has a shape but no values: the losses read their inputs (checks, kept tokens)."""
    if isinstance(x, torch.Tensor) and x.is_meta:
        raise ValueError(f"{name} is a meta tensor (a shape without values); the losses read their inputs (the per-call "
                         "checks, the kept tokens): give real tensors, or trace with torch.compile / torch.export, "
                         "whose fake tensors the losses support, for shapes alone")


def check_logits_tensor(x: Any, name: str) -> Tensor:
    """``x`` is a floating tensor with a non-empty last (vocabulary) axis (and not a meta tensor)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    check_not_meta(x, name)
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor of logits, got {x.dtype}")
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"{name} must have a non-empty last (vocabulary) axis, got shape {tuple(x.shape)}")
    return x


def compiling() -> bool:
    """True while ``torch.compile`` traces: no host read, no data-dependent Python branch."""
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling())


def require(ok: Tensor, message: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error(message)`` unless the boolean tensor ``ok`` is true.

    Eager, this reads one boolean on the host (on an accelerator: one synchronisation per check, once per
    call). Traced by ``torch.compile`` it is an asynchronous assertion: ``torch._assert_async`` raises a
    RuntimeError with ``message`` when the compiled graph runs (on CUDA: a device-side assertion).
    """
    if compiling():
        torch._assert_async(ok, message)  # pyright: ignore[reportPrivateImportUsage]
    elif not bool(ok):
        raise error(message)


def _scan_traced(named: list[tuple[str, Tensor]], finite_only: tuple[str, ...]) -> bool:
    """The checks of :func:`scan_logits` as asynchronous assertions (no host read): under ``torch.compile``."""
    for name, x in named:
        x = x.detach()
        if x.numel() == 0:
            continue
        if name in finite_only:
            require(torch.isfinite(x).all(), f"{name} must be finite (it holds NaN or ±inf); pass validate=False "
                                             "to skip this check")
            continue
        hi = x.reshape(-1, x.shape[-1]).amax(dim=-1)
        require((~torch.isnan(hi) & (hi != math.inf)).all(),
                f"{name} holds NaN or +inf (logits must be finite or -inf for masked entries); pass validate=False "
                "to skip this check")
        require((hi != -math.inf).all(), f"{name} has a row that is all -inf (no entry has probability > 0); pass "
                                         "validate=False to skip this check")
    return True  # the masked (boundary-aware) form: no branch on whether a -inf occurs


def scan_logits(named: list[tuple[str, Tensor]], comm: Any, *, finite_only: tuple[str, ...] = (),
                overflow_at: float | None = None) -> bool:
    """Check every named tensor (one synchronisation in all); True if the kernels need the masked form.

    That is: a ``-inf`` entry occurs, or (with ``overflow_at``) the spread of the logits, max − min over all
    rows, exceeds ``overflow_at`` (then ``(x − max)/T`` may overflow to -inf inside the kernels: a temperature
    far below 1). Tensors named in ``finite_only`` (hidden states, weights) must be finite everywhere. Traced
    by ``torch.compile`` the checks are asynchronous assertions (RuntimeError when the graph runs) and the
    masked form is used.
    """
    if compiling() and not comm.parallel:
        return _scan_traced(named, finite_only)
    flags, rowmaxes = [], []
    ninf = -math.inf
    with torch.no_grad():
        for name, x in named:
            x = x.detach()
            if x.numel() == 0:
                flags.append(torch.tensor([0.0, 0.0, 0.0, ninf, ninf], dtype=torch.float64, device=x.device))
                rowmaxes.append(None)
                continue
            if name in finite_only:
                # one read, no temporary: the sum is NaN/±inf if an entry is; a finite sum proves every entry
                # finite. A non-finite sum of finite entries (overflow) is rechecked entry by entry below.
                bad = (~torch.isfinite(x.sum())).to(torch.float64)
                rest = torch.tensor([0.0, 0.0, ninf, ninf], dtype=torch.float64, device=x.device)
                flags.append(torch.cat([bad.reshape(1), rest]))
                rowmaxes.append(None)
                continue
            # row maxima (NaN propagates; +inf; all -inf) and one global minimum (any -inf; the spread): two
            # plain reductions, about 3× faster on a CPU than torch.aminmax over the rows
            hi = x.reshape(-1, x.shape[-1]).amax(dim=-1)
            lo = x.min()
            flags.append(torch.stack([torch.isnan(hi).any().to(torch.float64), (hi == math.inf).any().to(torch.float64),
                                      (lo == ninf).to(torch.float64), hi.amax().to(torch.float64),
                                      -lo.to(torch.float64)]))
            rowmaxes.append(hi)
        got = comm.max_rows(torch.stack(flags).to(named[0][1].device))  # one entry per tensor: never empty
        # rows that are all -inf: over the whole (possibly sharded) vocabulary
        dead = [None if m is None else comm.max_rows(torch.nan_to_num(m.float(), nan=0.0, posinf=0.0, neginf=ninf))
                for m in rowmaxes]
        dead_flags = torch.stack([(d == ninf).any() if d is not None else torch.zeros((), dtype=torch.bool,
                                  device=got.device) for d in dead]).to(torch.float64)
        table = torch.cat([got, dead_flags.unsqueeze(-1).to(got.device)], dim=-1).tolist()
    masked = False
    for (name, x), (nan, posinf, has_neg_inf, top, neg_bottom, all_neg_inf) in zip(named, table):
        if nan and name in finite_only and bool(torch.isfinite(x.detach()).all()):
            nan = 0  # the sum overflowed, every entry is finite (only on this rare path: an exact recheck)
        if nan or posinf:
            what = "NaN" if nan else "+inf"
            if name in finite_only:
                raise ValueError(f"{name} must be finite (it holds NaN or ±inf); pass validate=False to skip this check")
            raise ValueError(f"{name} holds {what} (logits must be finite or -inf for masked entries); "
                             f"pass validate=False to skip this check")
        if all_neg_inf:
            raise ValueError(f"{name} has a row that is all -inf (no entry has probability > 0); "
                             f"pass validate=False to skip this check")
        masked = masked or bool(has_neg_inf)
        if overflow_at is not None and name not in finite_only and not math.isnan(top + neg_bottom):
            masked = masked or top + neg_bottom > overflow_at
    return masked


def check_vocab(student_vocab: int, teacher_vocab: int, vocab_mismatch: str) -> None:
    if student_vocab != teacher_vocab and vocab_mismatch == "error":
        raise ValueError(
            f"vocabulary mismatch: student logits have {student_vocab} entries on the last axis, teacher logits "
            f"{teacher_vocab}; pass vocab_mismatch='crop' (compare the first {min(student_vocab, teacher_vocab)} "
            f"entries of both) or 'pad' (give the shorter side's extra entries probability 0)"
        )


def check_labels_range(labels: Tensor | None, rows: Tensor | None, vocab: int, keep: Tensor | None = None) -> None:
    """Labels must be given for the hard term and lie in [0, vocab) on kept tokens (``rows``, or the mask
    ``keep`` of a traced plan)."""
    if labels is None:
        raise ValueError("hard_weight != 0 needs labels (the hard targets)")
    kept = labels if rows is None else labels[rows]
    if not kept.numel():
        return
    inside = (kept >= 0) & (kept < vocab)
    if keep is not None:
        inside = inside | ~keep
    require(inside.all(), f"labels of kept tokens must lie in [0, {vocab}) (or equal ignore_index)")
