r"""Distillation between models with different tokenizers: ULD, the vocabulary union, entropic OT.

A teacher and a student that tokenize text differently have next-token distributions over different
vocabularies, and their positions do not line up. Three losses compare such distributions at positions
where both condition on the same text (the span starts found by :mod:`.alignment`):

* :func:`uld_loss`: Universal Logit Distillation (Boizard et al. 2024): both probability vectors sorted in
  decreasing order, the shorter padded with zeros, the L1 distance Σ_i |p↓_i − q↓_i|. It needs no token
  correspondence at all (it compares the shapes of the distributions, not which tokens carry the mass);
  on one vocabulary it is at most 2·TV (sorting never increases an L1 distance).
* :func:`vocabulary_divergence`: any registry divergence over the *union* of the vocabularies where tokens
  match by their decoded strings (:func:`vocabulary_map`): the K matched tokens keep their own buckets, and
  every unmatched token's mass goes to one tail bucket per side (the teacher's tokens the student lacks, and
  the student's tokens the teacher lacks), as the top-k teacher losses do with the teacher's tail. This is an
  exact coarsening, so for f-divergences the value is a lower bound of the divergence the two models would
  have on a common vocabulary (data-processing inequality). With identical tokenizers K = V, the tails are
  empty and the value *is* :func:`divergences.torch.divergence_loss`.
* :func:`transport_loss`: entropic optimal transport between the teacher's and the student's top-k tokens,
  with a string-similarity ground cost (tokens are points, embedded by their character n-grams; cost
  ‖x − y‖² = 2 − 2·cosine of their n-gram profiles, 0 between equal strings), solved by
  :func:`divergences.samples.sinkhorn` (log domain, ε-scaling, envelope-theorem gradients, convergence checked).

Peers: TRL's ``GOLDTrainer`` (``ULDLoss``: sorted L1 after aligning by byte offsets and merging split
tokens; its "hybrid" mode matches tokens by their raw vocabulary strings and applies a JSD to the matched
ones and the sorted L1 to the rest) — our union keeps every unmatched mass in the tails instead of comparing
sub-distributions that do not sum to one; ms-swift and NeMo-RL ask for the same capability.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..torch.engine import checked_options, checked_pair, chunked, compute_dtype, kept, reduce
from ..torch.options import DistillOptions
from ._spec import DivergenceArg, divergence_arg, keywords_checked

__all__ = ["VocabularyMap", "ngram_embedding", "token_strings", "transport_loss", "uld_loss", "vocabulary_divergence",
           "vocabulary_map"]

Tensor = torch.Tensor

_UNMATCHED = ("tail", "drop")


# ---------------------------------------------------------------------------------------------
# token strings and the vocabulary union
# ---------------------------------------------------------------------------------------------


def _byte_decoder(tokenizer: Any) -> dict[str, int] | None:
    """The inverse of GPT-2's byte-to-unicode alphabet when ``tokenizer`` is byte-level, else None."""
    decoder = getattr(tokenizer, "byte_decoder", None)  # transformers' slow GPT-2 tokenizers
    if isinstance(decoder, Mapping):
        return dict(decoder)
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    dec = getattr(backend, "decoder", None)
    if dec is None or type(dec).__name__ != "ByteLevel":
        return None
    from tokenizers import pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()  # the 256 printable stand-ins, in GPT-2's byte order
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = {chr(c): b for b, c in zip(bs, cs)}
    if set(table) != set(alphabet):  # pragma: no cover - a tokenizers release with another alphabet
        return None
    return table


def _size(tokenizer: Any) -> int:
    if hasattr(tokenizer, "get_vocab_size"):
        try:
            return int(tokenizer.get_vocab_size(with_added_tokens=True))
        except TypeError:
            return int(tokenizer.get_vocab_size())
    return len(tokenizer)


def _raw_token(tokenizer: Any, i: int) -> str | None:
    if hasattr(tokenizer, "id_to_token"):
        return tokenizer.id_to_token(i)
    return tokenizer.convert_ids_to_tokens(i)


