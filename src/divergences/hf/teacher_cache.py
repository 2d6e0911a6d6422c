r"""Offline teachers: the teacher's top-k log-probabilities per position, stored ahead of time in Parquet.

:func:`write_teacher_cache` runs the teacher once over a dataset and writes, for every position t of every
example, the k largest log-probabilities of ``softmax(logits_t / T)``, their vocabulary indices and the
tail log-mass ``log(1 − Σ_k p)`` (formed in float64 as ``log(−expm1(logsumexp))``). Files hold
``rows_per_file`` examples each (``part-00000.parquet``, ...), are written under a temporary name and
renamed when complete, so an interrupted run resumes where it stopped: complete parts are checked
against the dataset and kept, the rest are written. ``manifest.json`` records what the numbers mean:
the model id, the temperature, k, the tokenizer hash, the stored dtype and the vocabulary size.

:class:`TeacherCache` reads a cache back as a ``torch.utils.data.Dataset`` after checking the manifest
against what the caller distils with (tokenizer, temperature, k, vocabulary size): any mismatch is a
ValueError naming the argument, never a silent mix. :class:`TeacherCacheCollator` pads its items into
the batch tensors :func:`divergences.torch.topk_divergence_loss` and :func:`divergences.hf.distillation_loss`
read (``teacher_topk_logprobs``, ``teacher_topk_indices``, (B, S, k)).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CacheManifest", "TeacherCache", "TeacherCacheCollator", "tokenizer_hash", "write_teacher_cache"]

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
MAX_PARTS = 1_000_000  # the caps of the manifest's schema (._cache_schema)
MAX_VOCAB = 2**31 - 1
_DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class CacheManifest:
    """What a teacher cache holds; two caches mix only if all fields agree."""

    model_id: str
    temperature: float
    k: int
    tokenizer_hash: str
    dtype: str
    vocab_size: int
    n_examples: int
    rows_per_file: int
    format_version: int = FORMAT_VERSION

    @classmethod
    def load(cls, path: str | os.PathLike) -> CacheManifest:
        """Read ``path/manifest.json``, checked against its declared schema (:mod:`._cache_schema`): unknown
        versions or fields, missing fields, wrong types, non-positive sizes, ``k`` beyond ``vocab_size`` or
        sizes beyond the caps are a ValueError naming the file and the field."""
        from ._cache_schema import read_manifest

        file = Path(path) / MANIFEST
        if not file.is_file():
            raise ValueError(f"path: {str(path)!r} holds no teacher cache ({MANIFEST} missing)")
        return cls(**read_manifest(file))

    def to_json(self) -> str:
        """The manifest as the JSON text of ``manifest.json``."""
        return json.dumps(asdict(self), indent=1, sort_keys=True, allow_nan=False)

    def save(self, path: str | os.PathLike, *, replace: bool = True) -> None:
        """Write ``path/manifest.json`` through the safe writer (:func:`divergences.files.write_atomic`).

        ``replace=False`` creates it only if it does not exist (``FileExistsError`` otherwise)."""
        from ..files import write_atomic

        write_atomic(Path(path) / MANIFEST, self.to_json(), replace=replace)

    @property
    def n_parts(self) -> int:
        return math.ceil(self.n_examples / self.rows_per_file)


def _vocab_of(tokenizer: Any) -> Mapping[str, int]:
    if isinstance(tokenizer, Mapping):
        return tokenizer
    get = getattr(tokenizer, "get_vocab", None)
    if get is None:
        raise ValueError("tokenizer must be a tokenizers.Tokenizer, a transformers tokenizer or a token→id mapping")
    try:
        return get(with_added_tokens=True)
    except TypeError:
        return get()


def tokenizer_hash(tokenizer: Any) -> str:
    """SHA-256 of the tokenizer's token → id table (added and special tokens included).

    The cache stores token *ids*; two tokenizers that give every id the same token string read it alike,
    whatever their merges or normalisers (the input ids are stored with the cache).
    """
    vocab = _vocab_of(tokenizer)
    table = sorted((int(i), str(t)) for t, i in vocab.items())
    return hashlib.sha256(json.dumps(table, ensure_ascii=False).encode("utf-8")).hexdigest()


def _part_name(i: int) -> str:
    return f"part-{i:05d}.parquet"


def _ids_of(example: Any, i: int) -> np.ndarray:
    ids = example.get("input_ids") if isinstance(example, Mapping) else example
    if ids is None:
        raise ValueError(f"dataset[{i}] has no 'input_ids'")
    arr = np.asarray(ids.tolist() if hasattr(ids, "tolist") else ids)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"dataset[{i}]['input_ids'] must be a non-empty 1-D sequence of token ids")
    if arr.min() < 0 or arr.max() > MAX_VOCAB:
        raise ValueError(f"dataset[{i}]['input_ids'] holds token id {int(arr.min() if arr.min() < 0 else arr.max())} "
                         f"outside [0, 2**31)")
    return arr.astype(np.int64)


def _teacher_topk(teacher: Any, seqs: list[np.ndarray], k: int, temperature: float, pad_token_id: int, device: Any):
    """Top-k log-probs (float32), indices and tail log-mass (float64) of each sequence, as NumPy arrays."""
    import torch

    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for j, s in enumerate(seqs):
        ids[j, : len(s)] = torch.from_numpy(s)
        mask[j, : len(s)] = 1
    ids, mask = ids.to(device), mask.to(device)
    with torch.no_grad():
        lp, ix, vocab = _topk_logprobs(teacher, ids, mask, k, temperature)
        s = torch.logsumexp(lp.double(), dim=-1).clamp(max=0.0)
        tail = torch.log(-torch.expm1(s))
    lp, ix, tail = lp.cpu().numpy(), ix.cpu().numpy().astype(np.int32), tail.cpu().numpy()
    return [(lp[j, : len(q)], ix[j, : len(q)], tail[j, : len(q)]) for j, q in enumerate(seqs)], vocab


def _device_of(teacher: Any) -> Any:
    """The device of a model teacher's first parameter ("cpu" for a callable, or a model without parameters)."""
    import torch

    first = next(teacher.parameters(), None) if isinstance(teacher, torch.nn.Module) else None
    return first.device if first is not None else "cpu"


