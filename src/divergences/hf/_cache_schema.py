r"""The declared schemas of a teacher cache: ``manifest.json`` (a pydantic model) and its Parquet parts.

Both are checked when read, here and nowhere else:

* :func:`read_manifest` validates ``manifest.json`` with :func:`divergences.documents.read_document`;
* :func:`check_part` checks a part's Arrow schema against the one the manifest implies (columns, types, k,
  stored dtype) and its values against what the manifest says the part holds (row count, example ids,
  lengths, token ids and top-k indices inside the vocabulary, distinct indices, log-probabilities ≤ 0 whose
  mass is at most 1, tails ≤ 0); a swapped, truncated or edited part is a ``ValueError`` naming the file and
  the column.

Caps (documented in ``docs/hf.md``): ``vocab_size`` < 2³¹ (ids are stored as int32), ``k`` ≤ ``vocab_size``,
at most :data:`MAX_PARTS` parts, ``rows_per_file`` < 2³¹.
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from ..documents import FieldError, read_document

FORMAT_VERSION = 1
MAX_PARTS = 1_000_000
MAX_VOCAB = 2**31 - 1
COLUMNS = ("example", "input_ids", "topk_logprobs", "topk_indices", "tail_logprob")
_MASS_TOL = {"float32": 1e-3, "float16": 1e-2}  # stored log-probabilities are rounded to the stored dtype


class ManifestDocument(BaseModel):
    """``manifest.json`` of a teacher cache (format version 1)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    format_version: Literal[1] = FORMAT_VERSION
    model_id: StrictStr
    temperature: float = Field(gt=0)
    k: StrictInt = Field(ge=1, le=MAX_VOCAB)
    tokenizer_hash: StrictStr = Field(pattern=r"^[0-9a-f]{64}$")
    dtype: Literal["float32", "float16"]
    vocab_size: StrictInt = Field(ge=1, le=MAX_VOCAB)
    n_examples: StrictInt = Field(ge=1, le=2**63 - 1)
    rows_per_file: StrictInt = Field(ge=1, le=2**31 - 1)

    @model_validator(mode="after")
    def _relations(self) -> ManifestDocument:
        if self.k > self.vocab_size:
            raise FieldError("k", f"{self.k} exceeds vocab_size {self.vocab_size} (k ≤ vocab_size)")
        parts = -(-self.n_examples // self.rows_per_file)
        if parts > MAX_PARTS:
            raise FieldError("n_examples", f"{self.n_examples} examples at rows_per_file={self.rows_per_file} make "
                             f"{parts} parts, beyond the cap of {MAX_PARTS}")
        return self


def read_manifest(file: str | os.PathLike) -> dict[str, Any]:
    """The validated fields of ``manifest.json`` (ValueError naming the file and the field)."""
    return read_document(ManifestDocument, file).model_dump()


def _fail(file: str, column: str, message: str) -> ValueError:
    return ValueError(f"{file}: column {column!r}: {message}; the part does not hold what {'manifest.json'} "
                      f"says (rewrite it: delete the file and run write_teacher_cache again)")


def expected_schema(k: int, dtype: str) -> Any:
    import pyarrow as pa

    value = pa.float16() if dtype == "float16" else pa.float32()
    return pa.schema([
        ("example", pa.int64()),
        ("input_ids", pa.list_(pa.int32())),
        ("topk_logprobs", pa.list_(pa.list_(value, k))),
        ("topk_indices", pa.list_(pa.list_(pa.int32(), k))),
        ("tail_logprob", pa.list_(pa.float32())),
    ])


def read_part(path: str | os.PathLike, columns: list[str] | None = None) -> Any:
    """The Arrow table of a part; an unreadable file is a ValueError naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise ValueError(f"{os.fspath(path)}: not a readable Parquet part of a teacher cache ({exc})") from None


def check_part(table: Any, file: str, manifest: Any, part: int, values: bool = True) -> dict[str, Any]:
    """Check a part's table against the manifest; returns its columns (combined chunks) when it passes.

    ``values=False`` checks the schema, the rows and the example ids only (for a file already checked whole and
    unchanged since: same inode, size and modification time)."""
    import pyarrow as pa

    want = expected_schema(manifest.k, manifest.dtype)
    names = list(table.schema.names)
    if sorted(names) != sorted(COLUMNS) or len(names) != len(COLUMNS):
        extra, lost = sorted(set(names) - set(COLUMNS)), sorted(set(COLUMNS) - set(names))
        column = (lost or extra or ["(columns)"])[0]
        raise _fail(file, column, f"the columns are {names}, expected {list(COLUMNS)}")
    for f in want:
        have = table.schema.field(f.name).type
        if have != f.type:
            raise _fail(file, f.name, f"has type {have}, expected {f.type} (k={manifest.k}, dtype={manifest.dtype})")
    start = part * manifest.rows_per_file
    stop = min(start + manifest.rows_per_file, manifest.n_examples)
    if table.num_rows != stop - start:
        raise _fail(file, "example", f"holds {table.num_rows} examples, expected {stop - start} "
                    f"(examples {start}..{stop - 1})")
    cols = {name: table.column(name).combine_chunks() for name in COLUMNS}
    for name, col in cols.items():
        if col.null_count:
            raise _fail(file, name, "holds null entries")
    example = cols["example"].to_numpy(zero_copy_only=False)
    if not np.array_equal(example, np.arange(start, stop, dtype=np.int64)):
        at = int(np.flatnonzero(example != np.arange(start, stop))[0])
        raise _fail(file, "example", f"row {at} holds example {int(example[at])}, expected {start + at} "
                    f"(a part swapped or renamed?)")
    if not values:
        return cols
    lengths = {}
    for name in ("input_ids", "topk_logprobs", "topk_indices", "tail_logprob"):
        col = cols[name]
        lengths[name] = np.diff(col.offsets.to_numpy(zero_copy_only=False))
        inner = col.values
        if inner.null_count or (isinstance(inner, pa.FixedSizeListArray) and inner.values.null_count):
            raise _fail(file, name, "holds null entries")
    if (lengths["input_ids"] < 1).any():
        raise _fail(file, "input_ids", f"row {int(np.flatnonzero(lengths['input_ids'] < 1)[0])} is empty")
    for name in ("topk_logprobs", "topk_indices", "tail_logprob"):
        if not np.array_equal(lengths[name], lengths["input_ids"]):
            at = int(np.flatnonzero(lengths[name] != lengths["input_ids"])[0])
            raise _fail(file, name, f"row {at} has {int(lengths[name][at])} positions but input_ids has "
                        f"{int(lengths['input_ids'][at])}")
    vocab = manifest.vocab_size
    ids = _flat(cols["input_ids"]).astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab):
        raise _fail(file, "input_ids", f"holds token id {int(ids.min() if ids.min() < 0 else ids.max())} outside "
                    f"[0, vocab_size={vocab})")
    k = manifest.k
    ix = _flat(cols["topk_indices"]).astype(np.int64).reshape(-1, k)
    if ix.size and (ix.min() < 0 or ix.max() >= vocab):
        raise _fail(file, "topk_indices", f"holds index {int(ix.min() if ix.min() < 0 else ix.max())} outside "
                    f"[0, vocab_size={vocab})")
    if k > 1 and ix.size:
        s = np.sort(ix, axis=-1)
        if (s[:, 1:] == s[:, :-1]).any():
            raise _fail(file, "topk_indices", "lists an index twice at one position (indices must be distinct)")
    lp = _flat(cols["topk_logprobs"]).astype(np.float64).reshape(-1, k)
    if np.isnan(lp).any() or (lp > 0).any():
        raise _fail(file, "topk_logprobs", "holds NaN or positive values (log-probabilities are ≤ 0)")
    if lp.size:
        top = lp.max(-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            mass = np.where(np.isfinite(top[:, 0]), top[:, 0] + np.log(np.exp(lp - np.where(np.isfinite(top), top, 0))
                                                                          .sum(-1)), -math.inf)
        if (mass > math.log1p(_MASS_TOL[manifest.dtype])).any():
            raise _fail(file, "topk_logprobs", f"a position's top-k probabilities sum to more than 1 "
                        f"(tolerance {_MASS_TOL[manifest.dtype]})")
    tail = _flat(cols["tail_logprob"]).astype(np.float64)
    if np.isnan(tail).any() or (tail > 0).any():
        raise _fail(file, "tail_logprob", "holds NaN or positive values (log-probabilities are ≤ 0)")
    return cols


def _flat(col: Any) -> np.ndarray:
    """All values of a list (of fixed-size lists) column, flattened (offsets respected), as NumPy."""
    import pyarrow as pa

    arr = col
    while pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
        arr = arr.flatten()
    return arr.to_numpy(zero_copy_only=False)