def _decode(tokenizer: Any, ids: list[int]) -> str:
    if hasattr(tokenizer, "id_to_token"):  # a tokenizers.Tokenizer
        return tokenizer.decode(ids, skip_special_tokens=False)
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def token_strings(tokenizer: Any, size: int | None = None) -> list[bytes | None]:
    """The bytes each token id stands for (None where they are not known exactly).

    Byte-level BPE tokenizers (GPT-2, Llama 3, Qwen, the ``tokenizers`` ``ByteLevel`` decoder) give exact bytes
    from their token strings, partial UTF-8 characters included. Others are decoded after an anchor token
    (``decode([a, i])`` minus ``decode([a])``, so that SentencePiece's leading-space marker ``▁`` reads as a
    space, not dropped as at the start of a text); a decoding with a replacement character (a partial UTF-8
    sequence) is not exact and gives None. Ids from ``len(tokenizer)`` up to ``size`` (embedding rows
    beyond the tokenizer, common in padded model vocabularies) are None.
    """
    n = _size(tokenizer)
    size = n if size is None else int(size)
    table = _byte_decoder(tokenizer)
    out: list[bytes | None] = []
    anchor: list[int] = []
    if table is None:
        try:
            enc = tokenizer.encode("a", add_special_tokens=False)
            anchor = list(enc.ids if hasattr(enc, "ids") else enc)[:1]
        except Exception:  # noqa: BLE001 - a tokenizer without a usable encode: no anchor
            anchor = []
    prefix = _decode(tokenizer, anchor) if anchor else ""
    for i in range(size):
        if i >= n:
            out.append(None)
            continue
        raw = _raw_token(tokenizer, i)
        if table is not None and raw is not None and all(c in table for c in raw):
            out.append(bytes(table[c] for c in raw))
            continue
        text = _decode(tokenizer, [*anchor, i])
        text = text[len(prefix):] if anchor and text.startswith(prefix) else _decode(tokenizer, [i])
        out.append(None if "\ufffd" in text else text.encode("utf-8"))
    return out


@dataclass(frozen=True)
class VocabularyMap:
    """Token pairs with the same string in two vocabularies (see :func:`vocabulary_map`).

    :ivar teacher_ids: (K,) int64, the teacher's id of the k-th matched pair; each id occurs at most once.
    :ivar student_ids: (K,) int64, the student's id of the k-th matched pair; each id occurs at most once.
    :ivar teacher_size: the teacher's vocabulary width (logit axis) the map is for.
    :ivar student_size: the student's vocabulary width.
    :ivar ambiguous_teacher: teacher ids left unmatched because another id of the same vocabulary decodes to
        the same bytes (or because their bytes are not known exactly).
    :ivar ambiguous_student: the same for the student's ids.
    """

    teacher_ids: Tensor
    student_ids: Tensor
    teacher_size: int
    student_size: int
    ambiguous_teacher: int = 0
    ambiguous_student: int = 0

    @property
    def matched(self) -> int:
        return int(self.teacher_ids.numel())

    def report(self) -> str:
        """One line: how much of each vocabulary is matched, and what goes to the tails."""
        return (f"{self.matched} tokens matched by string; teacher {self.teacher_size - self.matched} unmatched "
                f"({self.ambiguous_teacher} ambiguous or inexact), student {self.student_size - self.matched} "
                f"unmatched ({self.ambiguous_student} ambiguous or inexact): their mass goes to the tail buckets")

    def is_identity(self) -> bool:
        """True when every id of both vocabularies is matched with itself."""
        return (self.teacher_size == self.student_size == self.matched
                and bool(torch.equal(self.teacher_ids, self.student_ids))
                and bool(torch.equal(self.teacher_ids, torch.arange(self.matched))))


def _unique(strings: Sequence[bytes | None]) -> tuple[dict[bytes, int], int]:
    counts = Counter(s for s in strings if s is not None)
    table = {s: i for i, s in enumerate(strings) if s is not None and counts[s] == 1}
    return table, len(strings) - len(table)


