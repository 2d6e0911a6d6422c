"""Drift over time: every window of a current table compared with one reference profile."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .compare import compare_counts, drift_rule, resolve_metrics
from .engines import opened
from .errors import InputError
from .options import CompareKeywords, CompareOptions
from .profile import Profile, profile
from .results import Comparison, json_text
from .windows import Window, parse_every

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Monitoring", "WindowRow", "monitor"]


@dataclass(frozen=True)
class WindowRow:
    """One (window, column): the headline metric with its standard error, interval and p-value."""

    window: str  # ISO 8601 start of the window
    column: str
    kind: str
    n_current: int
    metric: str
    value: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    band: str
    drifted: bool


@dataclass(frozen=True)
class Monitoring:
    """The result of :func:`monitor`.

    ``rows``: one :class:`WindowRow` per (window, column), windows in time order; ``windows``: the
    window starts; ``comparisons``: the full :class:`Comparison` of every window; ``first_drift``:
    per column, the first window where it drifted (None if never); ``skipped``: (window, column,
    reason) for a column with no value in a window; ``missing_by``: rows without a time;
    ``threshold``: the drift metric's threshold (given, or its record's conventional one).
    """

    by: str
    every: str
    metric: str
    drift_rule: str
    windows: tuple[str, ...]
    rows: tuple[WindowRow, ...]
    comparisons: dict[str, Comparison]
    first_drift: dict[str, str | None]
    reference: str
    current: str
    options: CompareOptions
    missing_by: int = 0
    skipped: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)
    threshold: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"format": "divergences.monitor/1", "by": self.by, "every": self.every, "metric": self.metric,
                "drift_rule": self.drift_rule, "reference": self.reference, "current": self.current,
                "options": self.options.to_dict(), "windows": list(self.windows),
                "first_drift": self.first_drift, "missing_by": self.missing_by,
                "rows": [asdict(r) for r in self.rows],
                "skipped": [{"window": w, "column": c, "reason": r} for w, c, r in self.skipped],
                "summaries": {w: asdict(c.summary) for w, c in self.comparisons.items()}}

    def to_json(self, path: str | None = None) -> str:
        """JSON text (non-finite numbers as null); written atomically to ``path`` when given."""
        return json_text(self.to_dict(), path)

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame([asdict(r) for r in self.rows])

    def to_arrow(self):
        import pyarrow as pa

        return pa.Table.from_pylist([asdict(r) for r in self.rows])

    def __repr__(self) -> str:
        drifted = sorted(c for c, w in self.first_drift.items() if w is not None)
        shown = ", ".join(drifted[:5]) + (" ..." if len(drifted) > 5 else "")
        return (f"<Monitoring by {self.by!r} every {self.every}: {len(self.windows)} windows, "
                f"{len(self.first_drift)} columns, drifted: {shown or 'none'}>")


def monitor(
    reference_or_profile: Any,
    current: Any,
    *,
    by: str,
    every: str,
    options: CompareOptions | None = None,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    delimiter: str | None = None,
    decimal: str | None = None,
    progress: Callable[[str], None] | None = None,
    **option_keywords: Unpack[CompareKeywords],
) -> Monitoring:
    """Compare every ``every``-long window of ``current`` (by its date/time column ``by``) with the
    reference (a table or a :class:`Profile`), column by column.

    The reference is binned once (:func:`profile`, ``by`` left out); the current table is counted
    per (window, column, bin) in one aggregation inside its engine (DuckDB and Spark: SQL window
    keys; in-memory frames: NumPy on the time column), see :mod:`.windows` for ``every`` (``"1d"``,
    ``"1w"``, ``"1mo"``, ...) and the alignment. Every window then gets what :func:`compare` gives
    (metrics with standard errors and p-values, tests, verdicts); ``rows`` keep the headline metric
    per (window, column), and ``first_drift`` the first window where each column drifted. Rows
    whose time is missing belong to no window (counted in ``missing_by``). Options as in
    :func:`compare`.

    >>> import pandas as pd
    >>> days = pd.date_range("2024-01-01", periods=28, freq="D").repeat(50)
    >>> ref = pd.DataFrame({"x": [float(i % 50) for i in range(1400)]})
    >>> cur = pd.DataFrame({"when": days, "x": [float(i % 50) + (20 if i >= 700 else 0) for i in range(1400)]})
    >>> m = monitor(ref, cur, by="when", every="1w", metrics="psi", bins=5)
    >>> m.windows[0], m.first_drift["x"]
    ('2024-01-01T00:00:00Z', '2024-01-15T00:00:00Z')
    """
    if not isinstance(by, str):
        raise ValueError(f"by must be the name of a date/time column, got {by!r}")
    window: Window = parse_every(every)
    opts = CompareOptions.build(options, **option_keywords)
    metrics, drift, threshold = resolve_metrics(opts)
    say = progress or (lambda _msg: None)
    if isinstance(exclude, str) or (columns is not None and isinstance(columns, str)):
        raise ValueError("columns and exclude must be lists of column names, not a string")
    if isinstance(reference_or_profile, Profile):
        prof = reference_or_profile
        for c in list(columns or ()) + list(exclude):
            if not isinstance(c, str) or c not in prof.columns:
                raise InputError(f"unknown column: not in the profile (its columns: {', '.join(prof.columns)})",
                                 source=prof.source, column=str(c))
        names = [c for c in (columns or prof.columns) if c != by and c not in exclude]
    else:
        say("binning the reference")
        prof = profile(reference_or_profile, columns=[c for c in columns if c != by] if columns else None,
                       categorical=categorical, bins=opts.bins, max_categories=opts.max_categories,
                       exclude=exclude, ignore=(by,), delimiter=delimiter, decimal=decimal)
        names = list(prof.columns)
    say("counting the current table per window")
    with opened(current, "current", delimiter=delimiter, decimal=decimal) as engine:
        for note in engine.notes:
            warnings.warn(note, UserWarning, stacklevel=2)
        schema = engine.schema()
        if by not in schema:
            raise InputError("unknown time column (by=...)", source=engine.label, column=by)
        if schema[by] != "datetime":
            raise InputError("by= must name a date or time column", source=engine.label, column=by)
        for c in names:
            if c not in schema:
                raise InputError("unknown column: it is in the reference but not here", source=engine.label, column=c)
        numeric = {c: prof.columns[c].edges for c in names if prof.columns[c].kind in ("numeric", "datetime")}
        cats = {c: prof.columns[c].categories for c in names if prof.columns[c].kind == "categorical"}
        per_window, missing_by = engine.window_counts(by, window, numeric, cats)
        label = engine.label
    say("computing metrics per window")
    rows, comparisons, skipped = [], {}, []
    first: dict[str, str | None] = {c: None for c in names}
    for key, counts in per_window.items():
        start = window.start(key)
        present = [c for c in names if int(counts[c].counts.sum()) > 0]
        skipped += [(start, c, "no value in this window") for c in names if c not in present]
        if not present:
            continue
        comp = compare_counts(prof, {"counts": counts, "unseen": {}}, present, metrics, drift, threshold, opts,
                              f"{label} [{start}]")
        comparisons[start] = comp
        for col in comp.columns:
            m = col.metrics[drift.name]
            rows.append(WindowRow(start, col.column, col.kind, col.n_current, drift.name, m.value, m.se, m.ci_low,
                                  m.ci_high, m.p_value, m.band, col.drifted))
            if col.drifted and first[col.column] is None:
                first[col.column] = start
    if not rows:
        raise InputError("has no row with a time in any window", source=label, column=by)
    rule = drift_rule(drift, threshold, opts.confidence, opts, metrics)
    return Monitoring(by, window.every, drift.name, rule, tuple(comparisons), tuple(rows), comparisons, first,
                      prof.source, label, opts, missing_by, tuple(skipped), threshold)
