"""Data-quality checks beside drift, from a comparison's rows and counts (see :class:`~.results.DataQuality`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .profile import ColumnProfile, Profile
from .results import ColumnComparison, DataQuality

__all__ = ["data_quality"]


def data_quality(prof: Profile, cols: Sequence[ColumnComparison], counted: dict[str, Any]) -> DataQuality:
    """The :class:`DataQuality` checks of a comparison, from its rows and the counts taken."""
    by_status = {s: tuple(c.column for c in cols if c.status == s) for s in ("dropped", "type changed", "all missing")}
    const_ref = tuple(c.column for c in cols if _constant_reference(prof.columns[c.column]))
    constant = counted.get("constant", {})  # from the values (KS between two tables): exact
    const_cur = []
    for c in cols:
        if c.status != "compared":
            continue
        cur = np.asarray(c.histogram.current)
        if c.column in constant:
            one = constant[c.column]
        elif c.kind == "categorical":
            one = int(np.count_nonzero(cur)) == 1 and cur[-1] == 0
        else:
            labels = c.histogram.labels
            one = int(np.count_nonzero(cur)) == 1 and labels[int(np.argmax(cur))].startswith("= ")
        if one:
            const_cur.append(c.column)
    out_of_range = {}
    for c in cols:
        below, above = counted.get("out_of_range", {}).get(c.column, (0, 0))
        present = int(np.sum(c.histogram.current))
        if below or above:
            out_of_range[c.column] = {"below": below, "above": above, "share": (below + above) / present}
    return DataQuality(tuple(counted.get("new_columns", ())), by_status["dropped"], by_status["type changed"],
                       by_status["all missing"], tuple(c.column for c in cols if c.missing is not None
                                                       and c.missing.drifted), const_ref, tuple(const_cur),
                       out_of_range)


def _constant_reference(cp: ColumnProfile) -> bool:
    if cp.kind == "categorical":
        return cp.seen is not None and len(cp.seen) == 1
    if cp.kind in ("numeric", "datetime"):
        return cp.minimum is not None and cp.minimum == cp.maximum
    return False