def vocabulary_map(student_tokenizer: Any, teacher_tokenizer: Any, *, student_size: int | None = None,
                   teacher_size: int | None = None, pairs: Mapping[int, int] | None = None) -> VocabularyMap:
    """Match the two vocabularies by the bytes each token stands for (:func:`token_strings`).

    A token is matched when exactly one id of each vocabulary decodes to its bytes; ids sharing their bytes
    with another id of the same vocabulary, and ids whose bytes are not known exactly, stay unmatched (their
    mass goes to the tail buckets of :func:`vocabulary_divergence`, and :meth:`VocabularyMap.report` counts
    them). ``student_size`` / ``teacher_size`` are the widths of the models' logits (default: the tokenizer
    sizes; rows beyond a tokenizer are unmatched). ``pairs`` adds explicit matches ``{teacher_id: student_id}``
    (end-of-sequence tokens with different names, say); they replace string matches of either id.

    >>> from divergences.hf import vocabulary_map
    >>> class Chars:   # a toy tokenizer: one character per id
    ...     def __init__(self, chars): self.chars = chars
    ...     def __len__(self): return len(self.chars)
    ...     def convert_ids_to_tokens(self, i): return self.chars[i]
    ...     def decode(self, ids, **kw): return "".join(self.chars[i] for i in ids)
    ...     def encode(self, text, **kw): return [self.chars.index(c) for c in text]
    >>> m = vocabulary_map(Chars("abcd"), Chars("xbad"))
    >>> m.teacher_ids.tolist(), m.student_ids.tolist()     # b, a and d match; x and c go to the tails
    ([1, 2, 3], [1, 0, 3])
    """
    s_strings = token_strings(student_tokenizer, student_size)
    t_strings = token_strings(teacher_tokenizer, teacher_size)
    s_table, s_amb = _unique(s_strings)
    t_table, t_amb = _unique(t_strings)
    matches = {t_table[k]: s_table[k] for k in t_table if k in s_table}
    if pairs:
        if not isinstance(pairs, Mapping):
            raise ValueError(f"pairs must be a mapping {{teacher_id: student_id}}, got {type(pairs).__name__}")
        if len(set(pairs.values())) != len(pairs):
            raise ValueError("pairs: a student id is paired with two teacher ids")
        for t_id, s_id in pairs.items():
            if not (0 <= int(t_id) < len(t_strings)) or not (0 <= int(s_id) < len(s_strings)):
                raise ValueError(f"pairs: ({t_id}, {s_id}) is outside the vocabularies "
                                 f"({len(t_strings)} teacher, {len(s_strings)} student ids)")
        taken = {int(s) for s in pairs.values()}
        matches = {t: s for t, s in matches.items() if t not in pairs and s not in taken}
        matches.update({int(t): int(s) for t, s in pairs.items()})
    order = sorted(matches)
    return VocabularyMap(torch.tensor(order, dtype=torch.long),
                         torch.tensor([matches[t] for t in order], dtype=torch.long),
                         len(t_strings), len(s_strings), t_amb, s_amb)


# ---------------------------------------------------------------------------------------------
# the losses
# ---------------------------------------------------------------------------------------------


def _uld_rows(student: Tensor, teacher: Tensor, temperature: float) -> Tensor:
    dtype = compute_dtype(student, teacher)
    q = torch.softmax(student.to(dtype) / temperature, dim=-1).sort(dim=-1, descending=True).values
    p = torch.softmax(teacher.to(dtype) / temperature, dim=-1).sort(dim=-1, descending=True).values
    width = max(p.shape[-1], q.shape[-1])
    q = torch.nn.functional.pad(q, (0, width - q.shape[-1]))
    p = torch.nn.functional.pad(p, (0, width - p.shape[-1]))
    return (p - q).abs().sum(dim=-1)


