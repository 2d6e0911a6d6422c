"""Conventions that belong to a divergence and that a layer shows: the drift threshold and bands.

A record carries them (its term class's ``drift`` attribute, or a "function" record's field), so a
monitoring tool reads them from the record and never compares divergence names.

>>> from divergences.core.conventions import PSI
>>> PSI.band(0.05), PSI.band(0.1), PSI.band(0.3)
('stable', 'moderate', 'significant')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["PSI", "DriftRule"]


@dataclass(frozen=True)
class DriftRule:
    """A divergence's conventional drift rule: a column drifted when the value ≥ ``threshold``;
    ``bands`` are (exclusive upper limit, label) in increasing order, the last limit +inf (empty:
    no conventional bands); ``source`` says where the convention comes from."""

    threshold: float
    bands: tuple[tuple[float, str], ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        limits = [limit for limit, _ in self.bands]
        if not (self.threshold > 0 and math.isfinite(self.threshold)):
            raise ValueError(f"a drift threshold must be a positive number, got {self.threshold!r}")
        if limits and (limits != sorted(limits) or limits[-1] != math.inf):
            raise ValueError("drift bands must have increasing upper limits ending with +inf")

    def band(self, value: float) -> str:
        """The label of ``value`` ("" without bands or for NaN)."""
        if not self.bands or math.isnan(value):
            return ""
        return next((label for limit, label in self.bands if value < limit), self.bands[-1][1])


#: the population stability index (Jeffreys divergence over bins): < 0.1 stable, 0.1–0.25 moderate,
#: ≥ 0.25 significant (the credit-scoring convention)
PSI = DriftRule(0.1, ((0.1, "stable"), (0.25, "moderate"), (math.inf, "significant")),
                "population stability index bands of credit scoring")
