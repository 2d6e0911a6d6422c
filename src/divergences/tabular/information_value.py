r"""Information value (IV) and weights of evidence (WoE) of features for a binary target.

Rows are split into *goods* and *bads* by the target; per feature, bins come from the whole table
(or from a given profile) as in :func:`profile`. With g_i and b_i the shares of goods and of bads in
bin i (after the named ``smoothing`` pseudo-count, as in :func:`compare`):

* WoE_i = ln(g_i / b_i): **goods over bads**, so a positive WoE marks a bin safer than average
  (the credit-scoring convention of Siddiqi; some tools use the opposite sign);
* IV = Σ_i (g_i − b_i) WoE_i (textbook values on the observed shares; only a feature with a bin
  empty for goods or bads gets the pseudo-count of ``smoothing="auto"``, reported per feature),
  which is the Jeffreys divergence J(goods, bads), with the
  delta-method standard error, interval and χ² p-value of :mod:`.metrics` (N = goods, M = bads).

Bands: < .02 useless, .02–.1 weak, .1–.3 medium, .3–.5 strong, > .5 suspicious.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from ..core.divergence import spec
from .engines import Engine, opened
from .engines.base import Split
from .errors import InputError
from .metrics import Metric, applied_smoothing, evaluate, frequencies, iv_band
from .options import CompareOptions
from .profile import Profile, profile

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["InformationValueOptions", "binary_target", "information_value", "information_value_table"]

_IV = Metric("iv", spec("jeffreys"), band_rule=iv_band)
_DEFAULT_BAD = ({"0", "1"}, "1"), ({"false", "true"}, "true"), ({"0.0", "1.0"}, "1.0")


def binary_target(engine: Engine, target: str, bad: Any = None) -> str:
    """The text value of ``target`` that marks a "bad" row, after checking the target is binary.

    ``bad=None`` is accepted for 0/1 and boolean targets (1 / true is bad); other targets need it.
    """
    schema = engine.schema()
    if target not in schema:
        raise InputError(f"unknown target column (columns: {', '.join(schema)})", source=engine.label, column=target)
    values = [v for v, _ in engine.top_values(target, 3)]
    if len(values) != 2:
        count = len(values) if len(values) < 3 else engine.distinct_counts([target])[target]
        found = ", ".join(repr(v) for v in values[:3]) + (" ..." if count > 3 else "")
        raise InputError(f"the target must have exactly two values, found {count}"
                         f"{' (' + found + ')' if values else ''}", source=engine.label, column=target)
    if bad is None:
        for pair, default in _DEFAULT_BAD:
            if set(values) == pair:
                return default
        raise InputError(f"say which target value is bad (bad=...); values are {values}",
                         source=engine.label, column=target)
    text = ("true" if bad else "false") if isinstance(bad, bool) else str(bad)
    if text not in values:
        raise InputError(f"bad={bad!r} is not a value of the target ({values})", source=engine.label, column=target)
    return text


def information_value_table(
    data: Any,
    target: str,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    bins: int = 10,
    bad: Any = None,
    smoothing: float | str = "auto",
    confidence: float = 0.95,
    profile_: Profile | None = None,
    label: str = "table",
    delimiter: str | None = None,
) -> list[dict[str, Any]]:
    """:func:`information_value` as a list of rows (no pandas needed); ``label`` names a dataframe in errors."""
    CompareOptions(smoothing=smoothing, confidence=confidence, bins=bins)  # checks them, naming each
    if not isinstance(target, str):
        raise ValueError(f"target must be a column name, got {target!r}")
    with opened(data, label, delimiter=delimiter) as engine:
        bad_text = binary_target(engine, target, bad)
        prof = profile_ or profile(engine, columns=columns, categorical=categorical, bins=bins, ignore=(target,))
        names = [c for c in (columns or prof.columns) if c != target and prof.columns[c].kind != "missing"]
        numeric = {c: np.asarray(prof.columns[c].edges) for c in names
                   if prof.columns[c].kind in ("numeric", "datetime")}
        cats = {c: prof.columns[c].categories or [] for c in names if prof.columns[c].kind == "categorical"}
        counts = engine.bin_counts(numeric, cats, split=Split(target, bad_text))
    rows = []
    for c in names:
        goods, bads = counts[c].counts
        alpha = applied_smoothing(goods, bads, smoothing)
        est = evaluate(_IV, goods, bads, smoothing=alpha, confidence=confidence)
        g, b, kept = frequencies(goods, bads, alpha)
        labels = [lab for lab, k in zip(prof.columns[c].labels(), kept) if k]
        with np.errstate(divide="ignore"):
            woe = np.log(g) - np.log(b)
        per_bin = [{"bin": lab, "good": int(x), "bad": int(y), "woe": float(w)}
                   for lab, x, y, w in zip(labels, goods[kept], bads[kept], woe)]
        rows.append({"feature": c, "kind": prof.columns[c].kind, "iv": est.value, "iv_se": est.se,
                     "iv_ci_low": est.ci_low, "iv_ci_high": est.ci_high, "iv_p_value": est.p_value,
                     "iv_band": est.band, "n_good": int(goods.sum()), "n_bad": int(bads.sum()),
                     "smoothing": alpha, "woe": per_bin})
    return rows


class InformationValueOptions(TypedDict, total=False):
    """The keywords of :func:`information_value` (those of :func:`information_value_table`, where their
    defaults are): ``columns`` (default: every column but the target), ``categorical`` (numeric columns
    read as categories), ``bins`` (10), ``bad`` (the target value of a bad row), ``smoothing`` ("auto"),
    ``confidence`` (0.95)."""

    columns: Sequence[str] | None
    categorical: Sequence[str] | None
    bins: int
    bad: Any
    smoothing: float | str
    confidence: float


def information_value(frame: Any, target: str, **options: Unpack[InformationValueOptions]) -> Any:
    """Information value of every feature of ``frame`` for the binary ``target`` (pandas DataFrame).

    The keywords are those of :class:`InformationValueOptions` (``columns``, ``categorical``, ``bins``,
    ``bad``, ``smoothing``, ``confidence``), with the defaults of :func:`information_value_table`.
    ``bad`` names the target value of a bad row (default: 1 for 0/1 targets, True for booleans).
    Columns: ``feature``, ``kind``, ``iv``, ``iv_se``, ``iv_ci_low``, ``iv_ci_high``,
    ``iv_p_value``, ``iv_band``, ``n_good``, ``n_bad``, ``smoothing`` and ``woe`` (per bin: label,
    good and bad counts, WoE = ln(good share / bad share)). Rows with a missing target are left out.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [float(i) for i in range(8)], "y": [0, 0, 0, 1, 0, 1, 1, 1]})
    >>> t = information_value(df, "y", bins=2, smoothing=0.0)
    >>> round(float(t.loc[0, "iv"]), 4), t.loc[0, "woe"][0]["woe"] > 0
    (1.0986, True)
    """
    import pandas as pd

    return pd.DataFrame(information_value_table(frame, target, **options))