def uld_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    *,
    temperature: float = 1.0,
    mask: Tensor | None = None,
    reduction: str = "mean",
    chunk_size: int | None = None,
) -> Any:
    r"""Universal Logit Distillation: :math:`\sum_i |p^\downarrow_i - q^\downarrow_i|` per position.

    p = softmax(``teacher_logits``/T) over the teacher's vocabulary (..., Vt) and q = softmax(``student_logits``/T)
    over the student's (..., Vs), with the same leading shape (positions already aligned, e.g. the span starts
    of :func:`divergences.hf.align_batch`); both sorted in decreasing order, the shorter padded with zeros. The
    value lies in [0, 2]; 0 iff the two sorted vectors are equal. ``mask`` (True = keep) and ``reduction``
    (``"mean"`` over kept positions, ``"sum"``, ``"batchmean"``, ``"none"``) as in
    :func:`divergences.torch.divergence_loss`. Gradients reach both logits through the sort (the teacher's too
    if it requires grad); rows are processed in chunks under activation checkpointing.

    Mapping: TRL GOLD's ``ULDLoss`` (``use_extended_uld=False``) is this on the first min(len) positions of each
    answer, summed over positions and divided by their number (our ``"mean"`` per sequence), at
    ``uld_student_temperature == uld_teacher_temperature`` = T, times ``uld_distillation_weight``; the ULD paper
    adds the student's cross-entropy (``hard_weight`` of the trainer).

    >>> import torch
    >>> from divergences.hf import uld_loss
    >>> p = torch.tensor([[0.7, 0.2, 0.1]]).log()          # teacher, 3 tokens
    >>> q = torch.tensor([[0.1, 0.6, 0.1, 0.2]]).log()     # student, 4 tokens
    >>> round(float(uld_loss(q, p)), 6)                    # |.7−.6| + |.2−.2| + |.1−.1| + |0−.1|
    0.2
    """
    opts = checked_options(temperature, reduction, chunk_size, -100)
    student_logits, teacher_logits = checked_pair(student_logits, teacher_logits, ("student_logits", "teacher_logits"),
                                                  same_vocab=False)
    lead = tuple(student_logits.shape[:-1])
    vs, vt = student_logits.shape[-1], teacher_logits.shape[-1]
    rows = chunked(lambda s, t: _uld_rows(s, t, opts.temperature),
                   [student_logits.reshape(-1, vs), teacher_logits.reshape(-1, vt)], max(vs, vt), opts.chunk_size)
    keep = kept(lead, rows.device, None, mask, -100)
    return reduce(rows.reshape(lead), keep, opts.reduction, lead)


def _safe_logsumexp(x: Tensor) -> Tensor:
    """logsumexp over the last axis, -inf (with zero gradient) for a row that is all -inf or empty."""
    if x.shape[-1] == 0:
        return x.new_full(x.shape[:-1] + (1,), -math.inf)
    some = torch.isfinite(x).any(dim=-1, keepdim=True)
    lse = torch.logsumexp(torch.where(some, x, torch.zeros_like(x)), dim=-1, keepdim=True)
    return torch.where(some, lse, torch.full_like(lse, -math.inf))


def bucket_logprobs(logits: Tensor, ids: Tensor, temperature: float, tail: bool) -> Tensor:
    """(rows, K [+ 1]) log-probabilities of the ``ids`` columns of softmax(logits/T) [and of the rest]."""
    dtype = compute_dtype(logits)
    logp = torch.log_softmax(logits.to(dtype) / temperature, dim=-1)
    kept_lp = logp.index_select(-1, ids)
    if not tail:
        return torch.log_softmax(kept_lp, dim=-1)  # conditioned on the matched tokens
    if ids.numel() == logp.shape[-1]:
        rest = logp.new_full(logp.shape[:-1] + (1,), -math.inf)
    else:
        rest = _safe_logsumexp(logp.index_fill(-1, ids, -math.inf))
    return torch.cat([kept_lp, rest], dim=-1)


