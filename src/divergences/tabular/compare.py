"""Compare a current table with a reference, column by column, with honest uncertainty."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .current import current_counts
from .engines import Engine, opened
from .errors import InputError
from .metrics import Metric, applied_smoothing, evaluate, resolve
from .missing import missing_share_test
from .options import DEFAULT_METRICS, CompareKeywords, CompareOptions
from .profile import QUANTILE_LEVELS, ColumnProfile, Profile, _profile
from .quality import data_quality
from .results import (
    ColumnComparison,
    Comparison,
    DatasetSummary,
    Histogram,
    MetricEstimate,
    Quantiles,
    SkippedColumn,
    TestResult,
)
from .rules import AUTO_FEW_VALUES, AUTO_SMALL, Rule, auto_metrics, auto_rule, rule_text
from .sorted_values import ReferenceValues
from .stat_tests import (
    anderson_darling_binned,
    benjamini_hochberg,
    chi2_homogeneity,
    holm,
    ks_binned,
    ks_values,
    prefetch,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["DEFAULT_METRICS", "CompareOptions", "Comparison", "compare", "compare_counts", "current_counts"]


def wasserstein_raw(cur_quantiles, ref_quantiles, scale: float | None) -> float:
    """W1 between the current and reference quantile functions over the percentiles 1 … 99 (the
    1 % tails left out), divided by the reference's standard deviation:
    Σ_u |F_P⁻¹(u) − F_Q⁻¹(u)| Δu / σ_ref with Δu = 0.01, the midpoint rule on [0.005, 0.995].

    >>> round(wasserstein_raw([2.0, 3.0], [1.0, 2.0], 1.0), 3)
    0.02
    """
    a, b = np.asarray(cur_quantiles, dtype=np.float64), np.asarray(ref_quantiles, dtype=np.float64)
    if not scale or not math.isfinite(scale) or scale <= 0 or a.shape != b.shape:
        return math.nan
    return float(np.sum(np.abs(a - b)) * 0.01 / scale)


def compare(
    reference_or_profile: Any,
    current: Any,
    options: CompareOptions | None = None,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    target: str | None = None,
    bad: Any = None,
    exclude: Sequence[str] = (),
    delimiter: str | None = None,
    decimal: str | None = None,
    progress: Callable[[str], None] | None = None,
    **option_keywords: Unpack[CompareKeywords],
) -> Comparison:
    r"""Compare ``current`` with a reference (a table or a :class:`Profile`), column by column.

    Tables are file paths (CSV, Parquet; read by DuckDB; ``delimiter`` for CSV files, sniffed by
    default; ``decimal=","`` for CSV files written with a decimal comma: without it, text columns that
    look like such numbers give a warning, in ``warnings``) or dataframes (pandas, Polars eager or lazy, PyArrow, DuckDB relations, PySpark
    DataFrames); bins come from the reference alone (:func:`profile`), and only bin counts leave
    the engine. What is computed is a :class:`CompareOptions` (``options``), whose fields may also
    be given as keywords (``bins=20, metrics="psi,js", threshold=0.2, ...``).

    Every metric is computed with P = current, Q = reference (``"psi"`` = Jeffreys, ``"chi2"`` =
    Pearson χ²(current‖reference), ``"wasserstein"`` = binned W1 over the reference's standard
    deviation, or any registered divergence name), with its delta-method standard error, a
    ``confidence`` interval, the p-value of "no change" from the χ² scaling and, for PSI, the band;
    see :mod:`.metrics`. Beside them (``tests=True``): KS and Anderson–Darling (numeric and time
    columns) or χ² homogeneity (categorical) on the bins, see :mod:`.stat_tests`. Values are the
    textbook plug-in values; only a column with a bin empty on one side is smoothed
    (``smoothing="auto"``), and each column says which pseudo-count it got.

    A column *drifted* when ``drift_metric`` (default: the first metric) is at least
    ``threshold`` (default 0.1 for PSI, else required) and its p-value, where it has one, is below
    1 − ``confidence``: a change that is both material and not noise. The dataset verdicts are in
    ``summary`` (:class:`DatasetSummary`: share of drifted columns against ``drift_share``; Holm and
    Benjamini–Hochberg across columns). Columns that cannot be compared (a type that cannot be
    binned, a pandas index stored in Parquet) are listed in ``skipped`` with the reason, and so are,
    unless named in ``columns``, the columns that are no features: date/time columns (they drift on
    every time split) and identifiers or free text (text or integer columns whose values are nearly
    all distinct). ``exclude`` leaves columns out.

    Every column's missing share is tested too (:mod:`.missing`): a change that is significant and
    of at least ``missing_threshold`` counts in the column's verdict, with its reason in
    ``ColumnComparison.reasons``. A column that broke is a drifted row, not an error: gone from the
    current table (``status="dropped"``), of another type (``"type changed"``), every current value
    missing (``"all missing"``).

    Categorical values compare by value: numbers as their value (1, 1.0 and True-as-1 codes are the
    same category "1"; other numbers as the shortest decimal that round-trips), booleans and the
    texts true/false in any case as ``"true"``/``"false"``, other text as it is. Date, time and
    timestamp columns are compared as time (seconds since 1970-01-01 UTC), binned on the reference's
    quantiles, labelled in ISO 8601.

    ``target`` (with ``bad``, see :func:`information_value`) is left out of the comparison; the
    information value of every feature is computed on the reference (and on the current table when
    it has the target) and attached as ``information_value``.

    >>> import pandas as pd
    >>> ref = pd.DataFrame({"x": [float(i) for i in range(100)]})
    >>> cur = pd.DataFrame({"x": [float(i) + 50 for i in range(100)]})
    >>> c = compare(ref, cur, metrics="psi", bins=4)
    >>> c["x"]["psi"].band, c.drifted, c.summary.dataset_drift
    ('significant', ['x'], True)
    """
    opts = CompareOptions.build(options, **option_keywords)
    resolved, drift, threshold = resolve_metrics(opts)
    if target is not None and not isinstance(target, str):
        raise ValueError(f"target must be a column name, got {target!r}")
    say = progress or (lambda _msg: None)
    if isinstance(exclude, str):
        raise ValueError("exclude must be a list of column names, not a string")
    exclude = tuple(exclude)
    ignore = (target,) if target else ()
    prof: Profile | None = None
    names: list[str] = []
    if isinstance(reference_or_profile, Profile):
        prof = reference_or_profile
        if columns is not None:
            if isinstance(columns, str):
                raise ValueError("columns must be a list of column names, not a string")
            missing = [c for c in columns if not isinstance(c, str) or c not in prof.columns]
            if missing:
                raise InputError("unknown column: not in the profile", source=prof.source, column=str(missing[0]))
        for c in exclude:
            if c not in prof.columns:
                raise InputError("unknown column in exclude: not in the profile", source=prof.source, column=str(c))
        names = [c for c in (columns or prof.columns) if c not in exclude and c not in ignore]
    ref_data = None
    ref_values = ReferenceValues()  # the reference's sorted columns, kept for the KS test where they fit
    prefetch("scipy.special")  # every p-value's import, while the engine reads the tables
    with contextlib.ExitStack() as stack:
        if prof is None:
            say("binning the reference")
            ref_data = stack.enter_context(opened(reference_or_profile, "reference", delimiter=delimiter,
                                                  decimal=decimal))
            prof = _profile(ref_data, columns, categorical, opts.bins, opts.max_categories, exclude, opts.quantiles,
                            ignore, keep=ref_values.offer if opts.tests else None)
            names = list(prof.columns)
        if opts.tests and any(prof.columns[c].kind in ("numeric", "datetime") for c in names):
            prefetch("scipy.stats")  # the KS test's import (seconds), while the engine counts; none for categories
        say("counting the current table")
        if isinstance(current, Profile):  # partitions profiled on the reference's bins and merged
            from .merge import counts_from_profile

            counted = counts_from_profile(prof, current, names)
            result = compare_counts(prof, counted, names, resolved, drift, threshold, opts, current.source)
            return replace(result, options=opts)
        with opened(current, "current", delimiter=delimiter, decimal=decimal) as engine:
            notes = (*(ref_data.notes if ref_data is not None else ()), *engine.notes)
            for note in notes:
                warnings.warn(note, UserWarning, stacklevel=2)
            if opts.tests and ref_data is not None:  # both tables at hand: KS on the values, not on the bins
                counted = _counts_and_ks(prof, ref_data, ref_values, engine, names, opts.quantiles)
            else:
                counted = current_counts(prof, engine, names, opts.quantiles)
            known = (set(prof.columns) | {s["column"] for s in prof.skipped} | set(exclude) | set(ignore)
                     | (set(ref_data.schema()) if ref_data is not None else set()))
            counted["new_columns"] = [c for c in counted["new_columns"] if c not in known]
            if opts.multivariate and ref_data is not None:
                from .multivariate import multivariate_test

                say("multivariate test")
                joint = [c for c in names if prof.columns[c].kind in ("numeric", "datetime")
                         and c not in counted["status"]]
                counted["multivariate"] = multivariate_test(ref_data, engine, joint, confidence=opts.confidence)
            iv = None
            if target is not None:
                iv = _iv_tables(ref_data, engine, target, bad, names, prof, opts, delimiter, say)
            cur_label = engine.label
    say("computing metrics")
    result = compare_counts(prof, counted, names, resolved, drift, threshold, opts, cur_label)
    summary, multi = result.summary, counted.get("multivariate")
    if multi is not None:
        summary = replace(summary, multivariate_p_value=multi.p_value, multivariate_drift=multi.drifted)
    return replace(result, summary=summary, options=opts, information_value=iv, warnings=notes, multivariate=multi)


def _counts_and_ks(prof: Profile, reference: Engine, ref_values: ReferenceValues, current: Engine, names: list[str],
                   quantiles: bool) -> dict[str, Any]:
    """The current table's counts (:func:`current_counts`) with the two-sample KS test on the values of
    every compared numeric and time column (``ks``) and whether its current values are all equal
    (``constant``): each current column is sorted once, for its counts and its test; the reference's
    come from profiling it where they were kept, else are fetched again (one column of each table at a
    time, so memory holds two columns' values and a fetch batch at most)."""
    ks, constant = {}, {}
    ref_values.stream_from(reference, [c for c in names if prof.columns[c].kind in ("numeric", "datetime")])

    def visit(column: str, values: np.ndarray, counts: np.ndarray | None) -> None:
        ks[column] = ks_values(values, counts, *ref_values.get(column))
        constant[column] = bool(values.size and values[0] == values[-1])

    counted = current_counts(prof, current, names, quantiles, visit=visit)
    counted["ks"], counted["constant"] = ks, constant
    return counted


def resolve_metrics(opts: CompareOptions) -> tuple[list[Metric], Metric, float]:
    """(metrics, drift metric, threshold) of ``opts``, checked (ValueError naming the option). Every
    metric, drift metric and per-column metric is resolved here (:func:`.metrics.resolve`: a name, a
    ``(name, params)`` pair or a ``dv.spec(...)`` value). With ``drift_metric="auto"`` the metrics it
    may use (:func:`.rules.auto_metrics`) are added, the first metric is the headline, and the
    threshold may be None; metrics named by ``column_rules`` are added too. The default threshold is
    the drift metric's conventional one (its record's ``drift`` fact)."""
    resolved = [_resolve(m, opts) for m in opts.metrics]
    if len({m.name for m in resolved}) != len(resolved):
        raise ValueError(f"metrics: a metric is named twice in {[m.name for m in resolved]}")
    wanted = [r["drift_metric"] for r in opts.column_rules.values() if "drift_metric" in r]
    for item in wanted + (list(auto_metrics()) if opts.drift_metric == "auto" else []):
        if find_metric(resolved, item, opts) is None:
            extra = _resolve(item, opts)
            if any(m.name == extra.name for m in resolved):
                raise ValueError(f"metrics: {extra.name!r} is already a metric with other parameters than "
                                 f"{extra.spec!r}, which a drift rule needs")
            resolved.append(extra)
    if opts.drift_metric == "auto":
        return resolved, resolved[0], (0.1 if opts.threshold is None else opts.threshold)
    drift = resolved[0] if opts.drift_metric is None else find_metric(resolved, opts.drift_metric, opts)
    if drift is None:
        raise ValueError(f"drift_metric {opts.drift_metric!r} must be one of the metrics {[m.name for m in resolved]}")
    threshold = opts.threshold
    if threshold is None:
        threshold = _conventional_threshold(drift, "threshold is required")
    for col, rule in opts.column_rules.items():
        other = find_metric(resolved, rule.get("drift_metric", drift.name), opts) or drift  # added above
        if "threshold" not in rule and other is not drift:
            _conventional_threshold(other, f"column_rules[{col!r}]: a threshold is required")
    return resolved, drift, threshold


def _resolve(item: Any, opts: CompareOptions) -> Metric:
    """A metric of ``opts`` (a name gets its parameters from ``opts.params``)."""
    return resolve(item, opts.params.get(item) if isinstance(item, str) else None)


def find_metric(metrics: Sequence[Metric], item: Any, opts: CompareOptions) -> Metric | None:
    """The metric of ``metrics`` that ``item`` names: a metric of that name, else one computing the same
    divergence with the same parameters (``"jeffreys"`` finds ``"psi"``; ``dv.spec("js", beta=0.3)``
    finds the JS metric with β = 0.3); None if none does."""
    if isinstance(item, str):
        named = next((m for m in metrics if m.name == item), None)
        if named is not None:
            return named
    wanted = _resolve(item, opts).spec
    return next((m for m in metrics if m.spec == wanted), None)


def _conventional_threshold(metric: Metric, message: str) -> float:
    """The drift threshold of ``metric``'s record (ValueError with ``message`` where it has none)."""
    drift = metric.drift
    if drift is None:
        raise ValueError(f"{message} when the drift metric is {metric.name!r}: it has no conventional threshold "
                         "(PSI has 0.1, JS and Hellinger 0.01, KL 0.1)")
    return drift.threshold


def column_rule(cp: ColumnProfile, opts: CompareOptions, metrics: Sequence[Metric], drift: Metric,
                threshold: float) -> Rule:
    """The :class:`~.rules.Rule` that decides the drift of column ``cp``."""
    given = opts.column_rules.get(cp.name)
    if given is not None:
        metric = find_metric(metrics, given.get("drift_metric", drift.name), opts) or drift
        if "threshold" in given:
            limit = given["threshold"]
        else:  # checked by resolve_metrics: the drift metric's threshold, or the metric's conventional one
            limit = threshold if metric is drift else _conventional_threshold(metric, "a threshold is required")
        return Rule(metric=metric.name, threshold=float(limit))
    if opts.drift_metric == "auto":
        numeric, categorical = (find_metric(metrics, d, opts) or drift for d in auto_metrics())
        return auto_rule(cp.kind, cp.rows, int(np.count_nonzero(cp.counts)), opts.threshold, numeric, categorical)
    return Rule(metric=drift.name, threshold=threshold)


def drift_rule(drift: Metric, threshold: float, confidence: float, opts: CompareOptions | None = None,
               metrics: Sequence[Metric] = ()) -> str:
    """The drift rule in words (``psi ≥ 0.1 and p-value < 0.05``; the two sizes of ``"auto"``)."""
    alpha = f"{1 - confidence:.3g}"
    if opts is not None and opts.drift_metric == "auto":
        numeric, categorical = (find_metric(metrics, d, opts) or resolve(d) for d in auto_metrics())
        large = [rule_text(auto_rule(kind, AUTO_SMALL + 1, AUTO_FEW_VALUES + 1, opts.threshold, numeric, categorical),
                           confidence, m) for kind, m in (("numeric", numeric), ("categorical", categorical))]
        rule = (f"auto: a reference of at most {AUTO_SMALL} rows: ks (numeric) or chi2_test p-value < {alpha}; "
                f"larger: {large[0]} (numeric) or {large[1]}")
    else:
        rule = rule_text(Rule(metric=drift.name, threshold=threshold), confidence, drift)
    if opts is not None and opts.column_rules:
        rule += "; per-column rules for " + ", ".join(opts.column_rules)
    return rule


def compare_counts(prof: Profile, counted: dict[str, Any], names: list[str], metrics: list[Metric], drift: Metric,
                   threshold: float, opts: CompareOptions, current_label: str) -> Comparison:
    """The :class:`Comparison` of counts already taken on ``prof``'s bins (also used per window)."""
    raw = counted.get("quantiles", {})
    status = counted.get("status", {})
    with_raw = bool(raw) and any(m.ordered for m in metrics)  # beside the binned W1
    cols = []
    for c in names:
        cp = prof.columns[c]
        if c in status or cp.kind == "missing":
            cols.append(_broken_column(cp, status.get(c), counted, metrics, opts))
        else:
            cols.append(_column(cp, counted["counts"][c], counted["unseen"].get(c), raw.get(c), with_raw, metrics,
                                opts, drift, threshold, counted.get("ks", {}).get(c)))
    skipped = tuple(SkippedColumn(s["column"], s["reason"], s.get("where", "reference")) for s in prof.skipped)
    shown = tuple(m.name for m in metrics)
    if with_raw:  # every column has every metric (NaN where it does not apply)
        shown += ("wasserstein_raw",)
        nan = MetricEstimate("wasserstein_raw", None, math.nan)
        cols = [c if "wasserstein_raw" in c.metrics else replace(c, metrics={**c.metrics, "wasserstein_raw": nan})
                for c in cols]
    cols_t = tuple(cols)
    return Comparison(cols_t, skipped, summarize(cols_t, drift, threshold, opts, len(skipped)), shown, opts,
                      drift_rule(drift, threshold, opts.confidence, opts, metrics), prof.source, current_label,
                      quality=data_quality(prof, cols_t, counted), drift_metric=drift.name)


def _broken_column(cp: ColumnProfile, status: tuple[str, str] | None, counted: dict[str, Any], metrics, opts
                   ) -> ColumnComparison:
    """A column that cannot be compared on its bins but whose state is itself the finding: dropped from
    the current table, of another type, every value missing (drifted), or missing in the reference."""
    rows_cur = int(counted.get("rows", 0))
    miss, rows = counted.get("missing", {}).get(cp.name, (None, rows_cur))
    if cp.name in counted.get("counts", {}):
        bc = counted["counts"][cp.name]
        miss, rows = int(bc.missing), int(np.sum(bc.counts)) + int(bc.missing)
    missing = None
    if miss is not None and rows:
        missing = missing_share_test(cp.missing, cp.rows, miss, rows, confidence=opts.confidence,
                                     threshold=opts.missing_threshold)
    if cp.kind == "missing":
        if miss is None or miss == rows:
            state, reason, drifted = "all missing in both", "", False
        else:
            state, drifted = "all missing in reference", True
            reason = (f"every value is missing in the reference; {1 - miss / rows:.1%} of current values are "
                      "present")
    elif status is not None:
        (state, reason), drifted = status, True
    else:  # pragma: no cover - a broken column has a status or is all missing in the reference
        raise ValueError(f"column {cp.name!r}: no status to report")
    estimates = {m.name: MetricEstimate(m.name, m.divergence, math.nan) for m in metrics}
    labels = tuple(cp.labels()) if cp.kind != "missing" else ()
    hist = Histogram(labels, tuple(int(x) for x in cp.counts), tuple(0 for _ in cp.counts))
    return ColumnComparison(cp.name, cp.kind, 0, cp.rows, rows, cp.missing / cp.rows if cp.rows else math.nan,
                            (miss / rows) if (miss is not None and rows) else math.nan, 0.0, estimates, drifted, hist,
                            {}, None, False, None, missing, (reason,) if reason else (), state)


def _column(cp: ColumnProfile, cur, unseen, raw, with_raw, metrics, opts, drift, threshold, ks=None
            ) -> ColumnComparison:
    ref_counts = np.asarray(cp.counts, dtype=np.int64)
    cur_counts = np.asarray(cur.counts, dtype=np.int64)
    n_ref, n_cur = cp.rows, int(cur_counts.sum()) + int(cur.missing)
    alpha = applied_smoothing(cur_counts, ref_counts, opts.smoothing)
    numeric = cp.kind in ("numeric", "datetime")
    estimates = {}
    for m in metrics:
        if m.numeric_only and not numeric:
            estimates[m.name] = MetricEstimate(m.name, m.divergence, math.nan)
            continue
        e = evaluate(m, cur_counts, ref_counts, smoothing=alpha, confidence=opts.confidence,
                     locations=None if cp.locations is None else np.asarray(cp.locations), scale=cp.scale,
                     null_smoothing=opts.smoothing)
        estimates[m.name] = MetricEstimate(m.name, m.divergence, e.value, e.se, e.ci_low, e.ci_high, e.p_value,
                                           e.null_mean, e.band)
    quantiles = None
    if raw is not None:
        if with_raw:
            estimates["wasserstein_raw"] = MetricEstimate("wasserstein_raw", None,
                                                          wasserstein_raw(raw, cp.quantiles, cp.scale))
        quantiles = Quantiles(tuple(float(u) for u in QUANTILE_LEVELS), tuple(cp.quantiles or ()),
                              tuple(float(x) for x in raw))
    rule = column_rule(cp, opts, metrics, drift, threshold)
    tests = {}
    if opts.tests or rule.test is not None:
        if numeric:
            tests["ks"] = (TestResult("ks", *ks, on="values") if ks is not None
                           else TestResult("ks", *ks_binned(cur_counts, ref_counts)))
            tests["anderson_darling"] = TestResult("anderson_darling", *anderson_darling_binned(cur_counts, ref_counts))
        if not numeric or rule.test == "chi2_test":  # also a numeric column with few values under "auto"
            tests["chi2_test"] = TestResult("chi2_test", *chi2_homogeneity(cur_counts, ref_counts))
    unseen_share = None
    if cp.kind == "categorical" and unseen is not None:
        present = int(cur_counts.sum())
        unseen_share = unseen / present if present else 0.0
    missing = missing_share_test(cp.missing, n_ref, int(cur.missing), n_cur, confidence=opts.confidence,
                                 threshold=opts.missing_threshold)
    alpha_level = 1 - opts.confidence
    reasons = []
    metric_by_name = {m.name: m for m in metrics}
    if rule.test is not None:
        t = tests.get(rule.test)
        if t is None:  # the test of another kind of column ("auto" picks per kind): the one this column has
            t = next(iter(tests.values()))
        if t.p_value < alpha_level:
            reasons.append(f"{t.test} p-value {_short(t.p_value)} < {alpha_level:g}")
    else:
        d = estimates[rule.metric]
        value = math.sqrt(d.value) if rule.scale == "sqrt" and d.value >= 0 else d.value
        needs_p = rule.with_p_value and not math.isnan(d.p_value)
        if value >= rule.threshold and (not needs_p or d.p_value < alpha_level):
            p_text = f", p-value {_short(d.p_value)} < {alpha_level:g}" if needs_p else ""
            shown = f"√{rule.metric}" if rule.scale == "sqrt" else rule.metric
            reasons.append(f"{shown} {_short(value)} ≥ {rule.threshold:g}{p_text}")
    if missing.drifted:
        reasons.append(f"missing share {missing.reference:.1%} → {missing.current:.1%}, p-value "
                       f"{_short(missing.p_value)} < {alpha_level:g}")
    hist = Histogram(tuple(cp.labels()), tuple(int(x) for x in ref_counts), tuple(int(x) for x in cur_counts))
    return ColumnComparison(
        cp.name, cp.kind, int(np.sum((ref_counts + cur_counts) > 0)), n_ref, n_cur, cp.missing / n_ref,
        int(cur.missing) / n_cur, alpha, estimates, bool(reasons), hist, tests, unseen_share,
        bool(unseen_share is not None and unseen_share >= opts.unseen_threshold and unseen_share > 0), quantiles,
        missing, tuple(reasons), "compared", rule.decided_by, rule.threshold,
        rule_text(rule, opts.confidence, metric_by_name.get(rule.metric or "")),
    )


def _short(x: float) -> str:
    return f"{x:.2g}"


def summarize(cols: Sequence[ColumnComparison], drift: Metric, threshold: float, opts: CompareOptions,
              skipped: int = 0) -> DatasetSummary:
    """The dataset verdicts over compared columns (see :class:`DatasetSummary`).

    Holm and Benjamini–Hochberg adjust one family of p-values: the drift metric's p-value of every
    compared column (the first test's where the metric has none) and the missing-share p-value of
    every column with a missing value in either table. A column is listed when one of its adjusted
    p-values is below α with its change material (the metric at the threshold, the missing share
    moved by ``missing_threshold``); a broken column (dropped, type changed, all missing) is listed
    as drifted with p-value 0."""
    alpha = 1 - opts.confidence
    n = len(cols)
    drifted = sum(c.drifted for c in cols)
    share = drifted / n if n else 0.0
    pv = np.array([_column_p_value(c, c.decided_by or drift.name) for c in cols], dtype=np.float64)
    mv = np.array([c.missing.p_value if c.missing is not None and (c.missing.reference > 0 or c.missing.current > 0)
                   else math.nan for c in cols], dtype=np.float64)
    material = [_material(c, drift.name, threshold) for c in cols]
    missing_material = [c.missing is not None and abs(c.missing.difference) >= opts.missing_threshold for c in cols]
    family = np.concatenate([pv, mv])
    holm_all, bh_all = holm(family), benjamini_hochberg(family)

    def listed(adjusted):
        return tuple(c.column for i, c in enumerate(cols)
                     if (material[i] and adjusted[i] < alpha) or (missing_material[i] and adjusted[n + i] < alpha))

    holm_cols, bh_cols = listed(holm_all), listed(bh_all)
    adjusted = {}
    for i, c in enumerate(cols):
        entry = {"p_value": float(pv[i]), "holm": float(holm_all[i]), "bh": float(bh_all[i])}
        if not math.isnan(mv[i]):
            entry.update(missing_p_value=float(mv[i]), missing_holm=float(holm_all[n + i]),
                         missing_bh=float(bh_all[n + i]))
        adjusted[c.column] = entry
    return DatasetSummary(n, drifted, share, opts.drift_share, bool(n and share >= opts.drift_share), alpha,
                          holm_cols, bh_cols, bool(holm_cols), bool(bh_cols), skipped, adjusted)


def _material(c: ColumnComparison, metric: str, threshold: float) -> bool:
    """Whether a column's change reaches its rule's threshold (a test-decided column: always)."""
    if c.status != "compared":
        return c.drifted
    name = c.decided_by or metric
    if name in c.tests and name not in c.metrics:
        return True
    limit = c.threshold if not math.isnan(c.threshold) else threshold
    value = c.metrics[name].value
    if c.rule.startswith("√"):
        value = math.sqrt(value) if value >= 0 else value
    return bool(value >= limit)


def _column_p_value(c: ColumnComparison, metric: str) -> float:
    if c.status != "compared":  # a broken column is drifted for certain; one missing in both tables has no test
        return 0.0 if c.drifted else math.nan
    if metric in c.tests and metric not in c.metrics:
        return c.tests[metric].p_value
    if metric not in c.metrics:  # a test-decided column of another kind: the test it has
        return next((t.p_value for t in c.tests.values()), math.nan)
    p = c.metrics[metric].p_value
    if math.isnan(p):  # the drift metric has no test (Wasserstein): the first test beside it
        p = next((t.p_value for t in c.tests.values()), math.nan)
    return p


def _iv_tables(ref_data, cur_engine, target, bad, names, prof, opts, delimiter, say):
    from .information_value import information_value_table

    say("information value")
    tables = []
    if ref_data is not None:
        tables.append(("reference", information_value_table(ref_data, target, columns=names, bins=prof.bins,
                                                            bad=bad, smoothing=opts.smoothing,
                                                            confidence=opts.confidence, profile_=prof,
                                                            label="reference", delimiter=delimiter)))
    if target in cur_engine.schema():
        tables.append(("current", information_value_table(cur_engine, target, columns=names, bins=prof.bins,
                                                          bad=bad, smoothing=opts.smoothing,
                                                          confidence=opts.confidence, profile_=prof)))
    if not tables:
        return None
    merged = []
    for which, table in tables:
        for r in table:
            merged.append({"table": which, **r})
    return merged
