"""Mergeable profiles (whylogs' idea, exact here): count each partition of a table on the bins of a
reference profile, on its own machine, then merge the counts.

* :func:`profile_on_bins` (``profile(part, bins_from=ref)``, ``divergences profile part.parquet
  --bins-from ref.json``): the partition's counts, missing values, rows, distinct values with their
  counts, per-bin means, finite count, mean, standard deviation, minimum and maximum, on the reference
  profile's bins (edges and categories are copied, never recomputed);
* :func:`merge_profiles` (``Profile.merge``): the profile of the concatenated partitions. Counts,
  missing values, rows, distinct values and their counts, minimum and maximum are exact; the per-bin
  means, the mean and the standard deviation are combined exactly from the parts' counts (up to
  floating-point rounding: the pooled-variance formula of Chan, Golub and LeVeque). Percentiles
  cannot be merged and are left out (``quantiles=None``: no W1 on raw values for a merged profile).

A merged profile compares like a table (``compare(reference_profile, merged)``) and gives the
comparison of the concatenated data, except the tests that need the values (KS runs on the bins).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .engines import Engine
from .errors import InputError

__all__ = ["merge_profiles", "profile_on_bins"]


def _family(kind: str) -> str:
    return {"numeric": "numeric", "datetime": "datetime", "string": "text", "boolean": "text"}.get(kind, "other")


def profile_on_bins(engine: Engine, reference: Any, columns=None) -> Any:
    """The :class:`~.profile.Profile` of the table in ``engine`` on the bins of ``reference`` (a Profile)."""
    from .profile import ColumnProfile, Profile

    names = list(columns) if columns is not None else [c for c, cp in reference.columns.items()
                                                       if cp.kind != "missing"]
    schema = engine.schema()
    for c in names:
        if c not in reference.columns:
            raise InputError("unknown column: not in the profile given as bins_from", source=engine.label, column=c)
        if reference.columns[c].kind == "missing":
            raise InputError("cannot be counted: every value is missing in the profile given as bins_from "
                             "(it has no bins)", source=engine.label, column=c)
        if c not in schema:
            raise InputError("unknown column: in the profile given as bins_from but not here", source=engine.label,
                             column=c)
        if _family(schema[c]) != _family(reference.columns[c].dtype):
            raise InputError(f"has type {engine.type_name(c)} here but {reference.columns[c].dtype} in the profile "
                             "given as bins_from", source=engine.label, column=c)
    rows = engine.row_count()
    numeric = {c: np.asarray(reference.columns[c].edges, dtype=np.float64) for c in names
               if reference.columns[c].kind in ("numeric", "datetime")}
    cats = {c: reference.columns[c].categories for c in names if reference.columns[c].kind == "categorical"}
    counted = engine.bin_counts(numeric, {}, sums=True) if numeric else {}
    summaries = engine.numeric_summary(list(numeric), np.zeros(0)) if numeric else {}
    values = engine.category_summary(list(cats), 2**62) if cats else {}
    out = {}
    for c in names:
        ref = reference.columns[c]
        if c in numeric:
            bc, s = counted[c], summaries[c]
            with np.errstate(all="ignore"):
                means = np.where(bc.counts > 0, bc.sums / np.where(bc.counts > 0, bc.counts, 1),
                                 np.asarray(ref.locations if ref.locations is not None else np.zeros(bc.counts.size)))
            finite = int(s.finite)
            out[c] = ColumnProfile(c, ref.kind, ref.dtype, [int(x) for x in bc.counts], int(bc.missing),
                                   edges=list(ref.edges), locations=[float(x) for x in means],
                                   scale=float(s.std) if finite and math.isfinite(s.std) else None,
                                   minimum=float(s.minimum) if finite else None,
                                   maximum=float(s.maximum) if finite else None, finite=finite,
                                   mean=float(s.mean) if finite and math.isfinite(s.mean) else None)
        else:
            missing, present, top = values[c]
            position = {v: i for i, v in enumerate(ref.categories)}
            counts = np.zeros(len(ref.categories) + 1, dtype=np.int64)
            for v, n in top:
                counts[position.get(v, len(ref.categories))] += n
            out[c] = ColumnProfile(c, "categorical", ref.dtype, [int(x) for x in counts], int(missing),
                                   categories=list(ref.categories), seen=[v for v, _ in top],
                                   seen_counts=[int(n) for _, n in top])
    return Profile(out, reference.bins, reference.max_categories, rows, engine.label,
                   meta={"bins_from": reference.source})


def _same_bins(a: Any, b: Any, column: str) -> None:
    if a.kind != b.kind or (a.edges or []) != (b.edges or []) or (a.categories or []) != (b.categories or []):
        raise ValueError(f"Profile.merge: column {column!r} has other bins in one of the profiles (profile every "
                         "part with the same bins_from)")


def merge_profiles(first: Any, *others: Any) -> Any:
    """The profile of the concatenation of the partitions profiled in ``first`` and ``others`` (see
    the module); a ValueError names a column whose bins differ, or one missing from a part."""
    from .profile import ColumnProfile, Profile

    parts = [first, *others]
    for p in parts:
        if not isinstance(p, Profile):
            raise ValueError(f"Profile.merge: every part must be a Profile, got {type(p).__name__}")
    names = list(first.columns)
    for p in parts[1:]:
        if set(p.columns) != set(names):
            odd = sorted(set(p.columns) ^ set(names))[0]
            raise ValueError(f"Profile.merge: column {odd!r} is in some parts only")
        for c in names:
            _same_bins(first.columns[c], p.columns[c], c)
    out = {}
    for c in names:
        cols = [p.columns[c] for p in parts]
        head = cols[0]
        counts = np.sum([np.asarray(cp.counts, dtype=np.int64) for cp in cols], axis=0)
        missing = sum(int(cp.missing) for cp in cols)
        if head.kind == "missing":
            out[c] = ColumnProfile(c, "missing", head.dtype, [], missing)
        elif head.kind == "categorical":
            merged: dict[str, int] = {}
            for cp in cols:
                for v, n in zip(cp.seen or [], cp.seen_counts or [0] * len(cp.seen or [])):
                    merged[v] = merged.get(v, 0) + int(n)
            known = all(cp.seen_counts is not None for cp in cols)
            ordered = sorted(merged.items(), key=lambda vn: (-vn[1], vn[0]))
            out[c] = ColumnProfile(c, "categorical", head.dtype, [int(x) for x in counts], missing,
                                   categories=list(head.categories), seen=[v for v, _ in ordered],
                                   seen_counts=[n for _, n in ordered] if known else None)
        else:
            out[c] = _merge_numeric(c, cols, counts, missing)
    rows = sum(int(p.rows) for p in parts)
    skipped = [s for p in parts for s in p.skipped]
    unique = list({(s["column"], s["reason"]): s for s in skipped}.values())
    return Profile(out, first.bins, first.max_categories, rows, " + ".join(p.source for p in parts),
                   meta={"merged": [p.source for p in parts]}, skipped=unique)


def _merge_numeric(c: str, cols: list, counts: np.ndarray, missing: int) -> Any:
    from .profile import ColumnProfile

    head = cols[0]
    weights = np.array([np.asarray(cp.counts, dtype=np.float64) for cp in cols])
    locs = np.array([np.asarray(cp.locations if cp.locations is not None else np.zeros(counts.size)) for cp in cols])
    with np.errstate(all="ignore"):
        locations = np.where(counts > 0, np.sum(weights * locs, axis=0) / np.where(counts > 0, counts, 1), locs[0])
    finite = [cp.finite for cp in cols]
    mean = scale = None
    total = None
    if all(f is not None for f in finite):
        total = int(sum(finite))
        stats = [(cp.finite, cp.mean, cp.scale) for cp in cols if cp.finite]
        if total and all(m is not None and s is not None for _, m, s in stats):
            mean = float(sum(n * m for n, m, _ in stats) / total)
            var = sum(n * (s * s + (m - mean) ** 2) for n, m, s in stats) / total
            scale = float(math.sqrt(max(var, 0.0)))
    lows = [cp.minimum for cp in cols if cp.minimum is not None]
    highs = [cp.maximum for cp in cols if cp.maximum is not None]
    return ColumnProfile(c, head.kind, head.dtype, [int(x) for x in counts], missing, edges=list(head.edges),
                         locations=[float(x) for x in locations], scale=scale,
                         minimum=min(lows) if lows else None, maximum=max(highs) if highs else None,
                         finite=total, mean=mean)


def counts_from_profile(reference: Any, current: Any, names: list[str]) -> dict[str, Any]:
    """What :func:`~.compare.current_counts` gives, read from a profile of the current table made on
    the reference's bins (``bins_from``): counts, missing values, the unseen share from the values'
    counts; a column absent from it is ``dropped``, one with other bins is an InputError."""
    from .engines.base import BinCounts

    counts, unseen, status = {}, {}, {}
    for c in names:
        ref = reference.columns[c]
        if ref.kind == "missing":
            continue
        cur = current.columns.get(c)
        if cur is None:
            status[c] = ("dropped", "the column is not in the current profile")
            continue
        if cur.kind != ref.kind or (cur.edges or []) != (ref.edges or []) or \
                (cur.categories or []) != (ref.categories or []):
            raise InputError("has other bins in the current profile than in the reference (profile the current "
                             "table with bins_from=the reference profile)", source=current.source, column=c)
        counts[c] = BinCounts(np.asarray(cur.counts, dtype=np.int64), int(cur.missing))
        if int(np.sum(cur.counts)) == 0:
            status[c] = ("all missing", "every value is missing in the current table")
        if ref.kind == "categorical" and ref.seen is not None and cur.seen is not None and cur.seen_counts is not None:
            known = set(ref.seen)
            unseen[c] = sum(int(n) for v, n in zip(cur.seen, cur.seen_counts) if v not in known)
    return {"counts": counts, "unseen": unseen, "quantiles": {}, "status": status, "missing": {},
            "rows": int(current.rows), "out_of_range": {}, "new_columns": [c for c in current.columns
                                                                          if c not in reference.columns]}