@keywords_checked(options=False)
def vocabulary_divergence(student_logits: Tensor, teacher_logits: Tensor, vocab_map: VocabularyMap,
                          divergence: DivergenceArg = "kl", *, temperature: float = 1.0, mask: Tensor | None = None,
                          reduction: str = "mean", unmatched: str = "tail") -> Any:
    r"""D(teacher ‖ student) over the union of two vocabularies, tokens matched by string, per position.

    With the K matched pairs (t_k, s_k) of ``vocab_map`` and p = softmax(teacher/T), q = softmax(student/T):

    * ``unmatched="tail"`` (default): the teacher is (p_{t_1}, …, p_{t_K}, Σ_{unmatched} p) and the student
      (q_{s_1}, …, q_{s_K}, Σ_{unmatched} q) on K + 1 buckets; an exact coarsening of both vocabularies onto
      their common part (a lower bound of every f-divergence on a common refinement). Forward KL is +inf at a
      position where the teacher's unmatched tokens have mass but the student has no unmatched token at all
      (its vocabulary inside the teacher's): choose ``"reverse_kl"``, ``"js"``, or ``unmatched="drop"`` there.
    * ``unmatched="drop"``: both renormalised over the K matched tokens (each model conditioned on emitting
      a shared token); the dropped masses are not compared.

    Any registered divergence between distributions (a name or a ``dv.spec(...)`` value with its parameters:
    ``"kl"`` = KL(teacher ‖ student), ``dv.spec("js", beta=0.3)``, ...) is computed by :func:`divergences.torch.divergence_loss` on the buckets, so directions,
    ``mask``/``reduction`` and the numerics are those of the ordinary loss; with identical tokenizers (K = V,
    empty tails) the value equals ``divergence_loss(student_logits, teacher_logits, divergence)``.

    >>> import torch
    >>> from divergences.hf import VocabularyMap, vocabulary_divergence
    >>> from divergences.torch import divergence_loss
    >>> same = VocabularyMap(torch.arange(5), torch.arange(5), 5, 5)
    >>> s, t = torch.randn(3, 5), torch.randn(3, 5)
    >>> bool(torch.isclose(vocabulary_divergence(s, t, same, "js"), divergence_loss(s, t, "js")))
    True
    """
    from ..torch.losses import divergence_loss

    div = divergence_arg(divergence, needs="distributions")
    if unmatched not in _UNMATCHED:
        raise ValueError(f"unmatched must be one of {_UNMATCHED}, got {unmatched!r}")
    opts = checked_options(temperature, reduction, None, -100)
    if not isinstance(vocab_map, VocabularyMap):
        raise ValueError(f"vocab_map must be a VocabularyMap (from vocabulary_map), got {type(vocab_map).__name__}")
    student_logits, teacher_logits = checked_pair(student_logits, teacher_logits, ("student_logits", "teacher_logits"),
                                                  same_vocab=False)
    if student_logits.shape[-1] != vocab_map.student_size or teacher_logits.shape[-1] != vocab_map.teacher_size:
        raise ValueError(f"vocab_map is for vocabularies of {vocab_map.student_size} (student) and "
                         f"{vocab_map.teacher_size} (teacher) tokens, but the logits have {student_logits.shape[-1]} "
                         f"and {teacher_logits.shape[-1]}")
    if vocab_map.matched == 0:
        raise ValueError("vocab_map matches no token: the two vocabularies share no string")
    lead = tuple(student_logits.shape[:-1])
    tail = unmatched == "tail"
    s_ids = vocab_map.student_ids.to(student_logits.device)
    t_ids = vocab_map.teacher_ids.to(teacher_logits.device)
    vs, vt = student_logits.shape[-1], teacher_logits.shape[-1]
    s_b = chunked(lambda z: bucket_logprobs(z, s_ids, opts.temperature, tail), [student_logits.reshape(-1, vs)],
                  vs, None)
    with torch.set_grad_enabled(torch.is_grad_enabled() and teacher_logits.requires_grad):
        t_b = chunked(lambda z: bucket_logprobs(z, t_ids, opts.temperature, tail), [teacher_logits.reshape(-1, vt)],
                      vt, None).to(s_b.device)
    width = s_b.shape[-1]
    return divergence_loss(s_b.reshape(*lead, width), t_b.reshape(*lead, width), div, mask=mask,
                           options=DistillOptions(reduction=opts.reduction))


# ---------------------------------------------------------------------------------------------
# entropic OT with a string-similarity cost
# ---------------------------------------------------------------------------------------------


def ngram_embedding(strings: Sequence[bytes | None], *, n: tuple[int, ...] = (1, 2, 3), dim: int = 256) -> Tensor:
    """(len(strings), dim) unit vectors of hashed character n-gram counts (zero rows for None or empty).

    The hash is a fixed polynomial over the bytes (no per-process salt), so embeddings are reproducible.
    """
    out = torch.zeros(len(strings), dim, dtype=torch.float64)
    for row, s in enumerate(strings):
        if not s:
            continue
        for k in n:
            for i in range(max(len(s) - k + 1, 0)):
                h = 0
                for b in s[i:i + k]:
                    h = (h * 257 + b + 1) % 1_000_003
                out[row, (h * 31 + k) % dim] += 1.0
    norms = out.norm(dim=1, keepdim=True)
    return torch.where(norms > 0, out / norms.clamp_min(1e-300), out)


