"""IV, WoE and PSI against optbinning, run side by side on optbinning's own documented example.

optbinning's tutorial bins the breast-cancer data of scikit-learn (``OptimalBinning(name="mean radius",
dtype="numerical", solver="cp")``) and reports the information value of its binning table. Here its
splits become our bins and ``divergences`` must give the same IV, WoE and counts (to 1e-10), with no
smoothing (the textbook values: no bin is empty). PSI is checked against optbinning's
``ScorecardMonitoring`` (per-variable PSI of a scorecard fitted on one half, monitored on the other).

optbinning's bins are closed on the left, [a, b); ours on the right, (a, b]: they agree when no value
sits on a split, which every test checks first (optbinning splits at midpoints between values).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

optbinning = pytest.importorskip("optbinning")
datasets = pytest.importorskip("sklearn.datasets")

from divergences.binning import bin_counts  # noqa: E402
from divergences.tabular import Profile, compare  # noqa: E402
from divergences.tabular.information_value import information_value_table  # noqa: E402
from divergences.tabular.profile import ColumnProfile  # noqa: E402


@pytest.fixture(scope="module")
def cancer():
    data = datasets.load_breast_cancer()
    return pd.DataFrame(data.data, columns=data.feature_names), np.asarray(data.target)


def _profile_on(frame: pd.DataFrame, splits: dict[str, np.ndarray]) -> Profile:
    """A profile whose bins are the given splits (and whose counts are ``frame``'s on them)."""
    columns = {}
    for c, s in splits.items():
        x = frame[c].to_numpy(dtype=np.float64)
        assert not np.isin(x, s).any(), f"{c}: a value sits on a split; [a, b) and (a, b] bins would differ"
        counts, missing = bin_counts(x, np.asarray(s, dtype=np.float64))
        columns[c] = ColumnProfile(c, "numeric", "numeric", [int(n) for n in counts], int(missing),
                                   edges=[float(e) for e in s])
    return Profile(columns, bins=max(len(s) + 1 for s in splits.values()), max_categories=50, rows=len(frame),
                   source="optbinning splits")


@pytest.mark.parametrize("feature", ["mean radius", "mean texture", "worst concave points"])
def test_information_value_equals_optbinnings_binning_table(cancer, feature):
    frame, y = cancer
    x = frame[feature].to_numpy()
    optb = optbinning.OptimalBinning(name=feature, dtype="numerical", solver="cp")  # the documented example
    optb.fit(x, y)
    assert optb.status == "OPTIMAL"
    table = optb.binning_table.build()
    bins = len(optb.splits) + 1
    data = pd.DataFrame({feature: x, "target": y})
    (row,) = information_value_table(data, "target", bad=1, profile_=_profile_on(data, {feature: optb.splits}))
    assert row["smoothing"] == 0.0  # no empty bin: the textbook value, no pseudo-count
    assert abs(row["iv"] - float(table.loc["Totals", "IV"])) <= 1e-10
    # goods = target 0 = optbinning's non-events; WoE = ln(good share / bad share), as optbinning's
    assert [b["good"] for b in row["woe"]] == table["Non-event"].iloc[:bins].astype(int).tolist()
    assert [b["bad"] for b in row["woe"]] == table["Event"].iloc[:bins].astype(int).tolist()
    np.testing.assert_allclose([b["woe"] for b in row["woe"]], table["WoE"].iloc[:bins].astype(float),
                               rtol=0, atol=1e-10)


def test_psi_equals_optbinnings_scorecard_monitoring(cancer):
    from sklearn.linear_model import LogisticRegression

    frame, y = cancer
    names = ["mean radius", "mean texture", "worst concave points"]
    expected, actual = frame[names].iloc[::2], frame[names].iloc[1::2]
    scorecard = optbinning.Scorecard(binning_process=optbinning.BinningProcess(names), estimator=LogisticRegression())
    scorecard.fit(expected, y[::2])
    monitor = optbinning.scorecard.ScorecardMonitoring(scorecard=scorecard, psi_method="cart", psi_n_bins=10)
    monitor.fit(actual, y[1::2], expected, y[::2])
    psi = monitor.psi_variable_table(style="summary").set_index("Variable")["PSI"]
    detailed = monitor.psi_variable_table(style="detailed")
    splits = {c: scorecard.binning_process_.get_binned_variable(c).splits for c in names}
    _profile_on(actual, splits)  # no current value on a split either
    # P = current (optbinning's "actual"), Q = reference ("expected"); PSI is symmetric anyway
    result = compare(_profile_on(expected, splits), actual.reset_index(drop=True), metrics="psi")
    for c in names:
        assert result[c].smoothing == 0.0
        assert abs(result[c]["psi"].value - float(psi[c])) <= 1e-10, c
        mine = detailed[detailed["Variable"] == c]
        hist = result.histograms[c]
        assert list(hist["current"]) == mine["Count A"].astype(int).tolist()
        assert list(hist["reference"]) == mine["Count E"].astype(int).tolist()
