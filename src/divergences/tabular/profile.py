"""Reproducible bins from a reference table alone, with their counts: a :class:`Profile`.

Numeric columns: right-closed bins with open ends on the reference's quantiles at levels
1/bins, …, (bins−1)/bins (linear interpolation; ties merged; see :mod:`divergences.binning`).
Categorical columns (text, booleans, and numeric columns named in ``categorical=``): the
``max_categories`` most frequent reference values (ties broken by value), then one bucket,
``<other>``, for every other value, including values never seen in the reference. Missing values
(NULL, NaN) are counted, not binned. Date and time columns are binned as numbers (seconds since
1970-01-01 UTC) and labelled in ISO 8601. A profile serialises to JSON (format
``divergences.profile/2``, checked key by key when read back), so a reference is binned once and
every later batch is compared with the same bins.

Columns that cannot be compared are not dropped silently: a column of a type that cannot be binned
(lists, structs, bytes, intervals) is listed in ``Profile.skipped`` with the reason, and so is a
pandas index stored in Parquet (``__index_level_0__``), which is not a feature.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..binning import edges_from_quantiles, quantile_levels
from .engines import Engine, opened
from .errors import InputError
from .options import MAX_BINS, MAX_CATEGORIES, check_int
from .sorted_values import bin_counts_of, distinct_count, distinct_finite, summary_of

__all__ = ["ID_MIN_ROWS", "ID_SHARE", "OTHER", "ColumnProfile", "Profile", "profile"]

#: the label of the categorical bucket for values outside the reference's kept categories
OTHER = "<other>"
#: a text or integer column is taken for an identifier (or free text) when it has at least this many
#: non-missing reference values and at least ID_SHARE of them are distinct
ID_MIN_ROWS = 50
ID_SHARE = 0.95
_INDEX = re.compile(r"^__index_level_\d+__$")
#: the levels of the quantiles kept per numeric column (percentiles 1 … 99), for W1 on raw values
QUANTILE_LEVELS = np.arange(1, 100) / 100


@dataclass
class ColumnProfile:
    """The bins of one reference column and the reference's counts on them."""

    name: str
    kind: str  # "numeric", "datetime", "categorical", or "missing" (every reference value is missing)
    dtype: str  # the engine's kind of the source column: "numeric", "string" or "boolean"
    counts: list[int]
    missing: int
    edges: list[float] | None = None
    categories: list[str] | None = None
    locations: list[float] | None = None  # per-bin mean of the finite reference values (numeric)
    scale: float | None = None  # standard deviation of the finite reference values (numeric)
    seen: list[str] | None = None  # every distinct reference value (categorical), for the unseen share
    quantiles: list[float] | None = None  # reference quantiles at QUANTILE_LEVELS (numeric)
    minimum: float | None = None  # smallest and largest finite reference value (numeric, time)
    maximum: float | None = None
    finite: int | None = None  # number of finite values and their mean (numeric, time): for Profile.merge
    mean: float | None = None
    seen_counts: list[int] | None = None  # the count of each value in seen (categorical)

    @property
    def rows(self) -> int:
        return int(sum(self.counts)) + int(self.missing)

    def labels(self) -> list[str]:
        """Human-readable bin labels: ``(-inf, 1.5]``, ``(1.5, 3]``, …, or the categories and ``<other>``.

        A bin that holds one value only (a constant reference column gets the bins below, at and above
        its value) reads ``= c``, and the bin below it ``(-inf, c)``."""
        if self.kind == "categorical":
            return [*(self.categories or ()), OTHER]
        show = _iso if self.kind == "datetime" else (lambda x: f"{x:.6g}")
        e = [-math.inf, *(self.edges or ()), math.inf]
        out = []
        for i in range(len(e) - 1):
            lo, hi = e[i], e[i + 1]
            if math.isfinite(lo) and math.isfinite(hi) and lo == math.nextafter(hi, -math.inf):
                out.append(f"= {show(hi)}")
                continue
            left = "-inf" if lo == -math.inf else show(lo)
            if hi == math.inf:
                out.append(f"({left}, inf)")
            elif i + 2 < len(e) and math.isfinite(e[i + 2]) and hi == math.nextafter(e[i + 2], -math.inf):
                out.append(f"({left}, {show(e[i + 2])})")
            else:
                out.append(f"({left}, {show(hi)}]")
        return out


