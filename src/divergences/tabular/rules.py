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
  over the reference's standard deviation, drifted at ≥ 0.1; other columns by the **Jensen–Shannon
  distance** √JS (natural logarithm) at ≥ 0.1 — that is JS ≥ 0.01 nats — *and* its p-value below α
  (Evidently's rule uses the distance alone; a distance within noise does not drift here).

``threshold`` (when given) replaces the 0.1 of both distances. A rule per column (``column_rules``:
``{"income": {"drift_metric": "wasserstein", "threshold": 0.2}}``) overrides either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .metrics import Metric, second_derivative_at_one

__all__ = ["AUTO_SMALL", "Rule", "auto_rule", "rule_text"]

#: a reference with at most this many rows is "small" for ``drift_metric="auto"`` (Evidently's 1 000)
AUTO_SMALL = 1000
#: at most this many distinct values (non-empty bins): a numeric column is treated as categorical by "auto"
AUTO_FEW_VALUES = 5


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


def auto_rule(kind: str, reference_rows: int, nonempty_bins: int, threshold: float | None) -> Rule:
    """The rule ``drift_metric="auto"`` picks for a column (see the module docstring).

    >>> auto_rule("numeric", 500, 10, None).test, auto_rule("categorical", 5000, 3, None).metric
    ('ks', 'js')
    """
    numeric = kind in ("numeric", "datetime") and nonempty_bins > AUTO_FEW_VALUES
    if reference_rows <= AUTO_SMALL:
        return Rule(test="ks" if numeric else "chi2_test")
    limit = 0.1 if threshold is None else float(threshold)
    if numeric:
        return Rule(metric="wasserstein", threshold=limit, with_p_value=False)
    return Rule(metric="js", threshold=limit, scale="sqrt")


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
