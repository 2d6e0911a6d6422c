r"""Aligning two tokenizations of one text: spans both cover, the rows that predict them, span log-probabilities.

Two tokenizers split a text at different places. A *span* is a run of tokens on each side covering the same
characters, closed where both sides end a token at the same character and neither splits a character there
(byte-level tokenizers split a multi-byte character into tokens with equal offsets). At a span start both
models condition on the same text, so their next-token distributions there are comparable (the cross-tokenizer
losses of :mod:`.cross_tokenizer`); and the probability that each model gives the whole span is the product of
its token probabilities within the span (chain rule), so span log-probabilities
:math:`\log P(\text{span} \mid \text{prefix}) = \sum_{t \in \text{span}} \log p(x_t \mid x_{<t})` are comparable too:
their sum over a text is the text's log-likelihood, whatever the tokenizer.

* :func:`align_offsets`: spans from two lists of character offsets (``offset_mapping`` of fast tokenizers);
* :func:`token_offsets`: character offsets of *any* token sequence (also non-canonical ones, such as sampled
  completions) by decoding its prefixes;
* :func:`align_batch`: the spans of a batch as tensors (row of each span, predicting positions);
* :func:`span_logprobs`: the summed log-probabilities of the spans, differentiable;
* :func:`span_divergence`: any registry divergence between the two models' span events {span, not span}.

Tokens of zero width (special tokens) belong to no span; tokens after the last common end are left out; both
are counted (:attr:`Alignment.dropped_student`, :attr:`Alignment.dropped_teacher`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..torch.engine import chunked, compute_dtype
from ..torch.options import DistillOptions
from ._spec import DivergenceArg, divergence_arg, keywords_checked

__all__ = ["AlignedBatch", "Alignment", "align_batch", "align_offsets", "span_divergence", "span_logprobs",
           "token_offsets"]

Tensor = torch.Tensor


@dataclass(frozen=True)
class Alignment:
    """Spans of one text covered by both tokenizations (token index ranges [start, end) on each side)."""

    student_spans: tuple[tuple[int, int], ...]
    teacher_spans: tuple[tuple[int, int], ...]
    dropped_student: int = 0
    dropped_teacher: int = 0


def _pairs(offsets: Any, name: str) -> list[tuple[int, int]]:
    try:
        out = [(int(a), int(b)) for a, b in (offsets.tolist() if hasattr(offsets, "tolist") else offsets)]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of (start, end) character offsets") from None
    for k, (a, b) in enumerate(out):
        if a < 0 or b < a:
            raise ValueError(f"{name}[{k}] = ({a}, {b}) is not a (start, end) pair with 0 ≤ start ≤ end")
    return out


def align_offsets(student_offsets: Any, teacher_offsets: Any) -> Alignment:
    """Spans where both tokenizations of one text end a token at the same character.

    ``student_offsets`` and ``teacher_offsets`` are one (start, end) character range per token, in token
    order (a fast tokenizer's ``offset_mapping``, or :func:`token_offsets`); tokens of zero width (special
    tokens, whose offsets are (0, 0)) are skipped. A span closes at a character c when the current token of
    each side ends at c and the next token of neither side also ends at c (a character split across tokens
    is never a boundary). Identical tokenizations give one span per token of nonzero width.

    >>> from divergences.hf import align_offsets
    >>> s = [(0, 1), (1, 3), (3, 7)]          # "a", "bc", "defg"
    >>> t = [(0, 3), (3, 5), (5, 7)]          # "abc", "de", "fg"
    >>> align_offsets(s, t).student_spans, align_offsets(s, t).teacher_spans
    (((0, 2), (2, 3)), ((0, 1), (1, 3)))
    """
    s_all, t_all = _pairs(student_offsets, "student_offsets"), _pairs(teacher_offsets, "teacher_offsets")
    s = [(k, e) for k, (b, e) in enumerate(s_all) if e > b]
    t = [(k, e) for k, (b, e) in enumerate(t_all) if e > b]
    s_spans: list[tuple[int, int]] = []
    t_spans: list[tuple[int, int]] = []
    i = j = 0
    gi = gj = 0  # first (filtered) token of the open span on each side
    while i < len(s) and j < len(t):
        se, te = s[i][1], t[j][1]
        if se < te:
            i += 1
        elif se > te:
            j += 1
        else:
            s_next = i + 1 < len(s) and s[i + 1][1] <= se
            t_next = j + 1 < len(t) and t[j + 1][1] <= te
            if s_next or t_next:  # a character split across tokens: not a boundary
                i += int(s_next)
                j += int(t_next)
                continue
            s_spans.append((s[gi][0], s[i][0] + 1))
            t_spans.append((t[gj][0], t[j][0] + 1))
            i += 1
            j += 1
            gi, gj = i, j
    in_s = sum(b - a for a, b in s_spans)
    in_t = sum(b - a for a, b in t_spans)
    return Alignment(tuple(s_spans), tuple(t_spans), len(s_all) - in_s, len(t_all) - in_t)


def _decode(tokenizer: Any, ids: list[int]) -> str:
    if hasattr(tokenizer, "id_to_token"):  # a tokenizers.Tokenizer
        return tokenizer.decode(ids, skip_special_tokens=True)
    return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def token_offsets(tokenizer: Any, ids: Any) -> tuple[str, list[tuple[int, int]]]:
    """The text of ``ids`` and the character range of each token in it, by decoding every prefix.

    Works for any token sequence, also one the tokenizer would not produce from its text (sampled
    completions). Special tokens decode to nothing (zero width). A token that ends inside a character (a
    partial UTF-8 sequence of a byte-level tokenizer), or whose prefix is not a prefix of the whole text, gets
    the end of the next token that does end cleanly, so no span boundary is placed inside it. Cost: one decode
    per token (quadratic in the length, in the tokenizer's native code).
    """
    ids = [int(i) for i in (ids.tolist() if hasattr(ids, "tolist") else ids)]
    text = _decode(tokenizer, ids)
    ends: list[int | None] = []
    for k in range(len(ids)):
        prefix = _decode(tokenizer, ids[:k + 1])
        clean = text.startswith(prefix) and not (prefix.endswith("\ufffd") and text[len(prefix) - 1:len(prefix)] != "\ufffd")
        ends.append(len(prefix) if clean else None)
    resolved: list[int] = [0] * len(ids)
    nxt = len(text)
    for k in range(len(ids) - 1, -1, -1):
        end = ends[k]
        nxt = end if end is not None else nxt
        resolved[k] = nxt
    offsets, prev = [], 0
    for end in resolved:
        end = max(end, prev)
        offsets.append((prev, end))
        prev = end
    return text, offsets


@dataclass(frozen=True)
class AlignedBatch:
    """The aligned spans of a batch, as tensors (M spans in all).

    :ivar batch: (M,) the row of each span.
    :ivar student_row: (M,) the student position whose logits predict the span's first token (start − 1).
    :ivar teacher_row: (M,) the same on the teacher's side.
    :ivar student_spans: (M, 2) student token index ranges [start, end).
    :ivar teacher_spans: (M, 2) teacher token index ranges [start, end).
    :ivar dropped: spans left out (no predicting position on a side, or student tokens outside ``keep``).
    """

    batch: Tensor
    student_row: Tensor
    teacher_row: Tensor
    student_spans: Tensor
    teacher_spans: Tensor
    dropped: int = 0

    def __len__(self) -> int:
        return int(self.batch.numel())


def align_batch(alignments: Sequence[Alignment], keep: Tensor | None = None) -> AlignedBatch:
    """Gather the spans of one :class:`Alignment` per row into tensors.

    A span is kept when both sides have a position predicting its first token (start ≥ 1) and, with ``keep``
    (B, S_student) boolean (e.g. ``labels != -100``), every student token of the span is kept.
    """
    if keep is not None and (not isinstance(keep, torch.Tensor) or keep.ndim != 2 or keep.shape[0] != len(alignments)):
        raise ValueError(f"keep must be a (batch, seq) boolean tensor with {len(alignments)} rows")
    rows, ss, ts, dropped = [], [], [], 0
    for b, al in enumerate(alignments):
        if not isinstance(al, Alignment):
            raise ValueError(f"alignments[{b}] must be an Alignment, got {type(al).__name__}")
        for s, t in zip(al.student_spans, al.teacher_spans):
            ok = s[0] >= 1 and t[0] >= 1
            if ok and keep is not None:
                ok = s[1] <= keep.shape[1] and bool(keep[b, s[0]:s[1]].all())
            if ok:
                rows.append(b)
                ss.append(s)
                ts.append(t)
            else:
                dropped += 1
    long = torch.long
    s_t = torch.tensor(ss, dtype=long).reshape(-1, 2)
    t_t = torch.tensor(ts, dtype=long).reshape(-1, 2)
    return AlignedBatch(torch.tensor(rows, dtype=long), s_t[:, 0] - 1, t_t[:, 0] - 1, s_t, t_t, dropped)


def _token_logprob_rows(z: Tensor, y: Tensor, temperature: float) -> Tensor:
    zf = z.to(compute_dtype(z)) / temperature
    return zf.gather(-1, y.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(zf, dim=-1)


def span_logprobs(logits: Tensor, input_ids: Tensor, spans: Tensor, batch: Tensor, *,
                  temperature: float = 1.0) -> Tensor:
    r"""(M,) :math:`\sum_{t=\text{start}}^{\text{end}-1} \log p(x_t \mid x_{<t})` for each span, differentiable.

    ``logits`` (B, S, V) of the model whose tokens ``input_ids`` (B, S) are, position t predicting token t + 1;
    ``spans`` (M, 2) token ranges with start ≥ 1, ``batch`` (M,) their rows (as in :class:`AlignedBatch`).
    Only the positions inside spans are evaluated (in chunks, under checkpointing).
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 3:
        raise ValueError(f"logits must have shape (batch, seq, vocab), got {tuple(getattr(logits, 'shape', ()))}")
    if not isinstance(input_ids, torch.Tensor) or tuple(input_ids.shape) != tuple(logits.shape[:2]):
        raise ValueError(f"input_ids must have the shape {tuple(logits.shape[:2])} of the logits' leading axes")
    if spans.numel() == 0:
        return logits.new_zeros(0, dtype=compute_dtype(logits))
    if int(spans[:, 0].min()) < 1 or int(spans[:, 1].max()) > logits.shape[1] or bool((spans[:, 1] <= spans[:, 0]).any()):
        raise ValueError("spans must be non-empty token ranges [start, end) with 1 ≤ start and end ≤ seq")
    length = spans[:, 1] - spans[:, 0]
    width = int(length.max())
    steps = torch.arange(width)
    pos = spans[:, :1] + steps  # (M, width) token positions
    inside = steps < length[:, None]
    pos = torch.where(inside, pos, spans[:, :1])
    b = batch[:, None].expand_as(pos)
    dev = logits.device
    rows = logits[b.reshape(-1).to(dev), (pos - 1).reshape(-1).to(dev)]
    tokens = input_ids[b.reshape(-1).to(input_ids.device), pos.reshape(-1).to(input_ids.device)].to(dev)
    lp = chunked(lambda z, y: _token_logprob_rows(z, y, float(temperature)), [rows, tokens], logits.shape[-1], None)
    lp = lp.reshape(pos.shape)
    return torch.where(inside.to(dev), lp, torch.zeros_like(lp)).sum(dim=-1)


def _binary(log_prob: Tensor) -> Tensor:
    """(…, 2) log-probabilities of {event, not event} from log P (log(1 − P) with no log 0 in a gradient)."""
    below = log_prob < 0
    rest = torch.log(-torch.expm1(torch.where(below, log_prob, torch.full_like(log_prob, -1.0))))
    rest = torch.where(below, rest, torch.full_like(rest, -math.inf))
    return torch.stack([log_prob.clamp(max=0.0), rest], dim=-1)


@keywords_checked(options=False)
def span_divergence(student_span_logprobs: Tensor, teacher_span_logprobs: Tensor, divergence: DivergenceArg = "kl", *,
                    reduction: str = "mean") -> Any:
    r"""D(teacher ‖ student) between the events {span, not span} of each span.

    With :math:`P = \exp(\text{teacher\_span\_logprobs})` and :math:`Q = \exp(\text{student\_span\_logprobs})`
    (from :func:`span_logprobs`), the divergence between the two-bucket distributions (P, 1 − P) and
    (Q, 1 − Q), computed by :func:`divergences.torch.divergence_loss` (any registered divergence between
    distributions, a name or a ``dv.spec(...)`` value with its parameters; ``reduction`` over spans). With identical tokenizers every span is one token, and this is the
    ordinary loss on the binary coarsening {observed token, rest}: ``topk_divergence_loss`` with the teacher's
    log-probability of the observed token as its single entry.
    """
    from ..torch.losses import divergence_loss

    div = divergence_arg(divergence, needs="distributions")
    for name, x in (("student_span_logprobs", student_span_logprobs), ("teacher_span_logprobs", teacher_span_logprobs)):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise ValueError(f"{name} must be a floating tensor of log-probabilities")
        if bool(torch.isnan(x).any()) or bool((x > 1e-6).any()):
            raise ValueError(f"{name} must hold log-probabilities (≤ 0, no NaN)")
    if student_span_logprobs.shape != teacher_span_logprobs.shape:
        raise ValueError(f"student_span_logprobs {tuple(student_span_logprobs.shape)} and teacher_span_logprobs "
                         f"{tuple(teacher_span_logprobs.shape)} must have the same shape")
    s = _binary(student_span_logprobs)
    t = _binary(teacher_span_logprobs.detach().to(s.device))
    return divergence_loss(s, t, div, options=DistillOptions(reduction=reduction))
