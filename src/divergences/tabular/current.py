"""Counting the current table on a profile's bins: broken columns (dropped, type changed, all
missing) become statuses, values outside the reference's range are counted in the same pass, and the
new columns are listed."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from .engines import Engine
from .errors import InputError
from .profile import QUANTILE_LEVELS, ColumnProfile, Profile
from .sorted_values import bin_counts_of, summary_of

__all__ = ["current_counts"]


def current_counts(prof: Profile, engine: Engine, names: list[str], with_quantiles: bool = False,
                   visit: Callable[[str, np.ndarray, np.ndarray | None], None] | None = None) -> dict[str, Any]:
    """Counts of the current table on the profile's bins. A column that broke is not an error but a
    ``status`` (column → (status, reason)): not in the current table (``"dropped"``), of another type
    (``"type changed"``: numbers became text, say), every value missing (``"all missing"``); its
    missing values are counted where they can be (``missing``: column → (missing, rows)). An empty
    current table is an :class:`InputError` naming it.

    With ``visit`` (the KS test on the values), the numeric columns are counted from their sorted
    values (:mod:`.sorted_values`, fetched once), and ``visit(column, values, counts)`` sees each."""
    schema = engine.schema()
    status: dict[str, tuple[str, str]] = {}
    for c in names:
        kind = prof.columns[c].kind
        if kind == "missing":
            continue
        if c not in schema:
            status[c] = ("dropped", "the column is not in the current table")
        elif schema[c] == "other" or _family(prof.columns[c].dtype) != _family(schema[c]):
            kinds = {"numeric": "numeric", "datetime": "a date/time", "text": "text"}
            was = kinds.get(_family(prof.columns[c].dtype), prof.columns[c].dtype)
            now = kinds.get(_family(schema[c]), f"of type {engine.type_name(c)}")
            status[c] = ("type changed", f"type changed: {was} in the reference, {now} in the current table")
    live = [c for c in names if c not in status and prof.columns[c].kind != "missing"]
    clash = [c for c in names if c in status and status[c][0] == "type changed"]
    other = [c for c in names if prof.columns[c].kind == "missing" and c in schema]
    missing = {}
    if clash or other:
        rows = engine.row_count()
        for c, (miss, _) in _missing_counts(engine, clash + other).items():
            missing[c] = (miss, rows)
            if c in clash and miss == rows and rows > 0:  # an all-NaN column is read as another type
                status[c] = ("all missing", "every value is missing in the current table")
    numeric = {c: np.asarray(prof.columns[c].edges) for c in live if prof.columns[c].kind in ("numeric", "datetime")}
    # two more edges per numeric column, just below the reference's minimum and at its maximum, count
    # the current values outside the reference's range in the same pass (merged back into the bins after)
    fine = {c: _range_edges(prof.columns[c], e) for c, e in numeric.items()}
    cats = {c: prof.columns[c].categories or [] for c in live if prof.columns[c].kind == "categorical"}
    # the unseen share: the <other> bucket when the kept categories are every reference value, else
    # the current values looked up in the reference's list (in the counting pass where the engine can)
    lookup = {c: seen for c in cats if (seen := prof.columns[c].seen) is not None and len(seen) != len(cats[c])}
    local, raw = {}, {}
    if visit is not None and numeric:
        rows_here = engine.row_count()
        for c, (values, value_counts) in engine.sorted_values_many(list(numeric)):
            local[c] = bin_counts_of(values, value_counts, rows_here, fine[c])
            if with_quantiles and prof.columns[c].quantiles is not None and values.size:
                every = values if value_counts is None else np.repeat(values, value_counts)
                summary = summary_of(every, rows_here, QUANTILE_LEVELS)
                if summary.finite > 0:
                    raw[c] = summary.quantiles
            visit(c, values, value_counts)
    rest = {c: e for c, e in fine.items() if c not in local}
    counts, unseen = engine.bin_counts_unseen(rest, cats, lookup) if (rest or cats) else ({}, {})
    counts.update(local)
    out_of_range = {}
    for c, e in numeric.items():
        counts[c], out_of_range[c] = _merge_range_bins(prof.columns[c], counts[c], fine[c], e)
    rows = engine.row_count() if not live else int(np.sum(counts[live[0]].counts)) + int(counts[live[0]].missing)
    if rows == 0:
        raise InputError("is empty (no rows)", source=engine.label)
    for c in live:
        if int(np.sum(counts[c].counts)) == 0:
            status[c] = ("all missing", "every value is missing in the current table")
    for c in cats:
        if prof.columns[c].seen is not None and c not in lookup:
            unseen[c] = int(counts[c].counts[-1])
    quantiles = {c: q for c, q in raw.items() if c not in status}
    if with_quantiles and visit is None:
        wanted = [c for c in numeric if prof.columns[c].quantiles is not None and c not in status]
        if wanted:
            summary = engine.numeric_summary(wanted, QUANTILE_LEVELS)
            quantiles = {c: summary[c].quantiles for c in wanted if summary[c].finite > 0}
    return {"counts": counts, "unseen": unseen, "quantiles": quantiles, "status": status, "missing": missing,
            "rows": rows, "out_of_range": out_of_range, "new_columns": [c for c in schema if c not in prof.columns
                                                                          and not _INDEX_NAME.match(c)]}


_INDEX_NAME = re.compile(r"^__index_level_\d+__$")


def _range_edges(cp: ColumnProfile, edges: np.ndarray) -> np.ndarray:
    """The profile's edges with the float just below the reference minimum and the maximum added."""
    extra = []
    if cp.minimum is not None and math.isfinite(cp.minimum):
        extra.append(np.nextafter(cp.minimum, -np.inf))
    if cp.maximum is not None and math.isfinite(cp.maximum):
        extra.append(cp.maximum)
    return np.unique(np.concatenate([np.asarray(edges, dtype=np.float64), np.asarray(extra, dtype=np.float64)]))


def _merge_range_bins(cp: ColumnProfile, counted, fine: np.ndarray, edges: np.ndarray):
    """(the counts on the profile's bins, (below the reference minimum, above its maximum)) from counts
    on the ``fine`` edges."""
    from .engines.base import BinCounts

    fine_counts = np.asarray(counted.counts)
    upper = np.append(fine, np.inf)  # the upper end of every fine bin
    target = np.searchsorted(np.asarray(edges, dtype=np.float64), upper, side="left")
    merged = np.bincount(target, weights=fine_counts, minlength=len(edges) + 1).astype(np.int64)
    below = int(fine_counts[0]) if cp.minimum is not None and fine.size and fine[0] < cp.minimum else 0
    above = int(fine_counts[-1]) if cp.maximum is not None and fine.size and fine[-1] == cp.maximum else 0
    return BinCounts(merged, counted.missing, counted.sums), (below, above)


def _missing_counts(engine: Engine, columns: list[str]) -> dict[str, tuple[int, int]]:
    """(missing, present) per column, as text (any type); columns the engine cannot read as text are left out."""
    try:
        return engine.missing_counts(columns)
    except Exception:  # one column of a type the engine cannot group (lists in pandas): count the others
        out = {}
        for c in columns:
            try:
                out.update(engine.missing_counts([c]))
            except Exception:  # noqa: BLE001 - that column's missing share is not computed (None)
                continue
        return out


def _family(kind: str) -> str:
    return {"numeric": "numeric", "datetime": "datetime", "string": "text", "boolean": "text"}.get(kind, "other")
