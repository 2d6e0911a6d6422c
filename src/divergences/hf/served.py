r"""Served teachers: top-k log-probabilities from OpenAI / vLLM ``logprobs`` responses, on the student's vocabulary.

No network here: give the parsed JSON (a dict, or its text). Formats read:

* chat completions: ``choices[i].logprobs.content`` = ``[{"token", "logprob", "bytes", "top_logprobs": [{"token",
  "logprob", "bytes"}, ...]}, ...]`` (OpenAI, vLLM);
* completions: ``choices[i].logprobs`` = ``{"tokens": [...], "token_logprobs": [...], "top_logprobs": [{token:
  logprob, ...}, ...]}`` (OpenAI legacy, vLLM);
* vLLM ``prompt_logprobs``: ``[None, {token_id: {"logprob", "rank", "decoded_token"}}, ...]``;
* token strings ``"token_id:1234"`` (vLLM's ``return_tokens_as_token_ids``) and integer keys are ids.

Each position's entries (the top ones and the sampled token) are mapped to student ids through ``vocab``
(token string → id; :func:`decoded_vocab` builds one from a tokenizer's decoded tokens, which is what
the servers return). Entries whose token the student lacks are dropped from the k kept entries and so
fall into the tail bucket of :func:`divergences.torch.topk_divergence_loss` (1 − Σ kept); they are
counted and reported (:attr:`ServedTopK.missing`, :meth:`ServedTopK.report`), never silently lost.
Different server tokens that map to the same student id are merged (probabilities added) and counted too.

Malformed responses are refused with a ValueError naming the position (``response: position 3:
top_logprobs[1] has no 'logprob'``): an entry that is not an object, a missing or non-numeric ``logprob``, a
positive or NaN log-probability, ``bytes`` that are not byte values, ``choices`` / ``content`` /
``top_logprobs`` of the wrong type, completions arrays (``tokens``, ``token_logprobs``, ``top_logprobs``) of
unequal lengths, a token listed twice in one position's top list (never merged with itself), and a position
whose listed probabilities sum to more than 1 (+10⁻³ for printing round-off).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..documents import parse_json

__all__ = ["ServedTopK", "decoded_vocab", "parse_logprobs", "served_teacher"]

_ID_PREFIX = "token_id:"
_POSITIVE_TOL = 1e-6  # log-probabilities in (0, tol] (printing round-off) are read as 0
_F32_LOWEST = -float(np.finfo(np.float32).max)
_MASS_TOL = 1e-3  # the listed probabilities of one position may exceed 1 by printing round-off, no more


@dataclass
class ServedTopK:
    """Top-k log-probabilities of one served sequence, in the student's vocabulary.

    :ivar logprobs: (T, k) float tensor, ``-inf`` in unused slots.
    :ivar indices: (T, k) int64 student ids, distinct per row (unused slots hold ids not used in that row).
    :ivar chosen: (T,) the student id of the token the server emitted at each position (-100 if unknown).
    :ivar missing: teacher entries whose token the student lacks (their mass is in the tail).
    :ivar missing_mass: (T,) probability those entries carried, per position.
    :ivar missing_tokens: how often each lacking token was seen.
    :ivar merged: entries merged into another with the same student id.
    :ivar truncated: entries dropped because a position had more than ``k`` (their mass is in the tail).
    """

    logprobs: Any
    indices: Any
    chosen: Any
    missing: int = 0
    missing_mass: Any = None
    missing_tokens: Counter = field(default_factory=Counter)
    merged: int = 0
    truncated: int = 0

    def __post_init__(self) -> None:
        import torch

        lp, ix, chosen = self.logprobs, self.indices, self.chosen
        if not isinstance(lp, torch.Tensor) or lp.ndim != 2 or not lp.is_floating_point():
            raise ValueError(f"logprobs must be a (T, k) float tensor, got {getattr(lp, 'shape', type(lp).__name__)}")
        if not isinstance(ix, torch.Tensor) or tuple(ix.shape) != tuple(lp.shape) or ix.is_floating_point():
            raise ValueError(f"indices must be an integer tensor of the shape {tuple(lp.shape)} of logprobs, got "
                             f"{getattr(ix, 'shape', type(ix).__name__)}")
        if not isinstance(chosen, torch.Tensor) or tuple(chosen.shape) != (lp.shape[0],):
            raise ValueError(f"chosen must have shape ({lp.shape[0]},), one id per position, got "
                             f"{getattr(chosen, 'shape', type(chosen).__name__)}")
        if self.missing_mass is None:
            self.missing_mass = torch.zeros(lp.shape[0])
        elif tuple(getattr(self.missing_mass, "shape", ())) != (lp.shape[0],):
            raise ValueError(f"missing_mass must have shape ({lp.shape[0]},), got "
                             f"{getattr(self.missing_mass, 'shape', type(self.missing_mass).__name__)}")

    def report(self) -> str:
        """One line: positions, k, and what went to the tail."""
        t, k = self.logprobs.shape
        worst = ", ".join(f"{tok!r}×{n}" for tok, n in self.missing_tokens.most_common(5))
        mass = float(self.missing_mass.max()) if t else 0.0
        return (f"{t} positions, k={k}: {self.missing} teacher entries not in the student vocabulary went to the tail "
                f"(largest share of a position {mass:.3g}{'; ' + worst if worst else ''}); {self.merged} merged; "
                f"{self.truncated} beyond k")

    def to_positions(self, seq_len: int, first: int):
        """(logprobs, indices) of shape (seq_len, k) aligned with a student input of length ``seq_len``.

        ``first`` is the position in the student's ``input_ids`` of the first served token; row j (the
        distribution of served token j) goes to position ``first − 1 + j``, which predicts it. Other rows
        are ``-inf`` (give them label -100).
        """
        import torch

        t, k = self.logprobs.shape
        if not (1 <= first and first - 1 + t <= seq_len):
            raise ValueError(f"first: {t} served tokens starting at position {first} do not fit in seq_len={seq_len}")
        lp = torch.full((seq_len, k), -math.inf, dtype=self.logprobs.dtype)
        ix = torch.arange(k, dtype=torch.long).expand(seq_len, k).clone()
        lp[first - 1 : first - 1 + t] = self.logprobs
        ix[first - 1 : first - 1 + t] = self.indices
        return lp, ix


def served_teacher(items: Sequence[ServedTopK], seq_len: int, firsts: Sequence[int], temperature: float | None = None):
    """A batch :class:`~divergences.hf.TopKTeacher` (B, seq_len, k) from served sequences (one per example)."""
    import torch

    from .loss import TopKTeacher

    if len(items) != len(firsts):
        raise ValueError(f"firsts: {len(firsts)} start positions for {len(items)} served sequences")
    if not items:
        raise ValueError("items is empty: give one served sequence per example")
    for j, (it, f) in enumerate(zip(items, firsts)):
        if not isinstance(it, ServedTopK):
            raise ValueError(f"items[{j}] must be a ServedTopK (from parse_logprobs), got {type(it).__name__}")
        if isinstance(f, bool) or not isinstance(f, (int, np.integer)):
            raise ValueError(f"firsts[{j}] must be an integer position, got {f!r}")
    k = max(it.logprobs.shape[1] for it in items)
    rows = []
    for it, f in zip(items, firsts):
        lp, ix = it.to_positions(seq_len, f)
        if lp.shape[1] < k:  # widen with -inf slots on unused ids
            extra = k - lp.shape[1]
            lp = torch.cat([lp, torch.full((seq_len, extra), -math.inf, dtype=lp.dtype)], 1)
            ix = torch.cat([ix, _unused(ix, extra)], 1)
        rows.append((lp, ix))
    return TopKTeacher(torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows]), temperature)


def _unused(ix, extra: int):
    import torch

    out = torch.empty((ix.shape[0], extra), dtype=torch.long)
    for r in range(ix.shape[0]):
        used, nxt, j = set(ix[r].tolist()), 0, 0
        while j < extra:
            if nxt not in used:
                out[r, j] = nxt
                j += 1
            nxt += 1
    return out


def decoded_vocab(tokenizer: Any) -> dict[str, int]:
    """Decoded token string → id (the strings servers return), first id kept when two decode alike.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` or a transformers tokenizer.
    """
    size = tokenizer.get_vocab_size() if hasattr(tokenizer, "get_vocab_size") else len(tokenizer)
    out: dict[str, int] = {}
    for i in range(size):
        out.setdefault(tokenizer.decode([i]), i)
    return out


def _kind(x: Any) -> str:
    return "null" if x is None else type(x).__name__


def _positions(response: Any, choice: int) -> list[tuple[Any, float | None, list[tuple[Any, float]]]]:
    """Per position: ((sampled token, its bytes), its log-prob, [((token, bytes), log-prob), ...]) from any supported
    format. Every malformed part is a ValueError naming where it is (``position t``, ``top_logprobs[j]``)."""
    if isinstance(response, (str, bytes, bytearray)):
        try:
            response = parse_json(response)
        except RecursionError:
            raise ValueError("response: nested too deeply to be a logprobs response") from None
        except ValueError as exc:  # JSONDecodeError included
            raise ValueError(f"response: not a JSON logprobs response ({exc})") from None
    if isinstance(response, Sequence) and not isinstance(response, Mapping):  # vLLM prompt_logprobs list
        return [_prompt_entry(p, t) for t, p in enumerate(response)]
    if not isinstance(response, Mapping):
        raise ValueError(f"response must be a JSON object (dict or text), got {type(response).__name__}")
    response = dict(response)
    if "choices" in response:
        choices = response["choices"]
        if not isinstance(choices, Sequence) or isinstance(choices, (str, bytes)):
            raise ValueError(f"response: 'choices' must be a list of objects, got {_kind(choices)}")
        if isinstance(choice, bool) or not isinstance(choice, int):
            raise ValueError(f"choice must be an integer, got {choice!r}")
        if not (0 <= choice < len(choices)):
            raise ValueError(f"choice: the response has {len(choices)} choices, asked for {choice}")
        response = choices[choice]
        if not isinstance(response, Mapping):
            raise ValueError(f"response: choices[{choice}] must be an object, got {_kind(response)}")
    if "prompt_logprobs" in response and response.get("logprobs") is None:
        prompt = response["prompt_logprobs"]
        if not isinstance(prompt, Sequence) or isinstance(prompt, (str, bytes)):
            raise ValueError(f"response: 'prompt_logprobs' must be a list, got {_kind(prompt)}")
        return [_prompt_entry(p, t) for t, p in enumerate(prompt)]
    lp = response.get("logprobs", response)
    if lp is None:
        raise ValueError("response carries no logprobs (ask the server for logprobs / top_logprobs)")
    if not isinstance(lp, Mapping):
        raise ValueError(f"response: 'logprobs' must be an object, got {_kind(lp)}")
    if "content" in lp:  # chat completions
        content = _list(lp["content"], "logprobs.content", none_is_empty=True)
        out = []
        for t, e in enumerate(content):
            if not isinstance(e, Mapping):
                raise ValueError(f"response: position {t}: the entry must be an object, got {_kind(e)}")
            sampled = (_token(e.get("token"), t, "token", optional=True), _bytes(e.get("bytes"), t, "bytes"))
            value = e.get("logprob")
            tops = []
            for j, top in enumerate(_list(e.get("top_logprobs"), f"position {t}: top_logprobs", none_is_empty=True)):
                where = f"top_logprobs[{j}]"
                if not isinstance(top, Mapping):
                    raise ValueError(f"response: position {t}: {where} must be an object, got {_kind(top)}")
                if "logprob" not in top:
                    raise ValueError(f"response: position {t}: {where} has no 'logprob'")
                tops.append(((_token(top.get("token"), t, f"{where}.token"), _bytes(top.get("bytes"), t,
                                                                                    f"{where}.bytes")),
                             top["logprob"]))
            out.append((sampled, value, tops))
        return out
    if "top_logprobs" in lp:  # completions
        top_list = _list(lp["top_logprobs"], "logprobs.top_logprobs")
        tokens = lp.get("tokens")
        values = lp.get("token_logprobs")
        for name, arr in (("tokens", tokens), ("token_logprobs", values)):
            if arr is not None and len(_list(arr, f"logprobs.{name}")) != len(top_list):
                raise ValueError(f"response: logprobs.{name} has {len(arr)} entries but logprobs.top_logprobs has "
                                 f"{len(top_list)}; the arrays must have one entry per position")
        out = []
        for t, tops in enumerate(top_list):
            if tops is not None and not isinstance(tops, Mapping):
                raise ValueError(f"response: position {t}: top_logprobs must be an object token → logprob, got "
                                 f"{_kind(tops)}")
            tok = None if tokens is None else _token(tokens[t], t, "tokens", optional=True)
            out.append(((tok, None), None if values is None else values[t],
                        [((_token(key, t, "top_logprobs key"), None), v) for key, v in (tops or {}).items()]))
        return out
    raise ValueError("response: no 'content' (chat) nor 'top_logprobs' (completions) in its logprobs")


def _list(value: Any, where: str, none_is_empty: bool = False) -> Sequence[Any]:
    if value is None and none_is_empty:
        return []
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes, bytearray)):
        raise ValueError(f"response: {where} must be a list, got {_kind(value)}")
    return value


def _token(value: Any, position: int, where: str, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"response: position {position}: {where} must be a token string, got {_kind(value)}")
    return value


def _bytes(value: Any, position: int, where: str) -> bytes | None:
    """A token's ``bytes`` (a list of integers 0..255 in the JSON), or None."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, Sequence) and not isinstance(value, str) and all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value):
        return bytes(value)
    raise ValueError(f"response: position {position}: {where} must be a list of byte values 0..255, got "
                     f"{value!r:.60}")


def _prompt_entry(p: Any, position: int):
    if p is None:  # the first prompt token has no distribution
        return ((None, None), None, [])
    if not isinstance(p, Mapping):
        raise ValueError(f"response: position {position}: prompt_logprobs entries must be objects or null, got "
                         f"{_kind(p)}")
    tops = []
    for key, v in p.items():
        try:
            token_id = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"response: position {position}: prompt_logprobs key {key!r} is not a token id") from None
        if isinstance(v, Mapping):
            if "logprob" not in v:
                raise ValueError(f"response: position {position}: prompt_logprobs[{key!r}] has no 'logprob'")
            v = v["logprob"]
        tops.append(((token_id, None), v))
    return ((None, None), None, tops)


def _resolver(vocab: Mapping[str, int] | Callable[[str], int | None], vocab_size: int | None):
    if isinstance(vocab, Mapping):
        size = vocab_size if vocab_size is not None else (max(vocab.values()) + 1 if vocab else 0)
        lookup: Callable[[str], int | None] = vocab.get
    elif callable(vocab):
        if vocab_size is None:
            raise ValueError("vocab_size is needed when vocab is a callable")
        size, lookup = vocab_size, vocab
    else:
        raise ValueError(f"vocab must be a token→id mapping or a callable, got {type(vocab).__name__}")

    def resolve(token: Any, raw_bytes: bytes | None, position: int) -> int | None:
        tok = token
        if isinstance(tok, str) and tok.startswith(_ID_PREFIX) and tok[len(_ID_PREFIX):].lstrip("-").isdigit():
            tok = int(tok[len(_ID_PREFIX):])
        if isinstance(tok, int):
            if not 0 <= tok < size:
                raise ValueError(f"response: position {position}: token id {tok} lies outside the student vocabulary "
                                 f"[0, {size}) (vocab_size); is the server's tokenizer the student's?")
            return tok
        i = lookup(tok) if tok is not None else None
        if i is None and raw_bytes:
            i = lookup(raw_bytes.decode("utf-8", errors="replace"))
        if i is None:
            return None
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < size:
            raise ValueError(f"vocab maps {tok!r} to {i!r}, not an id in [0, {size})")
        return int(i)

    return resolve, size


def parse_logprobs(response: Any, vocab: Mapping[str, int] | Callable[[str], int | None], *, k: int | None = None,
                   vocab_size: int | None = None, choice: int = 0) -> ServedTopK:
    """Read a served response's log-probabilities as a top-k teacher on the student's vocabulary.

    :param response: the response JSON (dict or text), one of its ``choices``, its ``logprobs`` object, or a vLLM
        ``prompt_logprobs`` list (formats in :mod:`divergences.hf.served`).
    :param vocab: student token string → id (or a callable returning an id or None for unknown tokens).
    :param k: columns kept per position (default: the most entries any position has); positions with more keep
        their k largest, the rest counted in ``truncated`` and left to the tail.
    :param vocab_size: the student vocabulary size (default: 1 + the largest id of ``vocab``).
    :param choice: which of ``choices`` to read.

    :returns: A :class:`ServedTopK`. The served log-probabilities are used as given (at the server's temperature),
        except that values in (0, 1e-6] (printing round-off of a certain token) are read as 0; a larger positive
        value or NaN is a ValueError.

    >>> resp = {"choices": [{"logprobs": {"content": [
    ...     {"token": "a", "logprob": -0.2, "top_logprobs": [{"token": "a", "logprob": -0.2},
    ...                                                      {"token": "zz", "logprob": -2.0}]}]}}]}
    >>> out = parse_logprobs(resp, {"a": 0, "b": 1})
    >>> out.indices.tolist(), out.missing, round(float(out.missing_mass[0]), 4)
    ([[0]], 1, 0.1353)
    """
    import torch

    resolve, size = _resolver(vocab, vocab_size)
    positions = _positions(response, choice)
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= size):
        raise ValueError(f"k must be an integer in [1, {size}], got {k!r}")
    missing, merged, truncated = 0, 0, 0
    lacking: Counter = Counter()
    rows: list[list[tuple[int, float]]] = []
    chosen: list[int] = []
    missing_mass: list[float] = []
    for t, (sampled, sampled_lp, tops) in enumerate(positions):
        entries = list(tops)
        listed = set()
        for (tok, raw), _ in entries:
            if (tok, raw) in listed:
                raise ValueError(f"response: position {t} lists token {tok!r} twice in its top log-probabilities; "
                                 f"a response lists each token once")
            listed.add((tok, raw))
        if sampled_lp is not None:
            sampled_lp = _check_logprob(sampled_lp, t)
        if sampled[0] is not None and sampled_lp is not None and all(e[0][0] != sampled[0] for e in entries):
            entries.append((sampled, sampled_lp))
        merged_row: dict[int, float] = {}
        lost = 0.0
        total = 0.0
        for (tok, raw), value in entries:
            value = _check_logprob(value, t)
            total += math.exp(value)
            sid = resolve(tok, raw, t)
            if sid is None:
                missing += 1
                lacking[tok] += 1
                lost += math.exp(value)
            elif sid in merged_row:
                merged += 1
                merged_row[sid] = float(torch.logaddexp(torch.tensor(merged_row[sid], dtype=torch.float64),
                                                        torch.tensor(value, dtype=torch.float64)))
            else:
                merged_row[sid] = value
        if total > 1.0 + _MASS_TOL:
            raise ValueError(f"response: position {t}: the listed probabilities sum to {total:.6g} > 1; not the "
                             f"top log-probabilities of one distribution")
        rows.append(sorted(merged_row.items(), key=lambda e: -e[1]))
        sid = resolve(sampled[0], sampled[1], t) if sampled[0] is not None else None
        chosen.append(-100 if sid is None else sid)
        missing_mass.append(lost)
    width = k if k is not None else max([len(r) for r in rows] + [1])
    if width > size:
        raise ValueError(f"k: {width} columns exceed the student vocabulary size {size}")
    lp = torch.full((len(rows), width), -math.inf, dtype=torch.float32)
    ix = torch.empty((len(rows), width), dtype=torch.long)
    for t, row in enumerate(rows):
        truncated += max(len(row) - width, 0)
        row = row[:width]
        used = {i for i, _ in row}
        fill = (i for i in range(size) if i not in used)
        for j in range(width):
            if j < len(row):
                ix[t, j], lp[t, j] = row[j][0], row[j][1]
            else:
                ix[t, j] = next(fill)
    return ServedTopK(lp, ix, torch.tensor(chosen, dtype=torch.long), missing,
                      torch.tensor(missing_mass, dtype=torch.float32), lacking, merged, truncated)


def _check_logprob(value: Any, position: int) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"response: position {position} has a non-numeric logprob {value!r:.60}")
    v = float(value)
    if math.isnan(v) or v > _POSITIVE_TOL:
        raise ValueError(f"response: position {position} has logprob {v!r}, not a log-probability (≤ 0)")
    if v < _F32_LOWEST:  # below float32's range: probability 0, stored as -inf
        return -math.inf
    return min(v, 0.0)
