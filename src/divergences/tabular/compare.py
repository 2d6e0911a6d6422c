"""Compare a current table with a reference, column by column, with honest uncertainty."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engines import Engine, open_source
from .errors import InputError
from .metrics import Metric, evaluate, resolve, second_derivative_at_one
from .profile import ColumnProfile, Profile, profile

__all__ = ["DEFAULT_METRICS", "Comparison", "compare", "current_counts"]

DEFAULT_METRICS = ("psi", "js", "hellinger", "wasserstein", "chi2")
_STAT_FIELDS = ("se", "ci_low", "ci_high", "p_value", "null_mean")


@dataclass
class Comparison:
    """The result of :func:`compare`: one row per column, plus what the report draws.

    ``rows`` holds, per column: ``column``, ``kind``, ``bins`` (bins used, after dropping bins empty
    in both tables), ``n_reference``/``n_current`` (rows), ``missing_reference``/``missing_current``
    (shares), and for each metric m: ``m``, ``m_se``, ``m_ci_low``, ``m_ci_high``, ``m_p_value``,
    ``m_null_mean`` (the plug-in's mean under no change) and ``m_band``; then ``drifted``.
    """

    rows: list[dict[str, Any]]
    histograms: dict[str, dict[str, list]]
    metrics: list[str]
    smoothing: float
    confidence: float
    drift_rule: str
    reference: str
    current: str
    information_value: list[dict[str, Any]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def drifted(self) -> list[str]:
        """Names of the columns that drifted (see ``drift_rule``)."""
        return [r["column"] for r in self.rows if r["drifted"]]

    def to_pandas(self):
        """One row per column as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "current": self.current, "metrics": self.metrics,
                "smoothing": self.smoothing, "confidence": self.confidence, "drift_rule": self.drift_rule,
                "columns": self.rows, "histograms": self.histograms,
                "information_value": self.information_value, "meta": self.meta}

    def to_json(self, path: str | None = None) -> str:
        """JSON text (non-finite numbers as null); written atomically to ``path`` when given."""
        text = json.dumps(_finite(self.to_dict()), indent=1)
        if path is not None:
            from .report import write_atomic

            write_atomic(path, text)
        return text

    def to_html(self, path: str | None = None) -> str:
        """The self-contained HTML report; written atomically to ``path`` when given."""
        from .report import render_html, write_atomic

        html = render_html(self)
        if path is not None:
            write_atomic(path, html)
        return html


def _finite(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, np.generic):
        return _finite(x.item())
    return x


