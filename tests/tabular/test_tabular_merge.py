"""Mergeable profiles (issue 21): partitions counted on a reference's bins, merged, equal to the whole."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from divergences.cli import app
from divergences.tabular import Profile, compare, profile

_REF = pd.DataFrame({"x": np.linspace(-3, 3, 400), "c": (["a", "b", "c", "d"] * 100)})
_BINS = profile(_REF, bins=8, max_categories=3)


def _frame(xs, cs):
    return pd.DataFrame({"x": np.asarray(xs, dtype=np.float64), "c": pd.Series(cs, dtype=object)})


values = st.lists(st.tuples(st.one_of(st.floats(-5, 5), st.just(float("nan")), st.just(float("inf"))),
                            st.one_of(st.sampled_from(["a", "b", "c", "d", "e", "zz"]), st.none())),
                  min_size=2, max_size=60)


@settings(max_examples=40, deadline=None)
@given(values, st.data())
def test_merged_partitions_equal_the_profile_of_the_concatenation(rows, data):
    cuts = sorted(data.draw(st.lists(st.integers(1, len(rows) - 1), min_size=1, max_size=3, unique=True)))
    pieces = [rows[i:j] for i, j in zip([0, *cuts], [*cuts, len(rows)])]
    parts = [profile(_frame([r[0] for r in p], [r[1] for r in p]), bins_from=_BINS) for p in pieces]
    whole = profile(_frame([r[0] for r in rows], [r[1] for r in rows]), bins_from=_BINS)
    merged = parts[0].merge(*parts[1:])
    assert merged.rows == whole.rows
    for c in ("x", "c"):
        a, b = merged.columns[c], whole.columns[c]
        assert a.counts == b.counts and a.missing == b.missing and a.edges == b.edges
        assert a.categories == b.categories
        if c == "c":
            assert dict(zip(a.seen, a.seen_counts)) == dict(zip(b.seen, b.seen_counts))
        else:
            assert a.minimum == b.minimum and a.maximum == b.maximum and a.finite == b.finite
            for u, v in ((a.mean, b.mean), (a.scale, b.scale)):
                assert (u is None and v is None) or u == pytest.approx(v, rel=1e-9, abs=1e-12)
            np.testing.assert_allclose(a.locations, b.locations, rtol=1e-9, atol=1e-12)
    # comparing the merged profile equals comparing the concatenated table (KS aside: on the bins)
    table = _frame([r[0] for r in rows], [r[1] for r in rows])
    if table["x"].notna().any() and table["c"].notna().any():
        direct = compare(_BINS, table, tests=False).to_pandas()
        via = compare(_BINS, merged, tests=False).to_pandas()
        pd.testing.assert_frame_equal(via.drop(columns=["reasons"]), direct.drop(columns=["reasons"]),
                                      check_exact=False, rtol=1e-9)


def test_merge_refuses_other_bins_and_the_cli_profiles_on_bins(tmp_path):
    other = profile(_REF, bins=4)
    part = profile(_REF.iloc[:100], bins_from=_BINS)
    with pytest.raises(ValueError, match="column 'x' has other bins"):
        part.merge(profile(_REF.iloc[100:], bins_from=other))
    _BINS.to_json(str(tmp_path / "ref.json"))
    for i, (lo, hi) in enumerate(((0, 150), (150, 400))):
        _REF.iloc[lo:hi].to_parquet(tmp_path / f"p{i}.parquet")
        out = CliRunner().invoke(app, ["profile", str(tmp_path / f"p{i}.parquet"), "--bins-from",
                                       str(tmp_path / "ref.json"), "-o", str(tmp_path / f"p{i}.json")])
        assert out.exit_code == 0, out.output
    parts = [Profile.from_json(str(tmp_path / f"p{i}.json")) for i in range(2)]
    merged = parts[0].merge(parts[1])
    assert merged.columns["x"].counts == profile(_REF, bins_from=_BINS).columns["x"].counts
    assert json.loads(merged.to_json())["rows"] == 400
    out = CliRunner().invoke(app, ["merge", str(tmp_path / "p0.json"), str(tmp_path / "p1.json"), "-o",
                                   str(tmp_path / "all.json")])
    assert out.exit_code == 0 and "merged 2 profiles: 400 rows" in out.output, out.output
    assert Profile.from_json(str(tmp_path / "all.json")).columns["c"].counts == merged.columns["c"].counts
    out = CliRunner().invoke(app, ["compare", str(tmp_path / "ref.json"), str(tmp_path / "all.json"), "--json", "-"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["summary"]["drifted"] == 0
