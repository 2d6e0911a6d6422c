"""Typed results of a comparison: records that the command line, JSON and HTML read by field.

* :class:`MetricEstimate`: one metric on one column (value, standard error, interval, p-value of
  "no change", the plug-in's mean under no change, band);
* :class:`TestResult`: a two-sample test beside the divergences (KS, Anderson–Darling, χ²);
* :class:`ColumnComparison`: one compared column (sizes, missing shares, smoothing actually
  applied, metrics, tests, unseen-category share, histogram, quantiles, verdict);
* :class:`SkippedColumn`: a column that could not be compared, with the reason;
* :class:`DatasetSummary`: the dataset verdicts (share of drifted columns against ``drift_share``;
  Holm and Benjamini–Hochberg across columns);
* :class:`Comparison`: all of it, with ``to_dict()`` / ``to_json()`` / ``to_arrow()`` /
  ``to_pandas()`` / ``to_html()``.

Every record is a frozen dataclass; ``to_dict()`` gives plain JSON-ready values (non-finite
numbers become ``None`` in JSON).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from ..display import number as _number

__all__ = [
    "FORMAT",
    "ColumnComparison",
    "Comparison",
    "DatasetSummary",
    "Histogram",
    "MetricEstimate",
    "MissingShare",
    "DataQuality",
    "Quantiles",
    "SkippedColumn",
    "TestResult",
    "json_text",
]

#: the format version of :meth:`Comparison.to_dict` (and of the JSON report)
FORMAT = "divergences.comparison/2"

_NAN = math.nan


@dataclass(frozen=True)
class MetricEstimate:
    """One metric of one column: P = current, Q = reference.

    ``metric`` is the name the user gave (``"psi"``), ``divergence`` the registry record it reads
    (``"jeffreys"``; ``None`` for ``"wasserstein_raw"``, the W1 of the raw quantile functions).
    """

    metric: str
    divergence: str | None
    value: float
    se: float = _NAN
    ci_low: float = _NAN
    ci_high: float = _NAN
    p_value: float = _NAN
    null_mean: float = _NAN
    band: str = ""

    def __repr__(self) -> str:
        return f"MetricEstimate({self.metric}={_number(self.value)} ± {_number(self.se)}, p={_number(self.p_value)})"


@dataclass(frozen=True)
class TestResult:
    """A two-sample test of "same distribution" on one column, beside the divergences.

    ``test`` is ``"ks"`` (Kolmogorov–Smirnov), ``"anderson_darling"`` (k-sample, k = 2) or
    ``"chi2_test"`` (χ² homogeneity on the counts); ``on`` says what it ran on: ``"values"`` (KS when
    both tables are at hand) or ``"bins"`` (Anderson–Darling, χ², and KS against a saved profile or
    per monitor window).
    """

    test: str
    statistic: float
    p_value: float
    on: str = "bins"


@dataclass(frozen=True)
class MissingShare:
    """The change of a column's missing share (see :mod:`divergences.tabular.missing`).

    ``reference`` and ``current`` are the shares of missing values (NULL, NaN); ``difference`` =
    current − reference with its interval (Newcombe's hybrid score interval) and the p-value of
    "same share" (``test``: ``"z"``, the pooled two-proportion z-test, or ``"fisher"``, Fisher's exact
    test for small counts); ``drifted`` when p < α and |difference| ≥ ``missing_threshold``.
    """

    reference: float
    current: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    drifted: bool


@dataclass(frozen=True)
class DataQuality:
    """Data-quality checks beside drift: what a broken pipeline looks like, column by column.

    ``new_columns``: in the current table, not in the reference; ``dropped_columns``: the other way;
    ``type_changes``: columns whose type changed (numbers became text); ``all_missing``: columns whose
    every current value is missing; ``missing_changes``: columns whose missing share moved (significant
    and at least ``missing_threshold``); ``constant_reference`` / ``constant_current``: columns with
    one distinct value in that table (the current table's where known: numeric columns compared on
    their values, categorical columns whose values all fall in one kept category); ``out_of_range``:
    per numeric or time column with current values outside the reference's [minimum, maximum],
    ``{"below": count, "above": count, "share": share of its non-missing current values}``.
    """

    new_columns: tuple[str, ...] = ()
    dropped_columns: tuple[str, ...] = ()
    type_changes: tuple[str, ...] = ()
    all_missing: tuple[str, ...] = ()
    missing_changes: tuple[str, ...] = ()
    constant_reference: tuple[str, ...] = ()
    constant_current: tuple[str, ...] = ()
    out_of_range: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @property
    def issues(self) -> int:
        """How many findings (each column in each list counts once per list)."""
        return (len(self.new_columns) + len(self.dropped_columns) + len(self.type_changes) + len(self.all_missing)
                + len(self.missing_changes) + len(self.constant_reference) + len(self.constant_current)
                + len(self.out_of_range))

    def lines(self) -> list[str]:
        """One sentence per kind of finding (empty when there is none)."""
        out = []
        for label, names in (("new columns (not in the reference)", self.new_columns),
                             ("dropped columns (not in the current table)", self.dropped_columns),
                             ("type changed", self.type_changes), ("every current value missing", self.all_missing),
                             ("missing share changed", self.missing_changes),
                             ("constant in the reference", self.constant_reference),
                             ("constant in the current table", self.constant_current)):
            if names:
                out.append(f"{label}: {', '.join(names)}")
        if self.out_of_range:
            out.append("outside the reference's range: " + ", ".join(
                f"{c} ({v['share']:.1%}: {int(v['below'])} below, {int(v['above'])} above)"
                for c, v in self.out_of_range.items()))
        return out


@dataclass(frozen=True)
class Histogram:
    """Counts per bin of both tables on the reference's bins (missing values not included)."""

    labels: tuple[str, ...]
    reference: tuple[int, ...]
    current: tuple[int, ...]


@dataclass(frozen=True)
class Quantiles:
    """Quantiles of the finite values of both tables at ``levels`` (numeric and time columns)."""

    levels: tuple[float, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]


@dataclass(frozen=True)
class ColumnComparison:
    """One compared column.

    ``kind``: ``"numeric"``, ``"categorical"`` or ``"datetime"``. ``bins``: bins used (bins empty
    in both tables are dropped). ``smoothing``: the pseudo-count actually added to every bin of
    this column (0 unless a bin was empty on one side, see :func:`compare`). ``unseen_share``: for a
    categorical column, the share of the current table's non-missing values that the reference
    never had (``None`` otherwise); ``unseen_flag`` is true when it is at least the option
    ``unseen_threshold``. ``missing``: the test of the change in the missing share
    (:class:`MissingShare`). ``drifted``: the column verdict (see ``Comparison.drift_rule``), with
    ``reasons`` saying why (the drift metric, the missing share, a broken column). ``status``:
    ``"compared"``, or what broke: ``"all missing"`` (every current value is missing),
    ``"type changed"`` (numbers became text, say), ``"dropped"`` (the column is not in the current
    table) or ``"all missing in reference"``; such a column has no metric (NaN) and is drifted.
    ``decided_by`` names the metric or test that decided its drift (``rule``, in words, with its
    ``threshold``): the same for every column, unless ``drift_metric="auto"`` or ``column_rules``.
    """

    column: str
    kind: str
    bins: int
    n_reference: int
    n_current: int
    missing_reference: float
    missing_current: float
    smoothing: float
    metrics: Mapping[str, MetricEstimate]
    drifted: bool
    histogram: Histogram
    tests: Mapping[str, TestResult] = field(default_factory=dict)
    unseen_share: float | None = None
    unseen_flag: bool = False
    quantiles: Quantiles | None = None
    missing: MissingShare | None = None
    reasons: tuple[str, ...] = ()
    status: str = "compared"
    decided_by: str = ""
    threshold: float = _NAN
    rule: str = ""

    def __getitem__(self, metric: str) -> MetricEstimate:
        return self.metrics[metric]

    @property
    def smoothed(self) -> bool:
        """True when a pseudo-count was added to this column's bins."""
        return self.smoothing > 0

    def flat(self) -> dict[str, Any]:
        """One flat dict (``psi``, ``psi_se``, ..., ``ks_p_value``): the row of :meth:`Comparison.to_pandas`."""
        row: dict[str, Any] = {
            "column": self.column, "kind": self.kind, "bins": self.bins, "n_reference": self.n_reference,
            "n_current": self.n_current, "missing_reference": self.missing_reference,
            "missing_current": self.missing_current, "smoothing": self.smoothing,
        }
        for name, m in self.metrics.items():
            row[name] = m.value
            for f in ("se", "ci_low", "ci_high", "p_value", "null_mean", "band"):
                row[f"{name}_{f}"] = getattr(m, f)
        for name, t in self.tests.items():
            row[f"{name}_statistic"] = t.statistic
            row[f"{name}_p_value"] = t.p_value
        row["unseen_share"] = _NAN if self.unseen_share is None else self.unseen_share
        row["unseen_flag"] = self.unseen_flag
        if self.missing is not None:
            row["missing_difference"] = self.missing.difference
            row["missing_ci_low"] = self.missing.ci_low
            row["missing_ci_high"] = self.missing.ci_high
            row["missing_p_value"] = self.missing.p_value
            row["missing_drifted"] = self.missing.drifted
        row["status"] = self.status
        row["drifted"] = self.drifted
        row["reasons"] = "; ".join(self.reasons)
        return row

    def __repr__(self) -> str:
        head = next(iter(self.metrics.values()), None)
        shown = f", {head!r}" if head is not None else ""
        return f"ColumnComparison({self.column!r}, {self.kind}{shown}, drifted={self.drifted})"


@dataclass(frozen=True)
class SkippedColumn:
    """A column that could not be compared. ``where``: ``"reference"``, ``"current"`` or ``"both"``."""

    column: str
    reason: str
    where: str = "both"


@dataclass(frozen=True)
class DatasetSummary:
    """Dataset-level verdicts.

    * share rule (Evidently's convention): ``dataset_drift`` when ``drifted_share`` = drifted /
      compared columns is at least ``drift_share`` (default 0.5);
    * multiple testing: the drift metric's p-values (or, where it has none, the first test's)
      adjusted across columns by Holm (family-wise error ≤ α) and by Benjamini–Hochberg (false
      discovery rate ≤ α), α = 1 − confidence; ``holm_drifted`` / ``bh_drifted`` list the columns
      whose adjusted p-value is below α *and* whose drift metric reaches the threshold;
      ``holm_dataset_drift`` / ``bh_dataset_drift`` are true when any column is listed.
    """

    columns: int
    drifted: int
    drifted_share: float
    drift_share: float
    dataset_drift: bool
    alpha: float
    holm_drifted: tuple[str, ...] = ()
    bh_drifted: tuple[str, ...] = ()
    holm_dataset_drift: bool = False
    bh_dataset_drift: bool = False
    skipped: int = 0
    adjusted_p_values: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    multivariate_p_value: float = _NAN
    multivariate_drift: bool = False

    @property
    def headline(self) -> str:
        """One sentence: ``"3 of 10 columns drifted (30%; dataset drift at ≥ 50%: no)"``."""
        return (f"{self.drifted} of {self.columns} columns drifted ({self.drifted_share:.0%}; dataset drift at "
                f"≥ {self.drift_share:.0%}: {'yes' if self.dataset_drift else 'no'}; Holm: "
                f"{len(self.holm_drifted)}, BH: {len(self.bh_drifted)})"
                + (f"; multivariate: {'drift' if self.multivariate_drift else 'no drift'} "
                   f"(p = {_number(self.multivariate_p_value, 2)})" if not math.isnan(self.multivariate_p_value)
                   else "")
                + (f"; {self.skipped} skipped" if self.skipped else ""))


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`: typed records per column, the skipped columns and the verdicts.

    ``columns``: :class:`ColumnComparison` records in the table's order; ``skipped``:
    :class:`SkippedColumn` records; ``summary``: :class:`DatasetSummary`; ``metrics``: the metric
    names in order (the first is the headline); ``options``: the :class:`CompareOptions` used;
    ``information_value``: IV rows when a target was given; ``warnings``: how an input may have been
    misread (a CSV whose text columns look like decimal-comma numbers); ``quality``: the data-quality
    checks (:class:`DataQuality`); ``multivariate``: the test over the numeric columns together
    (:class:`~.multivariate.MultivariateTest`, with ``multivariate=True``).

    ``rows`` and ``histograms`` keep the earlier dict views (flat rows, per-column histograms).
    """

    columns: tuple[ColumnComparison, ...]
    skipped: tuple[SkippedColumn, ...]
    summary: DatasetSummary
    metrics: tuple[str, ...]
    options: Any
    drift_rule: str
    reference: str
    current: str
    information_value: list[dict[str, Any]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    quality: DataQuality = field(default_factory=DataQuality)
    multivariate: Any = None
    #: the name of the metric that decides drift, the headline (the ``drift_metric`` option's metric;
    #: empty: the first of ``metrics``)
    drift_metric: str = ""

    # -- views ----------------------------------------------------------------------------
    def __getitem__(self, column: str) -> ColumnComparison:
        for c in self.columns:
            if c.column == column:
                return c
        raise KeyError(column)

    def __iter__(self):
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def headline_metric(self) -> str:
        """The name of the metric shown first: the one that decides drift."""
        return self.drift_metric or (self.metrics[0] if self.metrics else "")

    @property
    def drifted(self) -> list[str]:
        """Names of the columns that drifted (see ``drift_rule``)."""
        return [c.column for c in self.columns if c.drifted]

    @property
    def confidence(self) -> float:
        return float(self.options.confidence)

    @property
    def smoothing(self) -> float | str:
        """The smoothing option (``"auto"`` or a pseudo-count); per column see ``ColumnComparison.smoothing``."""
        return self.options.smoothing

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Flat dict rows (``ColumnComparison.flat``); prefer the typed ``columns``."""
        return [c.flat() for c in self.columns]

    @property
    def histograms(self) -> dict[str, dict[str, list]]:
        return {c.column: {"labels": list(c.histogram.labels), "reference": list(c.histogram.reference),
                           "current": list(c.histogram.current)} for c in self.columns}

    # -- exports --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain values: ``format``, ``reference``, ``current``, ``metrics``, ``options``,
        ``drift_rule``, ``summary``, ``columns`` (records), ``skipped``, ``information_value``, ``meta``."""
        opts = self.options
        return {
            "format": FORMAT, "reference": self.reference, "current": self.current, "metrics": list(self.metrics),
            "options": opts.to_dict() if hasattr(opts, "to_dict") else dict(opts or {}),
            "drift_rule": self.drift_rule, "confidence": self.confidence, "smoothing": self.smoothing,
            "summary": {**asdict(self.summary), "headline": self.summary.headline},
            "columns": [_plain(asdict(c)) for c in self.columns],
            "skipped": [asdict(s) for s in self.skipped],
            "information_value": self.information_value, "meta": self.meta, "warnings": list(self.warnings),
            "quality": {**dict(_plain(asdict(self.quality))), "issues": self.quality.issues},
            "multivariate": None if self.multivariate is None else _plain(asdict(self.multivariate)),
        }

    def to_json(self, path: str | None = None) -> str:
        """JSON text (non-finite numbers as null); written atomically to ``path`` when given."""
        return json_text(self.to_dict(), path)

    def to_pandas(self):
        """One row per compared column (the flat rows) as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def to_arrow(self):
        """One row per (column, metric) as a PyArrow table: ``column``, ``kind``, ``metric``,
        ``divergence``, ``value``, ``se``, ``ci_low``, ``ci_high``, ``p_value``, ``null_mean``,
        ``band``, ``smoothing``, ``drifted``."""
        import pyarrow as pa

        names = [f.name for f in fields(MetricEstimate)]
        out: dict[str, list] = {"column": [], "kind": [], **{n: [] for n in names}, "smoothing": [], "drifted": []}
        for c in self.columns:
            for m in c.metrics.values():
                out["column"].append(c.column)
                out["kind"].append(c.kind)
                for n in names:
                    out[n].append(getattr(m, n))
                out["smoothing"].append(c.smoothing)
                out["drifted"].append(c.drifted)
        return pa.table(out)

    def to_html(self, path: str | None = None) -> str:
        """The self-contained HTML report; written atomically to ``path`` when given."""
        from .report import render_html, write_atomic

        html = render_html(self)
        if path is not None:
            write_atomic(path, html)
        return html

    def __repr__(self) -> str:
        head = self.headline_metric or "?"
        return (f"<Comparison {self.reference!r} → {self.current!r}: {self.summary.headline}; "
                f"headline metric {head}>")

    def _repr_html_(self) -> str:
        """The notebook view: the dataset verdict, the data-quality findings, and one row per column
        with its headline metric, interval, p-value, band, why it drifted, and a small multiple of
        its histogram (reference blue, current orange; hover a bar for its bin and shares). The full
        report is :meth:`to_html`."""
        from html import escape

        from ..display import visible
        from .report_svg import CUR, REF, histogram_svg

        def text(x: Any) -> str:
            return escape(visible(x), quote=True)

        head = self.headline_metric or None
        verdict = "dataset drift" if self.summary.dataset_drift else "no dataset drift"
        color = "#b42318" if self.summary.dataset_drift else "#067647"
        lines = [f"<div><div style='font-size:1.15em;font-weight:600;color:{color}'>{escape(verdict)}: "
                 f"{text(self.summary.headline)}</div><small>{text(self.drift_rule)}; bars: "
                 f"<span style='color:{REF}'>reference</span> vs <span style='color:{CUR}'>current</span></small>"]
        for line in self.quality.lines():
            lines.append(f"<div style='color:#b54708'>data quality: {text(line)}</div>")
        for w in self.warnings:
            lines.append(f"<div style='color:#b54708'>warning: {text(w)}</div>")
        lines.append("<table><thead><tr><th>column</th><th>kind</th>"
                     + (f"<th>{escape(head)} [{self.confidence:.0%} CI]</th><th>p-value</th><th>band</th>" if head
                        else "") + "<th>drift</th><th>reference vs current</th></tr></thead><tbody>")
        for c in sorted(self.columns, key=lambda col: not col.drifted):
            cells = [text(c.column), escape(c.kind)]
            if head:
                m = c.metrics[head]
                band = m.band if c.status == "compared" else c.status
                cells += [f"{_number(m.value)} [{_number(m.ci_low)}, {_number(m.ci_high)}]", _number(m.p_value),
                          escape(band)]
            why = "; ".join(c.reasons)
            cells.append(f"<b style='color:#b42318' title='{escape(why, quote=True)}'>drift</b>" if c.drifted else "")
            h = c.histogram
            cells.append(histogram_svg(list(h.labels), list(h.reference), list(h.current), small=True)
                         if h.labels else "–")
            lines.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
        lines.append("</tbody></table>")
        if self.skipped:
            lines.append("<p>Skipped: " + "; ".join(f"{text(s.column)} ({text(s.reason)})"
                                                     for s in self.skipped) + "</p>")
        lines.append("</div>")
        return "\n".join(lines)


def json_text(doc: Any, path: str | None = None) -> str:
    """``doc`` as indented JSON (non-finite numbers as null), written atomically to ``path`` when given."""
    text = json.dumps(_finite(doc), indent=1, ensure_ascii=False)
    if path is not None:
        from .report import write_atomic

        write_atomic(path, text)
    return text


def _plain(x):
    if isinstance(x, Mapping):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def _finite(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Mapping):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, np.generic):
        return _finite(x.item())
    return x