def _check_options(smoothing, confidence):
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not smoothing >= 0 \
            or not math.isfinite(smoothing):
        raise ValueError(f"smoothing must be a finite number ≥ 0 (a pseudo-count per bin), got {smoothing!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def current_counts(prof: Profile, engine: Engine, names: list[str]) -> dict[str, Any]:
    """Counts of the current table on the profile's bins, after checking columns and types."""
    schema = engine.schema()
    for c in names:
        if c not in schema:
            raise InputError("unknown column: it is in the reference but not here", source=engine.label, column=c)
        cp = prof.columns[c]
        kind = schema[c]
        if kind == "other" or (cp.dtype == "numeric") != (kind == "numeric"):
            ref_kind = "numeric" if cp.dtype == "numeric" else "text"
            here = {"numeric": "numeric", "other": "of another type"}.get(kind, "text")
            raise InputError(f"is {ref_kind} in the reference but {here} here", source=engine.label, column=c)
    numeric = {c: np.asarray(prof.columns[c].edges) for c in names if prof.columns[c].kind == "numeric"}
    cats = {c: prof.columns[c].categories for c in names if prof.columns[c].kind == "categorical"}
    counts = engine.bin_counts(numeric, cats)
    first = counts[names[0]]
    if int(np.sum(first.counts)) + int(first.missing) == 0:
        raise InputError("is empty (no rows)", source=engine.label)
    for c in names:
        if int(np.sum(counts[c].counts)) == 0:
            raise InputError("every value is missing", source=engine.label, column=c)
    return counts


def compare(
    reference_or_profile: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    bins: int = 10,
    metrics: Sequence[str] = DEFAULT_METRICS,
    smoothing: float = 0.5,
    confidence: float = 0.95,
    drift_metric: str | None = None,
    threshold: float | None = None,
    target: str | None = None,
    bad: str | None = None,
    max_categories: int = 50,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    r"""Compare ``current`` with a reference (a table or a :class:`Profile`), column by column.

    Tables are file paths (CSV, Parquet; read by DuckDB) or dataframes (pandas, Polars, PyArrow,
    DuckDB relations, PySpark DataFrames); bins come from the reference alone (:func:`profile`),
    and only bin counts leave the engine. Every metric is computed with P = current,
    Q = reference (``"psi"`` = Jeffreys, ``"chi2"`` = Pearson χ²(current‖reference),
    ``"wasserstein"`` = binned W1 over the reference's standard deviation, or any registered
    divergence name), with its delta-method standard error, a ``confidence`` interval, the p-value
    of "no change" from the χ² scaling and, for PSI, the band; see :mod:`.metrics`.

    ``smoothing``: the pseudo-count added to every bin of both tables (bins empty in both are
    dropped first); 0 disables it, so an empty bin gives +inf PSI. It is shown in every output.

    A column *drifted* when ``drift_metric`` (default: the first metric) is at least
    ``threshold`` (default 0.1 for PSI, else required) and its p-value, where it has one, is below
    1 − ``confidence``: a change that is both material and not noise.

    ``target`` (with ``bad``, see :func:`information_value`) is left out of the comparison; the
    information value of every feature is computed on the reference (and on the current table when
    it has the target) and attached as ``information_value``.

    >>> import pandas as pd
    >>> ref = pd.DataFrame({"x": [float(i) for i in range(100)]})
    >>> cur = pd.DataFrame({"x": [float(i) + 50 for i in range(100)]})
    >>> c = compare(ref, cur, metrics=("psi",), bins=4)
    >>> c.rows[0]["psi_band"], c.drifted
    ('significant', ['x'])
    """
    _check_options(smoothing, confidence)
    resolved: list[Metric] = [resolve(m) for m in metrics]
    if not resolved:
        raise ValueError("metrics must name at least one metric")
    drift = resolve(drift_metric) if drift_metric is not None else resolved[0]
    if drift.name not in [m.name for m in resolved]:
        raise ValueError(f"drift_metric {drift.name!r} must be one of the metrics {list(metrics)}")
    if threshold is None:
        if drift.divergence != "jeffreys":
            raise ValueError(f"threshold is required when the drift metric is {drift.name!r} (PSI has 0.1)")
        threshold = 0.1
    say = progress or (lambda _msg: None)
    exclude = (target,) if target else ()
    if isinstance(reference_or_profile, Profile):
        prof = reference_or_profile
        if columns is not None:
            missing = [c for c in columns if c not in prof.columns]
            if missing:
                raise InputError("unknown column: not in the profile", source=prof.source, column=missing[0])
        names = [c for c in (columns or prof.columns) if c not in exclude]
        ref_label, ref_data = prof.source, None
    else:
        say("binning the reference")
        ref_data = reference_or_profile
        prof = profile(reference_or_profile, columns=columns, categorical=categorical, bins=bins,
                       max_categories=max_categories, exclude=exclude)
        names = list(prof.columns)
        ref_label = prof.source
    say("counting the current table")
    engine = open_source(current, "current")
    try:
        counts = current_counts(prof, engine, names)
        iv = None
        if target is not None:
            iv = _iv_tables(ref_data, engine, target, bad, names, prof, smoothing, confidence, say)
    finally:
        if engine is not current:
            engine.close()
    say("computing metrics")
    rows, hists = [], {}
    for c in names:
        cp = prof.columns[c]
        row, hist = _column_row(cp, counts[c], resolved, smoothing, confidence, drift, threshold)
        rows.append(row)
        hists[c] = hist
    rule = f"{drift.name} ≥ {threshold:g}"
    if not math.isnan(second_derivative_at_one(drift)):
        rule += f" and p-value < {1 - confidence:.3g}"
    return Comparison(rows, hists, [m.name for m in resolved], float(smoothing), float(confidence), rule,
                      ref_label, engine.label, iv)


def _column_row(cp: ColumnProfile, cur, metrics, smoothing, confidence, drift, threshold):
    ref_counts = np.asarray(cp.counts, dtype=np.int64)
    cur_counts = np.asarray(cur.counts, dtype=np.int64)
    n_ref, n_cur = cp.rows, int(cur_counts.sum()) + int(cur.missing)
    row: dict[str, Any] = {
        "column": cp.name, "kind": cp.kind, "bins": int(np.sum((ref_counts + cur_counts) > 0)),
        "n_reference": n_ref, "n_current": n_cur,
        "missing_reference": cp.missing / n_ref, "missing_current": int(cur.missing) / n_cur,
        "smoothing": float(smoothing),
    }
    for m in metrics:
        if m.numeric_only and cp.kind != "numeric":
            est = None
        else:
            est = evaluate(m, cur_counts, ref_counts, smoothing=smoothing, confidence=confidence,
                           locations=None if cp.locations is None else np.asarray(cp.locations), scale=cp.scale)
        row[m.name] = est.value if est else math.nan
        for f in _STAT_FIELDS:
            row[f"{m.name}_{f}"] = getattr(est, f) if est else math.nan
        row[f"{m.name}_band"] = est.band if est else ""
    v, pv = row[drift.name], row[f"{drift.name}_p_value"]
    row["drifted"] = bool(v >= threshold and (math.isnan(pv) or pv < 1 - confidence))
    hist = {"labels": cp.labels(), "reference": [int(x) for x in ref_counts], "current": [int(x) for x in cur_counts]}
    return row, hist


def _iv_tables(ref_data, cur_engine, target, bad, names, prof, smoothing, confidence, say):
    from .information_value import information_value_table

    say("information value")
    tables = []
    if ref_data is not None:
        tables.append(("reference", information_value_table(ref_data, target, columns=names, bins=prof.bins,
                                                            bad=bad, smoothing=smoothing, confidence=confidence,
                                                            profile_=prof, label="reference")))
    if target in cur_engine.schema():
        tables.append(("current", information_value_table(cur_engine, target, columns=names, bins=prof.bins,
                                                          bad=bad, smoothing=smoothing, confidence=confidence,
                                                          profile_=prof)))
    if not tables:
        return None
    merged = []
    for which, table in tables:
        for r in table:
            merged.append({"table": which, **r})
    return merged
