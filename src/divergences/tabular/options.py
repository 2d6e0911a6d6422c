"""The options of a comparison, grouped in one checked, frozen record: :class:`CompareOptions`.

Every field is checked when the record is made, with a ValueError naming the field; the keywords
of :func:`~divergences.tabular.compare` and :func:`~divergences.tabular.profile` are these fields.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypedDict

from ..core.divergence import Divergence

__all__ = ["DEFAULT_METRICS", "MAX_BINS", "MAX_CATEGORIES", "CompareKeywords", "CompareOptions", "check_int", "check_number"]

DEFAULT_METRICS = ("psi", "js", "hellinger", "wasserstein", "chi2")
#: upper bound of ``bins`` (numeric columns also get at most one bin per reference row)
MAX_BINS = 10_000
#: upper bound of ``max_categories``
MAX_CATEGORIES = 100_000


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, allow_none: bool = False) -> float | None:
    """``value`` as a float, or a ValueError naming ``name`` (strings, booleans, NaN are refused)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    x = float(value)
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (x <= low if low_open else x < low):
        raise ValueError(f"{name} must be {'>' if low_open else '≥'} {low:g}, got {value!r}")
    if high is not None and (x >= high if high_open else x > high):
        raise ValueError(f"{name} must be {'<' if high_open else '≤'} {high:g}, got {value!r}")
    return x