def transport_loss(student_logits: Tensor, teacher_logits: Tensor, student_points: Tensor, teacher_points: Tensor, *,
                   epsilon: float = 0.05, top_k: int = 32, temperature: float = 1.0, mask: Tensor | None = None,
                   reduction: str = "mean") -> Any:
    r"""Debiased entropic OT (Sinkhorn divergence) between the teacher's and the student's top-k tokens.

    Per position, the teacher's ``top_k`` most likely tokens with their probabilities renormalised over the k
    (weights a), and the student's (weights b); each token is a point (``teacher_points[id]``,
    ``student_points[id]``, e.g. :func:`ngram_embedding` of :func:`token_strings`, unit vectors, so the cost
    ‖x − y‖² = 2 − 2 cos is 0 between equal strings and at most 2), and the loss is
    :math:`S_\varepsilon(a, b) = OT_\varepsilon(a, b) - \tfrac12 OT_\varepsilon(a, a) - \tfrac12 OT_\varepsilon(b, b)`
    from :func:`divergences.samples.sinkhorn` (p = 2, batched over positions, converged to its ``tol`` or an
    error). Gradients reach the student's logits through b (envelope theorem); the selection of the top k is
    not differentiated. Mass outside the top k is not transported (k = V uses all of it). ``mask`` and
    ``reduction`` as in :func:`uld_loss`.

    >>> import torch
    >>> from divergences.hf import transport_loss, ngram_embedding
    >>> pts = ngram_embedding([b"a", b"b", b"ab"])
    >>> z = torch.tensor([[2.0, 0.0, 1.0]])
    >>> abs(float(transport_loss(z, z, pts, pts, top_k=3))) < 1e-6    # same strings, same weights
    True
    """
    from ..samples import sinkhorn

    opts = checked_options(temperature, reduction, None, -100)
    eps = float(epsilon) if isinstance(epsilon, (int, float)) and not isinstance(epsilon, bool) else math.nan
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"epsilon must be a finite number > 0, got {epsilon!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    student_logits, teacher_logits = checked_pair(student_logits, teacher_logits, ("student_logits", "teacher_logits"),
                                                  same_vocab=False)
    vs, vt = student_logits.shape[-1], teacher_logits.shape[-1]
    for name, pts, v in (("student_points", student_points, vs), ("teacher_points", teacher_points, vt)):
        if not isinstance(pts, torch.Tensor) or pts.ndim != 2 or pts.shape[0] != v:
            raise ValueError(f"{name} must be a ({v}, d) tensor (one point per token of its vocabulary), got "
                             f"{tuple(getattr(pts, 'shape', ())) or type(pts).__name__}")
    if student_points.shape[1] != teacher_points.shape[1]:
        raise ValueError(f"student_points and teacher_points must have the same dimension, got "
                         f"{student_points.shape[1]} and {teacher_points.shape[1]}")
    lead = tuple(student_logits.shape[:-1])
    dtype = compute_dtype(student_logits, teacher_logits, student_points)
    s_lp = torch.log_softmax(student_logits.reshape(-1, vs).to(dtype) / opts.temperature, dim=-1)
    t_lp = torch.log_softmax(teacher_logits.reshape(-1, vt).to(dtype).detach() / opts.temperature, dim=-1)
    ks, kt = min(top_k, vs), min(top_k, vt)
    s_top, s_idx = s_lp.topk(ks, dim=-1)
    t_top, t_idx = t_lp.topk(kt, dim=-1)
    if not (torch.isfinite(s_top).all() and torch.isfinite(t_top).all()):
        raise ValueError("top_k exceeds the number of unmasked tokens at some position; lower top_k")
    b = torch.softmax(s_top, dim=-1)
    a = torch.softmax(t_top, dim=-1)
    x = teacher_points.to(dtype)[t_idx]
    y = student_points.to(dtype)[s_idx]
    if x.shape[0] == 0:
        values = b.sum(-1) * 0.0
    else:
        values = sinkhorn(x, y, epsilon=eps, p=2, weights=(a, b))
    keep = kept(lead, values.device, None, mask, -100)
    return reduce(values.reshape(lead), keep, opts.reduction, lead)
