r"""Pretraining-data detection by divergence-based calibration (DC-PDD, Zhang et al. 2024).

For a text x₁..xₙ scored by a causal language model, the per-token score is

    αᵢ = p(xᵢ | x₍<ᵢ₎) · log(1 / f(xᵢ)),    f(x) = (c(x) + 1) / (N + V)

with c(x) the count of token x in a reference corpus of N tokens over a vocabulary of V (Laplace
smoothing). Only the first occurrence of each token in the text is kept, each αᵢ is clipped above
at ``a``, and the score is the mean of the kept, clipped αᵢ. αᵢ is the token's contribution to the
cross-entropy between the model's token probabilities and the corpus frequencies, which is why the
paper calls it divergence-based calibration. A larger score means "more likely seen in
pretraining".

Differences from the paper's repository (zhang-wei-chao/DC-PDD, ``com_det_sco.py``):

* the repository parses ``a`` from the command line as a *string* (``--a "0.01"``), so its clip
  ``ce[ce > a] = a`` compares floats with a string; here ``a`` must be a positive real number;
* the repository builds the Laplace-smoothed table but indexes the raw counts when scoring; here
  the smoothed frequencies are always used;
* as in the repository (``com_pro_dis.py``), the first token has no prediction and is not scored,
  and first occurrences are counted among the scored tokens;
* the repository returns ``-mean(α)`` (its ROC code treats "larger" as non-member); we return
  ``+mean(α)``: negate it to compare with the repository's numbers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ._checks import real
from ._tokens import scored_tokens

__all__ = ["FrequencyTable", "dcpdd_score", "first_occurrence_mask"]

_MAX_TOTAL = 2**63 - 1


def _ids(sequence: Any, tokenizer: Any = None) -> np.ndarray:
    if tokenizer is not None:
        encoded = tokenizer.encode(sequence)
        sequence = getattr(encoded, "ids", encoded)  # `tokenizers.Tokenizer` returns an Encoding
    if hasattr(sequence, "detach"):
        sequence = sequence.detach().cpu().numpy()
    return np.asarray(sequence, dtype=np.int64).reshape(-1)


class FrequencyTable:
    """Token counts of a reference corpus, built once and saved, read by :func:`dcpdd_score`.

    ``counts[v]`` is the number of occurrences of token ``v``; :meth:`frequencies` gives the
    Laplace-smoothed ``(c + 1) / (N + V)``.

    >>> table = FrequencyTable.from_corpus([[0, 1, 1], [2, 1]], vocab_size=4)
    >>> table.counts.tolist(), table.total
    ([1, 3, 1, 0], 5)
    >>> [round(float(f), 4) for f in table.frequencies()]
    [0.2222, 0.4444, 0.2222, 0.1111]
    """

    def __init__(self, counts: Any) -> None:
        self.counts = _checked_counts(counts)

    @property
    def vocab_size(self) -> int:
        return int(self.counts.size)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    @classmethod
    def from_corpus(cls, corpus: Iterable[Any], *, vocab_size: int, tokenizer: Any = None,
                    max_tokens: int | None = None) -> FrequencyTable:
        """Count tokens over ``corpus``: sequences of token ids, or texts with ``tokenizer=``.

        ``tokenizer`` is anything with ``encode(text)`` returning ids (a ``transformers`` tokenizer)
        or an ``Encoding`` with ``.ids`` (a ``tokenizers.Tokenizer``). ``max_tokens`` truncates each
        document as the paper's script does (``--max_tok``). An empty corpus (no token at all) or
        an id outside ``[0, vocab_size)`` raises ``ValueError``.
        """
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                       or max_tokens < 1):
            raise ValueError(f"max_tokens must be a positive integer or None, got {max_tokens!r}")
        counts = np.zeros(vocab_size, dtype=np.int64)
        for document in corpus:
            ids = _ids(document, tokenizer)
            if max_tokens is not None:
                ids = ids[:max_tokens]
            if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
                raise ValueError(f"corpus holds token id {int(ids.max()) if ids.max() >= vocab_size else int(ids.min())}"
                                 f" outside [0, vocab_size={vocab_size})")
            counts += np.bincount(ids, minlength=vocab_size)
        if counts.sum() == 0:
            raise ValueError("corpus is empty: no token was counted, the frequency table would be uniform")
        return cls(counts)

    def frequencies(self, smoothing: float = 1.0) -> np.ndarray:
        """Add-``smoothing`` frequencies ``(c + k) / (N + kV)`` (k = 1: Laplace, the paper's choice), in float64.

        ``smoothing`` must be a finite positive number (0 gives log(1/f) = inf for unseen tokens)."""
        if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float, np.floating, np.integer)) \
                or not (math.isfinite(float(smoothing)) and smoothing > 0):
            raise ValueError(f"smoothing must be a finite number > 0 (a zero frequency gives log(1/f) = inf), "
                             f"got {smoothing!r}")
        k = float(smoothing)
        return (self.counts.astype(np.float64) + k) / (float(self.total) + k * self.vocab_size)

    def save(self, path: str | os.PathLike) -> None:
        """Write the counts to ``path`` (NumPy ``.npz`` with ``counts`` and ``format_version``; no pickle),
        atomically (:func:`divergences.files.write_atomic`)."""
        import io

        from ..files import write_atomic

        buffer = io.BytesIO()
        np.savez(buffer, counts=self.counts, format_version=np.int64(1))
        write_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> FrequencyTable:
        """Read a table written by :meth:`save`, checked against its declared schema
        (:class:`divergences.llm._schemas.FrequencyTableDocument`): a file that is not a NumPy ``.npz`` without
        pickles, an unknown version or array, ``counts`` missing, not 1-D, not integer, negative or summing
        beyond int64 are a ValueError naming the file and the field."""
        import zipfile

        from ..documents import read_document
        from ._schemas import FrequencyTableDocument

        name = os.fspath(path)
        try:
            data = np.load(name, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("holds a single array, not the .npz archive FrequencyTable.save writes")
            with data:
                arrays: dict[str, Any] = {key: data[key] for key in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise ValueError(f"{name}: not a frequency table written by FrequencyTable.save ({exc})") from None
        version = arrays.get("format_version")
        if isinstance(version, np.ndarray) and version.ndim == 0 and np.issubdtype(version.dtype, np.integer):
            arrays["format_version"] = int(version)  # a 0-d integer array in the archive
        doc = read_document(FrequencyTableDocument, arrays, source_name=name)
        return cls(doc.counts)


def _checked_counts(value: Any) -> np.ndarray:
    """``value`` as an int64 array of counts: 1-D, non-empty, integer, ≥ 0, total < 2⁶³ (else ValueError)."""
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D array, got shape {arr.shape}")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"counts must be an integer array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.signedinteger) and (arr < 0).any():
        raise ValueError(f"counts must be non-negative, got {int(arr.min())} at token {int(arr.argmin())}")
    if arr.dtype.itemsize >= 8 and np.issubdtype(arr.dtype, np.unsignedinteger) and (arr > _MAX_TOTAL).any():
        raise ValueError(f"counts hold {int(arr.max())} at token {int(arr.argmax())}, beyond int64")
    arr = arr.astype(np.int64)
    # exact total in two 32-bit halves (an int64 sum would wrap around silently)
    high, low = arr >> 32, arr & 0xFFFFFFFF
    total = (int(high.sum(dtype=np.int64)) << 32) + int(low.sum(dtype=np.int64))
    if total > _MAX_TOTAL:
        raise ValueError(f"counts sum to {total}, beyond int64 ({_MAX_TOTAL})")
    return arr


def _frequencies(table: Any) -> np.ndarray:
    """A user's array of frequencies: 1-D, each finite in (0, 1], summing to at most 1 (+1e-6)."""
    if hasattr(table, "detach"):
        table = table.detach().cpu().numpy()
    try:
        freqs = np.asarray(table, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"table must be a FrequencyTable or a 1-D array of frequencies, got "
                         f"{type(table).__name__}") from None
    if freqs.ndim != 1:
        raise ValueError(f"table must be a 1-D array of frequencies, got shape {freqs.shape}")
    if not np.isfinite(freqs).all() or (freqs <= 0).any() or (freqs > 1).any():
        bad = int(np.flatnonzero(~(np.isfinite(freqs) & (freqs > 0) & (freqs <= 1)))[0])
        raise ValueError(f"table frequencies must be finite numbers in (0, 1] (smooth zero counts); entry {bad} is "
                         f"{freqs[bad]!r}")
    if math.fsum(freqs.tolist()) > 1 + 1e-6:
        raise ValueError(f"table frequencies sum to {math.fsum(freqs.tolist())!r} > 1: they are not frequencies of "
                         f"one corpus")
    return freqs


def first_occurrence_mask(input_ids: Any, attention_mask: Any = None) -> Any:
    """Boolean mask, True at the first position of each distinct token in each row (torch).

    Positions where ``attention_mask`` is 0 are never kept and do not count as occurrences.
    """
    import torch

    ids = torch.as_tensor(input_ids)
    if ids.ndim == 1:
        ids = ids.unsqueeze(0)
    valid = torch.ones_like(ids, dtype=torch.bool) if attention_mask is None else torch.as_tensor(
        attention_mask, device=ids.device).reshape(ids.shape).bool()
    # sentinel for padding: one past the largest id, so padded positions form their own group
    keyed = torch.where(valid, ids, ids.max() + 1)
    order = torch.sort(keyed, dim=-1, stable=True).indices
    sorted_ids = torch.gather(keyed, -1, order)
    starts = torch.ones_like(sorted_ids, dtype=torch.bool)
    starts[:, 1:] = sorted_ids[:, 1:] != sorted_ids[:, :-1]
    first = torch.zeros_like(starts).scatter(-1, order, starts)
    return first & valid


def dcpdd_score(logits: Any, input_ids: Any, table: FrequencyTable | Sequence[float] | Any, *, a: float = 0.01,
                attention_mask: Any = None, shifted: bool = True, return_tokens: bool = False) -> Any:
    r"""DC-PDD score per sequence: mean over first occurrences of min(p(xᵢ)·log(1/f(xᵢ)), a).

    :param logits: ``[batch, length, V]`` next-token logits of the model under test (a causal LM output).
    :param input_ids: ``[batch, length]`` the scored text. With ``shifted=True`` (the ``transformers``
        layout) ``logits[:, t]`` is the distribution of ``input_ids[:, t + 1]``: the first token has no
        prediction and is not scored. With ``shifted=False`` ``logits[:, t]`` scores ``input_ids[:, t]``.
    :param table: a :class:`FrequencyTable` (its Laplace-smoothed frequencies are used) or a 1-D array of
        frequencies f of length V (already smoothed: each finite in (0, 1], summing to at most 1; anything
        else is a ValueError naming ``table``).
    :param a: the clipping threshold (paper's default 0.01), a positive number.
    :param attention_mask: ``[batch, length]``, 0 on padding (left or right); padded tokens are not scored.
    :param shifted: the layout of ``logits`` against ``input_ids`` (see ``input_ids``).
    :param return_tokens: also return the per-token values.
    :returns: a ``[batch]`` tensor (float32 at least), or with ``return_tokens=True`` also the
        ``[batch, scored_length]`` clipped αᵢ and the mask of kept tokens.
    :raises ValueError: for a row left with no scored token, and for a bad argument, named.
    """
    import torch

    a = real(a, "a", low=0.0, low_open=True)  # the clipping threshold
    logp, ids, mask = scored_tokens(logits, input_ids, attention_mask, shifted)
    freqs = table.frequencies() if isinstance(table, FrequencyTable) else _frequencies(table)
    if freqs.shape != (logp.shape[-1],):
        raise ValueError(f"table has {freqs.shape[0] if freqs.ndim else 0} tokens but logits have "
                         f"V={logp.shape[-1]} (vocabulary mismatch)")
    token_p = torch.gather(logp, -1, ids.unsqueeze(-1)).squeeze(-1).exp()
    info = torch.as_tensor(-np.log(freqs), dtype=logp.dtype, device=logp.device)[ids]
    alpha = torch.clamp(token_p * info, max=a)
    keep = first_occurrence_mask(ids, mask)
    count = keep.sum(-1)
    score = torch.where(keep, alpha, torch.zeros_like(alpha)).sum(-1) / count.to(logp.dtype)
    return (score, alpha, keep) if return_tokens else score