def check_int(name: str, value: Any, *, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in [low, high], or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    v = int(value)
    if v < low or (high is not None and v > high):
        what = "a positive integer" if low == 1 else f"an integer ≥ {low}"
        raise ValueError(f"{name} must be {what}{f' (at most {high})' if high is not None else ''}, got {value!r}")
    return v


def _metric_names(value: Any) -> tuple:
    if isinstance(value, str):  # "psi" or "psi,js": a name, not a sequence of letters
        value = [v.strip() for v in value.split(",") if v.strip()]
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(f"metrics must be a metric name or a list of them, got {value!r}") from None
    if not items:
        raise ValueError("metrics must name at least one metric")
    return items


@dataclass(frozen=True)
class CompareOptions:
    """What :func:`compare` computes and how it decides.

    * ``bins`` (1 … :data:`MAX_BINS`): quantile bins per numeric or time column (fewer where
      quantiles tie, at most one per reference row); ``max_categories`` (1 … :data:`MAX_CATEGORIES`):
      kept categories per categorical column (the rest share ``<other>``);
    * ``metrics``: names (``"psi"``, ``"js"``, any registered divergence, ``"wasserstein"``), a
      comma-separated string, divergences with their parameters (``dv.spec("js", beta=0.3)``, named
      by their record: ``"js"``) or ``(name, params)`` pairs (``("alpha", {"alpha": 0.5})``); the
      first is the headline;
    * ``smoothing``: ``"auto"`` (default: the textbook plug-in values on the observed shares; a
      pseudo-count of 0.5 per bin only for a column with a bin empty on one side, reported per
      column), or a number ≥ 0 added to every bin of every column (0 = never: an empty bin gives
      +inf PSI);
    * ``confidence`` in (0, 1): intervals, and α = 1 − confidence for p-values;
    * ``drift_metric`` (default: the first metric; a name or a ``dv.spec(...)`` value) and
      ``threshold`` (default: the divergence's conventional one, from its record: 0.1 for PSI, 0.01
      for JS and Hellinger, 0.1 for KL; required for the others): a column drifted when
      drift_metric ≥ threshold and its p-value < α;
    * ``drift_share`` in (0, 1]: the dataset drifted when at least this share of the compared
      columns drifted (Evidently's convention; default 0.5);
    * ``tests``: run KS and Anderson–Darling (numeric, time) and χ² homogeneity (categorical) on
      the bins beside the divergences;
    * ``quantiles``: also take the current table's percentiles (one more pass over its numeric
      columns, exact quantiles: about as long as the reference's; off by default) for the
      reference/current quantiles of each column and ``wasserstein_raw``, the W1 distance between
      the raw values' quantile functions (with ``"wasserstein"`` among the metrics);
    * ``unseen_threshold`` in [0, 1]: flag a categorical column when at least this share of the
      current values was never seen in the reference (default 0.05);
    * ``column_rules``: per column, the metric that decides its drift and the threshold
      (``{"income": {"drift_metric": "wasserstein", "threshold": 0.2}}``; see :mod:`.rules` and
      ``--config``); ``drift_metric="auto"`` picks the test or metric by type and size;
    * ``multivariate``: also test the numeric columns together (energy distance, permutation p-value,
      on a sample of rows; see :mod:`.multivariate`): a change of their joint distribution is caught
      when each column's own distribution is unchanged;
    * ``missing_threshold`` in [0, 1]: a change of the missing share counts in a column's verdict
      when its p-value is below α and it moves by at least this much (default 0.05: five percentage
      points; 1 counts only a change from none to all missing).

    >>> CompareOptions(metrics="psi,js", threshold=0.2).metrics
    ('psi', 'js')
    >>> CompareOptions(threshold="0.1")
    Traceback (most recent call last):
    ...
    ValueError: threshold must be a number, got '0.1' (str)
    """

    bins: int = 10
    max_categories: int = 50
    metrics: tuple = DEFAULT_METRICS
    smoothing: float | str = "auto"
    confidence: float = 0.95
    drift_metric: str | Divergence | None = None
    threshold: float | None = None
    drift_share: float = 0.5
    tests: bool = True
    quantiles: bool = False
    unseen_threshold: float = 0.05
    params: Mapping[str, Any] = field(default_factory=dict)
    missing_threshold: float = 0.05
    column_rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    multivariate: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "bins", check_int("bins", self.bins, high=MAX_BINS))
        set_(self, "max_categories", check_int("max_categories", self.max_categories, high=MAX_CATEGORIES))
        set_(self, "metrics", _metric_names(self.metrics))
        if self.smoothing != "auto":
            if isinstance(self.smoothing, str):
                raise ValueError(f"smoothing must be 'auto' or a number ≥ 0 (a pseudo-count), got {self.smoothing!r}")
            set_(self, "smoothing", check_number("smoothing", self.smoothing, low=0.0))
        set_(self, "confidence", check_number("confidence", self.confidence, low=0.0, high=1.0,
                                              low_open=True, high_open=True))
        if self.drift_metric is not None and not isinstance(self.drift_metric, (str, Divergence)):  # or "auto"
            raise ValueError(f"drift_metric must be a metric name or dv.spec(...), got {self.drift_metric!r}")
        set_(self, "threshold", check_number("threshold", self.threshold, low=0.0, allow_none=True))
        set_(self, "drift_share", check_number("drift_share", self.drift_share, low=0.0, high=1.0, low_open=True))
        for name in ("tests", "quantiles", "multivariate"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        set_(self, "unseen_threshold", check_number("unseen_threshold", self.unseen_threshold, low=0.0, high=1.0))
        set_(self, "missing_threshold", check_number("missing_threshold", self.missing_threshold, low=0.0, high=1.0))
        if not isinstance(self.column_rules, Mapping):
            raise ValueError(f"column_rules must map column names to rules, got {self.column_rules!r}")
        for col, rule in self.column_rules.items():
            if not isinstance(col, str) or not isinstance(rule, Mapping):
                raise ValueError(f"column_rules: {col!r} must map to {{'drift_metric': name, 'threshold': x}}")
            unknown = set(rule) - {"drift_metric", "threshold"}
            if unknown:
                raise ValueError(f"column_rules[{col!r}]: unknown key {sorted(unknown)[0]!r} "
                                 "(drift_metric, threshold)")
            if not isinstance(rule.get("drift_metric", ""), (str, Divergence)):
                raise ValueError(f"column_rules[{col!r}].drift_metric must be a metric name or dv.spec(...)")
            check_number(f"column_rules[{col!r}].threshold", rule.get("threshold", 0.0), low=0.0)
        if not isinstance(self.params, Mapping):
            raise ValueError(f"params must map metric names to parameter dicts, got {self.params!r}")

    def to_dict(self) -> dict[str, Any]:
        """The options as plain values (JSON): a divergence value as its text, ``"spec('js', beta=0.3)"``.

        >>> import divergences as dv
        >>> CompareOptions(metrics=("psi", dv.spec("js", beta=0.3)), threshold=0.1).to_dict()["metrics"]
        ['psi', "spec('js', beta=0.3)"]
        """
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def build(cls, options: CompareOptions | None = None, **keywords: Any) -> CompareOptions:
        """``options`` with ``keywords`` (field names) replacing its fields; a TypeError names an unknown one."""
        if options is not None and not isinstance(options, cls):
            raise ValueError(f"options must be a CompareOptions, got {type(options).__name__}")
        known = {f.name for f in fields(cls)}
        for k in keywords:
            if k not in known:
                raise TypeError(f"unknown keyword {k!r} (options are: {', '.join(sorted(known))})")
        given = {k: v for k, v in keywords.items() if v is not None}
        if options is None:
            return cls(**given)
        return replace(options, **given) if given else options


class CompareKeywords(TypedDict, total=False):
    """The fields of :class:`CompareOptions` as keywords of :func:`~divergences.tabular.compare` and
    :func:`~divergences.tabular.monitor` (None keeps the default), so a type checker reports a misspelt one;
    a test keeps the two lists equal."""

    bins: int | None
    max_categories: int | None
    metrics: str | Sequence[Any] | None
    smoothing: float | str | None
    confidence: float | None
    drift_metric: str | Divergence | None
    threshold: float | None
    drift_share: float | None
    tests: bool | None
    quantiles: bool | None
    unseen_threshold: float | None
    params: Mapping[str, Any] | None
    missing_threshold: float | None
    column_rules: Mapping[str, Mapping[str, Any]] | None
    multivariate: bool | None


def _plain(value: Any) -> Any:
    if isinstance(value, Divergence):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
