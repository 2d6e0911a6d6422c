r"""Which test or metric decides a column's drift: one rule for every column, the rule chosen by type
and size (``drift_metric="auto"``), or a rule per column (``column_rules``, from ``--config``).

``drift_metric="auto"`` follows the conventions Evidently documents for its default data-drift
preset, with this library's honest uncertainty added where it has it:

* **small reference** (at most 1 000 rows): numeric and time columns with more than 5 distinct values
  (non-empty reference bins) are decided by the two-sample **Kolmogorov–Smirnov** test (on the values
  when both tables are at hand), other columns (categories, or numbers with at most 5 values) by the
  **χ² homogeneity** test (for a binary column this is the two-proportion z-test: z² = χ²); drifted
  when the p-value is below α = 1 − confidence;
* **larger reference**: numeric and time columns (more than 5 values) by the **Wasserstein** distance
  over the reference's standard deviation, drifted at ≥ 0.1 (Evidently's threshold; the record's own
  drift threshold where it has one); other columns by the **Jensen–Shannon distance** √JS (natural
  logarithm: the record serves the square-root distance) at ≥ √0.01 = 0.1, the square root of the JS
  record's conventional threshold — that is JS ≥ 0.01 nats — *and* its p-value below α (Evidently's
  rule uses the distance alone; a distance within noise does not drift here).

``threshold`` (when given) replaces the 0.1 of both distances. A rule per column (``column_rules``:
``{"income": {"drift_metric": "wasserstein", "threshold": 0.2}}``) overrides either. Which records
"auto" uses is said once, here (:func:`auto_metrics`); what it shows of them (the threshold, the
distance's square root) is read from their records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..core.divergence import Divergence, spec
from .metrics import Metric, second_derivative_at_one

__all__ = ["AUTO_SMALL", "EVIDENTLY_WASSERSTEIN", "Rule", "auto_metrics", "auto_rule", "rule_text"]

#: a reference with at most this many rows is "small" for ``drift_metric="auto"`` (Evidently's 1 000)
AUTO_SMALL = 1000
#: at most this many distinct values (non-empty bins): a numeric column is treated as categorical by "auto"
AUTO_FEW_VALUES = 5
#: Evidently's threshold of the Wasserstein distance over the reference's standard deviation (used where
#: the ordered record has no drift threshold of its own)
EVIDENTLY_WASSERSTEIN = 0.1


def auto_metrics() -> tuple[Divergence, Divergence]:
    """The divergences ``drift_metric="auto"`` decides with on a large reference, as Evidently's preset
    does: (numeric and time columns: the Wasserstein distance, categorical: the Jensen–Shannon one).

    >>> [d.name for d in auto_metrics()]
    ['wasserstein', 'js']
    """
    return spec("wasserstein"), spec("js")


@dataclass(frozen=True)
class Rule:
    """How a column's drift is decided: by a test's p-value (``test``: ``"ks"`` or ``"chi2_test"``) or by
    a metric at a threshold (``metric`` with ``threshold``; with its p-value below α where it has one).
    ``scale`` maps the metric's value before the threshold (``"sqrt"``: the JS distance)."""

    metric: str | None = None
    threshold: float = math.nan
    test: str | None = None
    scale: str = ""
    with_p_value: bool = True

    @property
    def decided_by(self) -> str:
        return self.test or self.metric or ""


def auto_rule(kind: str, reference_rows: int, nonempty_bins: int, threshold: float | None,
              numeric_metric: Metric, categorical_metric: Metric) -> Rule:
    """The rule ``drift_metric="auto"`` picks for a column (see the module docstring).

    :param kind: the column's kind (``"numeric"``, ``"datetime"``, ``"categorical"``).
    :param reference_rows: the reference's rows.
    :param nonempty_bins: the column's non-empty reference bins.
    :param threshold: the ``threshold`` option (None: the conventional thresholds).
    :param numeric_metric: the metric of :func:`auto_metrics` for numeric columns.
    :param categorical_metric: the one for the others.
    :returns: the :class:`Rule`.

    >>> from divergences.tabular.metrics import resolve
    >>> num, cat = (resolve(d) for d in auto_metrics())
    >>> auto_rule("numeric", 500, 10, None, num, cat).test
    'ks'
    >>> r = auto_rule("categorical", 5000, 3, None, num, cat)
    >>> r.metric, r.threshold, r.scale
    ('js', 0.1, 'sqrt')
    """
    numeric = kind in ("numeric", "datetime") and nonempty_bins > AUTO_FEW_VALUES
    if reference_rows <= AUTO_SMALL:
        return Rule(test="ks" if numeric else "chi2_test")
    metric = numeric_metric if numeric else categorical_metric
    record = metric.spec.record
    sqrt = record is not None and record.distance is not None  # shown as the distance its record serves
    drift = metric.drift
    if threshold is not None:
        limit = float(threshold)
    elif drift is None:
        limit = EVIDENTLY_WASSERSTEIN
    else:
        limit = math.sqrt(drift.threshold) if sqrt else drift.threshold
    return Rule(metric=metric.name, threshold=limit, scale="sqrt" if sqrt else "", with_p_value=not numeric)


def rule_text(rule: Rule, confidence: float, metric: Metric | None = None) -> str:
    """A rule in words: ``psi ≥ 0.1 and p-value < 0.05``, ``ks p-value < 0.05``, ``√js ≥ 0.1 and ...``."""
    alpha = f"{1 - confidence:.3g}"
    if rule.test is not None:
        return f"{rule.test} p-value < {alpha}"
    name = f"√{rule.metric}" if rule.scale == "sqrt" else str(rule.metric)
    text = f"{name} ≥ {rule.threshold:g}"
    has_p = metric is not None and not math.isnan(second_derivative_at_one(metric))
    if rule.with_p_value and has_p:
        text += f" and p-value < {alpha}"
    return text
