"""Bad input: a clear error naming the table and the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from divergences.tabular import InputError, Profile, compare, information_value, profile


@pytest.fixture()
def ref():
    return pd.DataFrame({"x": np.arange(20.0), "c": ["a", "b"] * 10, "y": [0, 1] * 10})


def test_missing_and_unreadable_files(tmp_path, ref):
    with pytest.raises(InputError, match="nope.csv: file not found"):
        compare(str(tmp_path / "nope.csv"), ref)
    bad = tmp_path / "bad.parquet"
    bad.write_text("this is not parquet")
    with pytest.raises(InputError, match="bad.parquet: cannot read as Parquet"):
        compare(str(bad), ref)
    other = tmp_path / "data.xlsx"
    other.write_text("x")
    with pytest.raises(InputError, match="unsupported file type '.xlsx'"):
        profile(str(other))


def test_unknown_column(ref):
    with pytest.raises(InputError, match="reference, column 'zz': unknown column"):
        compare(ref, ref, columns=["x", "zz"])
    dropped = compare(ref, ref.drop(columns="c"))["c"]  # a column gone from the current table is a finding
    assert dropped.status == "dropped" and dropped.drifted and dropped.reasons == (
        "the column is not in the current table",)


def test_type_clash_is_a_drifted_row_naming_both_types(ref, tmp_path):
    cur = ref.assign(x=ref["x"].astype(str))
    x = compare(ref, cur)["x"]
    assert x.status == "type changed" and x.drifted
    assert x.reasons == ("type changed: numeric in the reference, text in the current table",)
    assert all(np.isnan(m.value) for m in x.metrics.values())
    path = tmp_path / "cur.csv"
    cur.assign(c=np.arange(20)).to_csv(path, index=False)
    c = compare(ref[["c"]], str(path))
    assert c["c"].reasons == ("type changed: text in the reference, numeric in the current table",)
    assert c.summary.drifted == 1 and c.summary.holm_drifted == ("c",)


def test_empty_tables_and_all_missing_columns(ref, tmp_path):
    with pytest.raises(InputError, match="reference: is empty"):
        compare(ref.iloc[:0], ref)
    with pytest.raises(InputError, match="current: is empty"):
        compare(ref, ref.iloc[:0])
    x = compare(ref.assign(x=np.nan), ref)["x"]  # missing in the reference, present now: drifted
    assert x.status == "all missing in reference" and x.drifted and x.missing.difference == -1.0
    both = compare(ref.assign(x=np.nan), ref.assign(x=np.nan))["x"]
    assert both.status == "all missing in both" and not both.drifted
    c = compare(ref, ref.assign(c=None).astype({"c": object}))["c"]
    assert c.status == "all missing" and c.drifted and c.missing.current == 1.0
    empty = tmp_path / "empty.csv"
    empty.write_text("x,c\n")
    with pytest.raises(InputError, match="empty.csv"):
        compare(str(empty), ref)


def test_non_binary_target(ref):
    with pytest.raises(InputError, match="column 'x': the target must have exactly two values, found 20 "):
        information_value(ref, "x")
    with pytest.raises(InputError, match="column 'c': say which target value is bad"):
        information_value(ref, "c")
    with pytest.raises(InputError, match="bad='z' is not a value"):
        information_value(ref, "c", bad="z")
    with pytest.raises(InputError, match="unknown target column"):
        compare(ref, ref, target="nope")


def test_bad_options_name_the_argument(ref):
    for kwargs, word in (({"bins": 0}, "bins"), ({"smoothing": -1}, "smoothing"), ({"confidence": 1.0}, "confidence"),
                         ({"metrics": ("psi", "nope")}, "metrics"), ({"metrics": ("chi2",)}, "threshold"),
                         ({"columns": "x"}, "columns")):
        with pytest.raises(ValueError, match=word):
            compare(ref, ref, **kwargs)


def test_bad_profile_json(tmp_path):
    p = tmp_path / "p.json"
    p.write_text('{"format": "something else"}')
    with pytest.raises(InputError, match="not a profile"):
        Profile.from_json(str(p))
    with pytest.raises(InputError, match="cannot read the profile"):
        Profile.from_json(str(tmp_path / "missing.json"))