def _topk_logprobs(teacher: Any, ids: Any, mask: Any, k: int, temperature: float, rows: int = 1 << 22):
    """Top-k of log_softmax(logits / T) per position: from the decoder's hidden states and the head, one chunk
    of positions at a time, for a causal LM with a plain linear head; from ``teacher(...)`` logits otherwise."""
    import torch

    from .loss import _decoder_hidden, lm_head

    weight = bias = hidden = None
    try:
        weight, bias = lm_head(teacher)
        hidden, _ = _decoder_hidden(teacher, {"input_ids": ids, "attention_mask": mask})
    except (ValueError, AttributeError, TypeError):
        hidden = None
    if hidden is None or weight is None:
        out = teacher(input_ids=ids, attention_mask=mask)
        logits = out.logits if hasattr(out, "logits") else out
        if not isinstance(logits, torch.Tensor) or logits.shape[:2] != ids.shape:
            raise ValueError(f"teacher must return logits of shape (batch, seq, vocab) = {tuple(ids.shape)} + (V,)")
        vocab = logits.shape[-1]
        if k > vocab:
            raise ValueError(f"k must be at most the teacher's vocabulary size {vocab}, got {k}")
        lp, ix = torch.log_softmax(logits.float() / temperature, dim=-1).topk(k, dim=-1)
        return lp, ix, vocab
    vocab = weight.shape[0]
    if k > vocab:
        raise ValueError(f"k must be at most the teacher's vocabulary size {vocab}, got {k}")
    flat = hidden.reshape(-1, hidden.shape[-1])
    step = max(1, rows // vocab)
    parts = []
    for start in range(0, flat.shape[0], step):
        z = torch.nn.functional.linear(flat[start : start + step], weight, bias).float()
        parts.append(torch.log_softmax(z / temperature, dim=-1).topk(k, dim=-1))
    lp = torch.cat([p[0] for p in parts]).reshape(*ids.shape, k)
    ix = torch.cat([p[1] for p in parts]).reshape(*ids.shape, k)
    return lp, ix, vocab


def _nested(values: np.ndarray, lengths: list[int], k: int | None, pa_type: Any):
    """A list<fixed_size_list<k>> (or list<value>) Arrow array from concatenated rows."""
    import pyarrow as pa

    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = pa.array(values.reshape(-1), type=pa_type)
    inner = flat if k is None else pa.FixedSizeListArray.from_arrays(flat, k)
    return pa.ListArray.from_arrays(pa.array(offsets), inner)


def _write_part(file: Path, start: int, seqs: list[np.ndarray], rows: list[tuple], k: int, dtype: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    lengths = [len(s) for s in seqs]
    np_dtype = np.float16 if dtype == "float16" else np.float32
    table = pa.table({
        "example": pa.array(np.arange(start, start + len(seqs), dtype=np.int64)),
        "input_ids": _nested(np.concatenate(seqs).astype(np.int32), lengths, None, pa.int32()),
        "topk_logprobs": _nested(np.concatenate([r[0] for r in rows]).astype(np_dtype), lengths, k,
                                 pa.float16() if dtype == "float16" else pa.float32()),
        "topk_indices": _nested(np.concatenate([r[1] for r in rows]), lengths, k, pa.int32()),
        "tail_logprob": _nested(np.concatenate([r[2] for r in rows]).astype(np.float32), lengths, None, pa.float32()),
    })
    from ..files import write_atomic

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_atomic(file, sink.getvalue().to_pybytes())


def _create_manifest(root: Path, manifest: CacheManifest) -> CacheManifest:
    """Create ``manifest.json`` once; when another writer (a rank, a second job) created it first, it must agree."""
    try:
        manifest.save(root, replace=False)
    except FileExistsError:
        existing = CacheManifest.load(root)
        _compare(existing, asdict(manifest), "write_teacher_cache")
        return existing
    return manifest


def _check_part(file: Path, start: int, seqs: list[np.ndarray], manifest: CacheManifest, part: int) -> None:
    """An existing part, on resumption: its schema and values against the manifest, its input_ids against the
    dataset."""
    from ._cache_schema import check_part, read_part

    cols = check_part(read_part(file), str(file), manifest, part)
    stored = cols["input_ids"].to_pylist()
    if len(stored) != len(seqs) or any(list(map(int, s)) != t for s, t in zip(seqs, stored)):
        raise ValueError(f"dataset: examples {start}..{start + len(seqs) - 1} differ from the input_ids stored in "
                         f"{file.name}; the cache was written for another dataset (or order)")


def write_teacher_cache(
    teacher: Any,
    dataset: Sequence[Any],
    path: str | os.PathLike,
    *,
    k: int,
    tokenizer: Any,
    model_id: str | None = None,
    temperature: float = 1.0,
    dtype: str = "float32",
    batch_size: int = 8,
    rows_per_file: int = 1024,
    pad_token_id: int = 0,
    device: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> CacheManifest:
    """Write the teacher's top-k log-probabilities for every position of ``dataset`` to ``path``.

    :param teacher: a causal LM (``teacher(input_ids=, attention_mask=)`` returning ``.logits``) or a callable
        returning logits (batch, seq, V). Run under ``torch.no_grad``; batches are right-padded. A causal LM with a
        plain linear head has its logits formed from its hidden states one chunk of positions at a time (about
        2**22 logits each), never for the whole batch at once.
    :param dataset: a sequence (``len`` and indexing; a ``datasets.Dataset`` works) of examples with ``input_ids``,
        or of id lists.
    :param k: entries kept per position (1 ≤ k ≤ V).
    :param tokenizer: the tokenizer of ``input_ids`` (its hash goes to the manifest).
    :param model_id: recorded in the manifest (default: ``teacher.name_or_path`` or the class name).
    :param temperature: the log-probabilities are of ``softmax(logits / temperature)``.
    :param dtype: ``"float32"`` (4 bytes per value) or ``"float16"`` (2 bytes; about 3 significant digits).
    :param rows_per_file: examples per Parquet file (the unit of resumption).
    :param progress: called as ``progress(parts_done, parts_total)`` after each file (the files of this rank).

    :returns: The manifest. Calling again on a complete cache checks it and writes nothing; on a partial one it
        writes the missing files. A manifest that disagrees with the arguments is a ValueError.

    Several processes: every file goes through the safe writer (:func:`divergences.files.write_atomic`:
    exclusive temporary file, atomic rename, links at the final name not followed) and ``manifest.json`` is
    created once (a second writer compares its arguments with it). Under ``torchrun`` (a ``torch.distributed``
    process group is initialised) every rank calls this function with the same arguments: part ``i`` is
    written by rank ``i mod world_size``, one collective first checks that the ranks agree (the same
    ValueError on every rank otherwise), one collective at the end waits for all ranks (a failure on one rank
    is raised on every rank), then each rank checks that every part is in its folder (the folder must be shared
    by all ranks) and returns the manifest. Independent processes on one cache (two jobs) both write every
    missing part; the cache stays valid, the work is done twice.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_VOCAB:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be a finite positive number, got {temperature!r}")
    for v, name in ((batch_size, "batch_size"), (rows_per_file, "rows_per_file")):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    n = len(dataset)
    if n == 0:
        raise ValueError("dataset is empty")
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    if model_id is None:
        model_id = str(getattr(getattr(teacher, "config", None), "name_or_path", "") or type(teacher).__name__)
    if not isinstance(model_id, str):
        raise ValueError(f"model_id must be a string, got {type(model_id).__name__}")
    if device is None:
        device = _device_of(teacher)
    if hasattr(teacher, "eval"):
        teacher.eval()
    tok_hash = tokenizer_hash(tokenizer)

    wanted = dict(model_id=model_id, temperature=t, k=k, tokenizer_hash=tok_hash, dtype=dtype, n_examples=n,
                  rows_per_file=rows_per_file)
    n_parts = math.ceil(n / rows_per_file)
    if n_parts > MAX_PARTS:
        raise ValueError(f"rows_per_file: {n} examples at rows_per_file={rows_per_file} make {n_parts} parts, "
                         f"beyond the cap of {MAX_PARTS}")
    rank, world, dist = _process_group()
    if world > 1:
        _agree_across_ranks(dist, rank, world, {**wanted, "path": str(root.resolve())})
    mine = [part for part in range(n_parts) if part % world == rank]
    failure: BaseException | None = None
    try:
        existing = CacheManifest.load(root) if (root / MANIFEST).is_file() else None
        if existing is not None:
            _compare(existing, wanted, "write_teacher_cache")
        for done, part in enumerate(mine):
            existing = _write_or_check_part(teacher, dataset, root, part, existing, wanted, batch_size, pad_token_id,
                                            device)
            if progress is not None:
                progress(done + 1, len(mine))
    except Exception as exc:  # under torchrun every rank must hear of it, not wait for the others forever
        if world == 1:
            raise
        failure = exc
    if world > 1:
        _finish_across_ranks(dist, rank, world, failure)
    present = set(os.listdir(root))
    missing = [_part_name(p) for p in range(n_parts) if _part_name(p) not in present]
    if missing:
        raise ValueError(f"path: after every rank wrote its parts, {str(root)!r} still lacks {missing[:5]}; the folder "
                         f"must be one shared folder for all ranks (a node-local disk gives each node a part of the "
                         f"cache)")
    return CacheManifest.load(root)


def _write_or_check_part(teacher: Any, dataset: Sequence[Any], root: Path, part: int,
                         existing: CacheManifest | None, wanted: Mapping[str, Any], batch_size: int,
                         pad_token_id: int, device: Any) -> CacheManifest | None:
    """Check part ``part`` if it exists, else run the teacher on its examples and write it; returns the manifest
    (created on the first batch the teacher runs, when the cache has none yet)."""
    rows_per_file, n = wanted["rows_per_file"], wanted["n_examples"]
    start, stop = part * rows_per_file, min((part + 1) * rows_per_file, n)
    seqs = [_ids_of(dataset[i], i) for i in range(start, stop)]
    file = root / _part_name(part)
    if file.is_file():
        if existing is None:
            existing = CacheManifest.load(root) if (root / MANIFEST).is_file() else None
        if existing is None:
            raise ValueError(f"path: {str(root)!r} holds {file.name} but no {MANIFEST}; it is not a teacher "
                             f"cache this function wrote (remove the parts or choose another folder)")
        _check_part(file, start, seqs, existing, part)
        return existing
    rows: list[tuple] = []
    k, t, dtype = wanted["k"], wanted["temperature"], wanted["dtype"]
    for b in range(0, len(seqs), batch_size):
        got, v = _teacher_topk(teacher, seqs[b : b + batch_size], k, t, pad_token_id, device)
        if existing is None:
            if v > MAX_VOCAB:
                raise ValueError(f"teacher: vocabulary size {v} is beyond the cache's cap {MAX_VOCAB} (int32 ids)")
            existing = _create_manifest(root, CacheManifest(vocab_size=v, **wanted))
        if v != existing.vocab_size:
            raise ValueError(f"teacher: vocabulary size {v} differs from the cache's {existing.vocab_size}")
        rows.extend(got)
    assert existing is not None  # the loop ran at least once: seqs is never empty
    top = max(int(s.max()) for s in seqs)
    if top >= existing.vocab_size:
        raise ValueError(f"dataset: examples {start}..{stop - 1} hold token id {top} outside the teacher's vocabulary "
                         f"[0, {existing.vocab_size})")
    _write_part(file, start, seqs, rows, k, dtype)
    return existing


def _process_group() -> tuple[int, int, Any]:
    """(rank, world size, torch.distributed) of an initialised process group, else (0, 1, None)."""
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch without distributed
        return 0, 1, None
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), dist
    return 0, 1, None


def _agree_across_ranks(dist: Any, rank: int, world: int, description: Mapping[str, Any]) -> None:
    """One collective: every rank's arguments; any difference is the same ValueError on every rank."""
    everyone: list[Any] = [None] * world
    dist.all_gather_object(everyone, dict(description))
    for r, other in enumerate(everyone):
        for name in description:
            if other.get(name) != everyone[0].get(name):
                arg = {"tokenizer_hash": "tokenizer", "n_examples": "dataset", "path": "path"}.get(name, name)
                raise ValueError(f"{arg}: the ranks of the process group called write_teacher_cache with different "
                                 f"{name} (rank 0: {everyone[0].get(name)!r}, rank {r}: {other.get(name)!r}); every "
                                 f"rank must give the same arguments (rank {rank} reporting)")


def _finish_across_ranks(dist: Any, rank: int, world: int, failure: BaseException | None) -> None:
    """One collective after the parts: if a rank failed, every rank raises (the failing one its own error)."""
    mine = None if failure is None else f"{type(failure).__name__}: {failure}"
    everyone: list[Any] = [None] * world
    dist.all_gather_object(everyone, mine)
    if failure is not None:
        raise failure
    failed = [(r, m) for r, m in enumerate(everyone) if m is not None]
    if failed:
        r, message = failed[0]
        raise ValueError(f"write_teacher_cache failed on rank {r} of {world}: {message}")


def _compare(manifest: CacheManifest, wanted: Mapping[str, Any], who: str) -> None:
    for name, value in wanted.items():
        have = getattr(manifest, name)
        same = math.isclose(have, value, rel_tol=1e-9) if name == "temperature" else have == value
        if not same:
            arg = "tokenizer" if name == "tokenizer_hash" else "dataset" if name == "n_examples" else name
            raise ValueError(f"{arg}: the teacher cache was written with {name}={have!r}, but {who} was given "
                             f"{value!r}; a cache is never mixed across {name}")


class TeacherCache:
    """A teacher cache read back as a map-style dataset of examples (a ``torch.utils.data.Dataset``).

    Item ``i`` is a dict of tensors: ``input_ids`` (S,), ``teacher_topk_logprobs`` (S, k) float32,
    ``teacher_topk_indices`` (S, k) int64, ``teacher_tail_logprob`` (S,), and ``teacher_temperature``.

    :param path: the cache folder.
    :param tokenizer: the student's tokenizer; its hash must equal the manifest's.
    :param temperature: the temperature the student is distilled at; must equal the manifest's.
    :param k: if given, must equal the manifest's k.
    :param vocab_size: if given (the student's vocabulary size), must equal the teacher's.

    An incomplete cache (missing parts) is an error: finish it with :func:`write_teacher_cache`.

    >>> import tempfile, torch
    >>> from divergences.hf import write_teacher_cache, TeacherCache
    >>> vocab = {f"t{i}": i for i in range(12)}
    >>> teacher = lambda input_ids, attention_mask: torch.randn(*input_ids.shape, 12)
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_teacher_cache(teacher, [[1, 2, 3], [4, 5]], folder, k=4, tokenizer=vocab, model_id="toy")
    >>> cache = TeacherCache(folder, tokenizer=vocab, temperature=1.0)
    >>> cache[1]["teacher_topk_logprobs"].shape
    torch.Size([2, 4])
    >>> TeacherCache(folder, tokenizer=vocab, temperature=2.0)
    Traceback (most recent call last):
    ...
    ValueError: temperature: the teacher cache was written with temperature=1.0, but TeacherCache was given 2.0; a cache is never mixed across temperature
    """

    def __init__(self, path: str | os.PathLike, *, tokenizer: Any, temperature: float, k: int | None = None,
                 vocab_size: int | None = None) -> None:
        self.path = Path(path)
        self.manifest = CacheManifest.load(self.path)
        wanted: dict[str, Any] = {"tokenizer_hash": tokenizer_hash(tokenizer), "temperature": float(temperature)}
        if k is not None:
            wanted["k"] = k
        if vocab_size is not None:
            wanted["vocab_size"] = vocab_size
        _compare(self.manifest, wanted, "TeacherCache")
        present = set(os.listdir(self.path))
        missing = [_part_name(i) for i in range(self.manifest.n_parts) if _part_name(i) not in present]
        if missing:
            raise ValueError(f"path: the teacher cache is incomplete, missing {missing[:5]}"
                             f"{' ...' if len(missing) > 5 else ''}; run write_teacher_cache again to finish it")
        self._loaded: tuple[int, dict[str, Any]] | None = None
        self._checked: dict[int, tuple[int, int, int]] = {}  # part → (inode, size, mtime) of the file checked whole

    def __len__(self) -> int:
        return self.manifest.n_examples

    def _part(self, part: int) -> dict[str, Any]:
        """The columns of part ``part``, read and checked against the manifest (:func:`._cache_schema.check_part`)."""
        if self._loaded is None or self._loaded[0] != part:
            from ._cache_schema import check_part, read_part

            file = self.path / _part_name(part)
            try:
                st = os.stat(file)
                signature = (st.st_ino, st.st_size, st.st_mtime_ns)
            except OSError:
                signature = None
            # shuffled access reloads parts: their values are checked once per unchanged file
            whole = signature is None or self._checked.get(part) != signature
            cols = check_part(read_part(file), str(file), self.manifest, part, values=whole)
            if signature is not None:
                self._checked[part] = signature
            self._loaded = (part, cols)
        return self._loaded[1]

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        n = len(self)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise IndexError(f"index {i!r} out of range for a cache of {n} examples")
        i = int(i) % n
        part, row = divmod(i, self.manifest.rows_per_file)
        cols = self._part(part)
        k = self.manifest.k

        def values(name: str) -> np.ndarray:
            cell = cols[name][row].values
            flat = cell.flatten() if hasattr(cell, "flatten") else cell
            return flat.to_numpy(zero_copy_only=False)

        ids = values("input_ids")
        s = ids.shape[0]
        lp = values("topk_logprobs").astype(np.float32).reshape(s, k)
        ix = values("topk_indices").astype(np.int64).reshape(s, k)
        return {
            "input_ids": torch.from_numpy(ids.astype(np.int64)),
            "teacher_topk_logprobs": torch.from_numpy(lp),
            "teacher_topk_indices": torch.from_numpy(ix),
            "teacher_tail_logprob": torch.from_numpy(values("tail_logprob").astype(np.float32)),
            "teacher_temperature": self.manifest.temperature,
        }


class TeacherCacheCollator:
    """Pads examples (of a :class:`TeacherCache`, or any dicts with ``input_ids``) into a batch.

    Right padding with ``pad_token_id``; ``attention_mask`` 0 and ``labels`` -100 at pads (``labels`` =
    ``input_ids`` unless the examples carry their own). Top-k entries at pads are ``-inf`` log-probabilities
    on indices 0..k-1 (never read: their labels are -100). All examples of a batch must come from caches
    with one temperature.
    """

    def __init__(self, pad_token_id: int = 0, ignore_index: int = -100) -> None:
        self.pad_token_id = int(pad_token_id)
        self.ignore_index = int(ignore_index)

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        if not features:
            raise ValueError("features is empty")
        lengths = [len(f["input_ids"]) for f in features]
        b, n = len(features), max(lengths)
        ids = torch.full((b, n), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((b, n), dtype=torch.long)
        labels = torch.full((b, n), self.ignore_index, dtype=torch.long)
        for j, (f, s) in enumerate(zip(features, lengths)):
            ids[j, :s] = torch.as_tensor(f["input_ids"], dtype=torch.long)
            mask[j, :s] = 1
            labels[j, :s] = torch.as_tensor(f.get("labels", f["input_ids"]), dtype=torch.long)
        batch: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "labels": labels}
        has = ["teacher_topk_logprobs" in f for f in features]
        if any(has):
            if not all(has):
                raise ValueError("features: some examples carry a top-k teacher and some do not")
            temps = {float(f.get("teacher_temperature", math.nan)) for f in features}
            if len(temps) != 1:
                raise ValueError(f"features: the examples come from caches at different temperatures {sorted(temps)}")
            ks = {f["teacher_topk_logprobs"].shape[-1] for f in features}
            if len(ks) != 1:
                raise ValueError(f"features: the examples have different k {sorted(ks)}")
            k = ks.pop()
            lp = torch.full((b, n, k), -math.inf, dtype=torch.float32)
            ix = torch.arange(k, dtype=torch.long).expand(b, n, k).clone()
            tail = torch.zeros((b, n), dtype=torch.float32)
            for j, (f, s) in enumerate(zip(features, lengths)):
                lp[j, :s] = f["teacher_topk_logprobs"]
                ix[j, :s] = f["teacher_topk_indices"]
                if "teacher_tail_logprob" in f:
                    tail[j, :s] = f["teacher_tail_logprob"]
            batch.update(teacher_topk_logprobs=lp, teacher_topk_indices=ix, teacher_tail_logprob=tail)
            t = temps.pop()
            if not math.isnan(t):
                batch["teacher_temperature"] = torch.tensor(t)
        return batch