@dataclass
class Profile:
    """Bins and reference counts for a set of columns (see :func:`profile`)."""

    columns: dict[str, ColumnProfile]
    bins: int
    max_categories: int
    rows: int
    source: str = "reference"
    meta: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"column", "reason", "where"}

    def merge(self, *others: Profile) -> Profile:
        """The profile of the concatenation of the partitions profiled here and in ``others``, each
        counted on the same bins (``profile(part, bins_from=reference)``): see :mod:`.merge`.

        >>> import pandas as pd
        >>> ref = profile(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}), bins=2)
        >>> a = profile(pd.DataFrame({"x": [1.0, 5.0]}), bins_from=ref)
        >>> b = profile(pd.DataFrame({"x": [2.0, None]}), bins_from=ref)
        >>> a.merge(b).columns["x"].counts, a.merge(b).columns["x"].missing
        ([2, 1], 1)
        """
        from .merge import merge_profiles

        return merge_profiles(self, *others)

    def to_json(self, path: str | None = None) -> str:
        """The profile as JSON text; also written (atomically) to ``path`` when given."""
        from .profile_schema import FORMAT  # pydantic: imported when a profile is written or read

        doc = {"format": FORMAT, "bins": self.bins, "max_categories": self.max_categories, "rows": self.rows,
               "source": self.source, "meta": self.meta, "skipped": self.skipped,
               "columns": [asdict(c) for c in self.columns.values()]}
        text = json.dumps(doc, indent=1, allow_nan=False, ensure_ascii=False)
        if path is not None:
            from .report import write_atomic

            write_atomic(path, text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> Profile:
        """A profile from JSON text or from a file holding it."""
        is_path = isinstance(text_or_path, os.PathLike)
        text = text_or_path = os.fspath(text_or_path)
        # a path (os.PathLike, an existing file, or text that is no JSON object) is read; a file named
        # "{2024}.json" is a path, not JSON text
        looks_like_text = text_or_path.lstrip().startswith("{") and ("\n" in text_or_path or
                                                                   not text_or_path.rstrip().endswith(".json"))
        if is_path or os.path.isfile(text_or_path) or not looks_like_text:
            try:
                with open(text_or_path, encoding="utf-8") as fh:
                    text = fh.read()
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise InputError(f"cannot read the profile: {why}", source=text_or_path) from None
        where = text_or_path if text is not text_or_path else "profile"
        try:
            doc = json.loads(text, parse_constant=_no_constant)
        except (json.JSONDecodeError, ValueError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or type(exc).__name__
            raise InputError(f"not a profile (invalid JSON: {why})", source=where) from None
        from .profile_schema import check_profile_document

        checked = check_profile_document(doc, where)
        cols = {c.name: ColumnProfile(**c.model_dump()) for c in checked.columns}
        return cls(cols, checked.bins, checked.max_categories, checked.rows, checked.source, dict(checked.meta),
                   [s.model_dump() for s in checked.skipped])


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a profile may hold")


def _iso(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(float(seconds), timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return f"{seconds:.6g}s"


def select_columns(engine: Engine, columns, categorical, exclude=(), ignore=()) -> tuple[list[str], list[str], list[dict]]:
    """(numeric-or-time, categorical, skipped) columns to compare, after checking that each named one
    exists; ``skipped`` lists, with the reason, the columns left out when ``columns`` is None.
    ``exclude``: columns to leave out (each must exist); ``ignore``: columns left out where present
    (a target, the time column of a monitor)."""
    schema = engine.schema()
    for argument, names in (("columns", columns), ("categorical", categorical)):
        if names is not None and isinstance(names, str):
            raise ValueError(f"{argument} must be a list of column names, not a string")
        for c in names or ():
            if not isinstance(c, str):
                raise ValueError(f"{argument}: column names are strings, got {c!r}")
            if c not in schema:
                raise InputError(f"unknown column (columns: {', '.join(schema) or 'none'})", source=engine.label,
                                 column=c)
    if isinstance(exclude, str):
        raise ValueError("exclude must be a list of column names, not a string")
    for c in exclude or ():
        if not isinstance(c, str):
            raise ValueError(f"exclude: column names are strings, got {c!r}")
        if c not in schema:
            raise InputError(f"unknown column in exclude (columns: {', '.join(schema) or 'none'})",
                             source=engine.label, column=c)
    exclude = set(exclude or ()) | set(ignore or ())
    forced = set(categorical or ())
    skipped = []
    if columns is None:
        chosen = []
        for c in schema:
            if c in exclude:
                continue
            if _INDEX.match(c):
                skipped.append({"column": c, "reason": "a pandas index stored in the file, not a feature",
                                "where": "reference"})
            elif schema[c] == "other" and c not in forced:
                skipped.append({"column": c, "reason": f"type {engine.type_name(c)} cannot be binned "
                                "(numbers, text, booleans, dates and times can)", "where": "reference"})
            elif schema[c] == "datetime" and c not in forced:
                skipped.append({"column": c, "reason": "a date/time column: it moves with time, so it drifts on "
                                "every time split (compared only when named in columns=)", "where": "reference"})
            else:
                chosen.append(c)
    else:
        chosen = [c for c in columns if c not in exclude]
    numeric, cats = [], []
    for c in chosen:
        kind = schema[c]
        if kind == "other" and c not in forced:
            raise InputError(f"has type {engine.type_name(c)}, which cannot be binned (use numbers, text, booleans, "
                             "dates or times)", source=engine.label, column=c)
        (cats if kind not in ("numeric", "datetime") or c in forced else numeric).append(c)
    if not numeric and not cats:
        raise InputError("has no column to compare", source=engine.label)
    return numeric, cats, skipped


#: "no limit" for the number of distinct values a category summary returns
EVERY = 2**62


def _integer_columns(engine: Engine, numeric: list[str]) -> list[str]:
    """The numeric columns of an integer type (identifier candidates)."""
    return [c for c in numeric if engine.schema()[c] == "numeric" and engine.is_integer(c)]


def _leave_out_identifiers(engine: Engine, numeric: list[str], cats: list[str], summaries: dict, summary: dict,
                           skipped: list, distinct: dict[str, int] | None = None):
    """(numeric, categorical) without the columns that look like identifiers or free text: text or
    integer columns with at least :data:`ID_MIN_ROWS` values, :data:`ID_SHARE` of them distinct
    (``distinct``: the integer columns' distinct counts when already known). Each is appended to
    ``skipped`` with the reason."""
    integers = [c for c in _integer_columns(engine, numeric) if summaries[c].nonmissing >= ID_MIN_ROWS]
    if distinct is not None:
        counts = {c: distinct[c] for c in integers}
    else:
        counts = engine.distinct_counts(integers) if integers else {}
    found = {}
    for c in cats:
        _, n, top = summary[c]
        found[c] = (len(top), n)
    for c in integers:
        found[c] = (counts[c], summaries[c].nonmissing)
    ids = [c for c, (d, n) in found.items() if n >= ID_MIN_ROWS and d >= ID_SHARE * n]
    for c in ids:
        d, n = found[c]
        what = "text" if c in cats else "integers"
        skipped.append({"column": c, "reason": f"looks like an identifier or free text ({what}: {d} distinct values "
                        f"in {n} non-missing rows); compared only when named in columns=", "where": "reference"})
    return [c for c in numeric if c not in ids], [c for c in cats if c not in ids]


def separating_edges(values: np.ndarray, bins: int) -> np.ndarray | None:
    """Edges for a column whose quantiles tied (fewer edges than ``bins − 1``), from its smallest
    distinct finite values (increasing, at least the first ``bins + 1``), so that no bin merges two
    distinct values that occur in the reference when the column has at most ``bins`` of them: one
    bin per distinct value (the largest in the open last bin); a constant column ``c`` gets the edges
    ``[c⁻, c]`` (c⁻ the float just below c), that is the bins below, at and above ``c``. None for a
    column with more distinct values (it keeps its quantile edges).

    >>> separating_edges(np.array([2.0]), 10).tolist(), separating_edges(np.array([1.0, 2.0, 5.0]), 10).tolist()
    ([1.9999999999999998, 2.0], [1.0, 2.0])
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 1:
        return np.array([np.nextafter(values[0], -np.inf), values[0]])
    if 1 < values.size <= bins:
        return values[:-1]
    return None


def separate_distinct_values(engine: Engine, tied: dict[str, np.ndarray], bins: int) -> dict[str, np.ndarray]:
    """:func:`separating_edges` of the ``tied`` columns, their distinct values asked of the engine."""
    found = engine.distinct_values(list(tied), bins) if tied else {}
    return {c: e for c, v in found.items() if (e := separating_edges(v, bins)) is not None}


def _numeric_from_values(engine: Engine, numeric: list[str], rows: int, asked: np.ndarray, cut: int, bins: int,
                         find_ids: bool, keep) -> tuple[dict, dict[str, int], dict, dict]:
    """(summaries, distinct counts of the integer columns, edges, counts with sums) of the numeric
    columns, each from its sorted values, fetched once (:mod:`.sorted_values`)."""
    integers = set(_integer_columns(engine, numeric)) if find_ids else set()
    summaries, distinct, edges, counted = {}, {}, {}, {}
    for c, (values, counts) in engine.sorted_values_many(numeric):
        if counts is not None:  # pragma: no cover - engines with local values return every value
            values, counts = np.repeat(values, counts), None
        s = summaries[c] = summary_of(values, rows, asked)
        if c in integers:
            distinct[c] = distinct_count(values, None)
        if s.finite:
            e = edges_from_quantiles(s.quantiles[:cut], s.maximum, s.minimum)
            if len(e) < bins - 1:  # quantiles tied: one bin per distinct value where there are few
                separated = separating_edges(distinct_finite(values, None, bins), bins)
                if separated is not None:
                    e = separated
            edges[c] = e
            counted[c] = bin_counts_of(values, None, rows, e, sums=True)
        if keep is not None:
            keep(c, (values, None))
    return summaries, distinct, edges, counted


def profile(
    reference: Any,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    bins: int = 10,
    max_categories: int = 50,
    exclude: Sequence[str] = (),
    delimiter: str | None = None,
    quantiles: bool = False,
    ignore: Sequence[str] = (),
    decimal: str | None = None,
    bins_from: Profile | None = None,
) -> Profile:
    """Bin every column of ``reference`` (a file path or a dataframe) from the reference alone.

    ``columns`` limits the columns (default: every numeric, text and boolean column);
    ``categorical`` names numeric columns to treat as categories (codes); ``bins`` is the number of
    quantile bins for numeric columns (fewer where quantiles tie); ``max_categories`` caps the kept
    categories per column (the rest share the ``<other>`` bucket); ``exclude`` drops columns (each
    must exist; ``ignore`` drops them where they exist: a target, a time column); ``delimiter`` is the field separator of a CSV file (sniffed by default). Two passes over
    the data: summaries (quantiles, top values), then counts. ``quantiles=True`` also keeps the
    percentiles 1 … 99 of every numeric column (for ``compare(..., quantiles=True)``; exact
    quantiles at 99 more levels cost about twice the summary pass). Upper bounds: ``bins`` ≤
    :data:`~.options.MAX_BINS` (and at most one bin per reference row), ``max_categories`` ≤
    :data:`~.options.MAX_CATEGORIES`. ``bins_from`` (a Profile): count this table on that profile's
    bins instead, a partition to be merged with :meth:`Profile.merge` (see :mod:`.merge`).

    >>> import pandas as pd
    >>> p = profile(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", None]}), bins=2)
    >>> p.columns["x"].edges, p.columns["x"].counts, p.columns["c"].counts, p.columns["c"].missing
    ([2.5], [2, 2], [2, 1, 0], 1)
    """
    bins = check_int("bins", bins, high=MAX_BINS)
    max_categories = check_int("max_categories", max_categories, high=MAX_CATEGORIES)
    if not isinstance(quantiles, bool):
        raise ValueError(f"quantiles must be True or False, got {quantiles!r}")
    if bins_from is not None:  # a partition counted on a reference profile's bins, to be merged (see .merge)
        if not isinstance(bins_from, Profile):
            raise ValueError(f"bins_from must be a Profile, got {type(bins_from).__name__}")
        from .merge import profile_on_bins

        with opened(reference, "reference", delimiter=delimiter, decimal=decimal) as engine:
            return profile_on_bins(engine, bins_from, columns)
    with opened(reference, "reference", delimiter=delimiter, decimal=decimal) as engine:
        for note in engine.notes if engine is not reference else ():  # a caller's engine: its caller says them
            warnings.warn(note, UserWarning, stacklevel=2)
        return _profile(engine, columns, categorical, bins, max_categories, exclude, quantiles, ignore)


def _profile(engine: Engine, columns, categorical, bins, max_categories, exclude, quantiles=False,
             ignore=(), keep: Callable[[str, tuple[np.ndarray, np.ndarray | None]], None] | None = None) -> Profile:
    """The profile of an open engine (see :func:`profile`); ``keep(column, sorted values)`` is offered
    each numeric column's sorted values where they are computed here (an engine whose values are
    local), for a comparison to reuse."""
    numeric, cats, skipped = select_columns(engine, columns, categorical, exclude, ignore)
    schema = engine.schema()
    rows = engine.row_count()
    if rows == 0:
        raise InputError("is empty (no rows)", source=engine.label)
    levels = quantile_levels(bins)
    asked = np.concatenate([levels, QUANTILE_LEVELS]) if quantiles else levels
    cut = len(levels)
    if engine.values_local and numeric:  # one sort per column answers every question about it
        summaries, distinct, edges, counted = _numeric_from_values(engine, numeric, rows, asked, cut, bins,
                                                                   columns is None, keep)
    else:
        summaries = engine.numeric_summary(numeric, asked) if numeric else {}
        distinct, edges, counted = None, {}, {}
    summary = engine.category_summary(cats, EVERY) if cats else {}  # every distinct value, for the unseen share
    if columns is None:  # identifiers and free text are no features: listed in skipped unless named
        numeric, cats = _leave_out_identifiers(engine, numeric, cats, summaries, summary, skipped, distinct)
        if not numeric and not cats:
            raise InputError("has no column to compare: " + "; ".join(f"{s['column']!r} {s['reason']}"
                                                                      for s in skipped), source=engine.label)
    empty = {}  # columns whose every reference value is missing: kept, as kind "missing"
    for c in list(numeric):
        s = summaries[c]
        if s.nonmissing == 0:
            empty[c] = ColumnProfile(c, "missing", schema[c], [], rows)
            numeric.remove(c)
            continue
        if s.finite == 0:
            raise InputError("cannot be binned: no value is finite (only ±inf)", source=engine.label, column=c)
    if not engine.values_local:  # the engine's own passes: edges, the tied columns' distinct values, counts
        edges = {c: edges_from_quantiles(summaries[c].quantiles[:cut], summaries[c].maximum, summaries[c].minimum)
                 for c in numeric}
        edges.update(separate_distinct_values(engine, {c: e for c, e in edges.items() if len(e) < bins - 1}, bins))
        counted = engine.bin_counts(edges, {}, sums=True) if numeric else {}
    categories, cat_counts, seen, seen_counts = {}, {}, {}, {}
    for c in list(cats):
        miss, present, top = summary[c]
        if present == 0:
            empty[c] = ColumnProfile(c, "missing", schema[c], [], rows)
            cats.remove(c)
            continue
        seen[c] = [v for v, _ in top]
        seen_counts[c] = [int(n) for _, n in top]
        top = top[:max_categories]
        categories[c] = [v for v, _ in top]
        kept = [n for _, n in top]
        cat_counts[c] = [*kept, present - sum(kept)]
    out = {}
    for c in numeric:
        bc, s = counted[c], summaries[c]
        with np.errstate(all="ignore"):
            means = bc.sums / np.where(bc.counts > 0, bc.counts, 1)
        # a bin without finite values (only ±inf) sits at its finite edge
        e = edges[c]
        bounds = np.concatenate([[s.minimum], e, [s.maximum]])
        means = np.where(bc.counts > 0, means, (bounds[:-1] + bounds[1:]) / 2)
        means = np.clip(means, bounds[:-1], bounds[1:])
        kind = "datetime" if schema[c] == "datetime" else "numeric"
        out[c] = ColumnProfile(c, kind, schema[c], [int(x) for x in bc.counts], int(bc.missing),
                               edges=[float(x) for x in e], locations=[float(x) for x in means],
                               scale=float(s.std) if math.isfinite(s.std) else None,
                               quantiles=[float(x) for x in s.quantiles[cut:]] if quantiles else None,
                               minimum=float(s.minimum), maximum=float(s.maximum), finite=int(s.finite),
                               mean=float(s.mean) if math.isfinite(s.mean) else None)
    for c in cats:
        out[c] = ColumnProfile(c, "categorical", schema[c], cat_counts[c], int(summary[c][0]),
                               categories=categories[c], seen=seen[c], seen_counts=seen_counts[c])
    out.update(empty)
    ordered = {c: out[c] for c in (columns or schema) if c in out}
    return Profile(ordered, bins, max_categories, rows, engine.label, skipped=skipped)
