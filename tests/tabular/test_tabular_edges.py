"""Tabular and CLI at the edges (issue 19): time zones, extreme windows, names, paths, profiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from divergences.cli import app
from divergences.tabular import InputError, Profile, monitor, profile
from divergences.tabular.windows import parse_every

_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
_MONITOR = """
import json, sys
from divergences.tabular import monitor
m = monitor(sys.argv[1], sys.argv[2], by="when", every="1mo", metrics="psi", bins=4)
print(json.dumps([m.windows, [r.n_current for r in m.rows]]))
"""


def test_monthly_windows_of_tz_aware_times_do_not_follow_the_process_time_zone(tmp_path):
    # times near month ends, in New York: the UTC month and the local month differ for some of them
    local = pd.date_range("2024-01-31 18:00", periods=300, freq="7h", tz="America/New_York")
    ref = pd.DataFrame({"x": np.arange(300.0)})
    cur = pd.DataFrame({"when": local, "x": np.arange(300.0)})
    ref.to_parquet(tmp_path / "r.parquet")
    cur.to_parquet(tmp_path / "c.parquet")
    outputs = set()
    for zone in ("UTC", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "America/Adak"):
        done = subprocess.run([sys.executable, "-c", _MONITOR, str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet")],
                              capture_output=True, text=True, timeout=120, env={**_ENV, "TZ": zone})
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1
    windows, counts = json.loads(outputs.pop())
    utc = cur["when"].dt.tz_convert("UTC")
    want = utc.dt.strftime("%Y-%m-01T00:00:00Z").value_counts().sort_index()
    assert windows == list(want.index) and counts == list(want.to_numpy())
    # the in-memory engine agrees
    mem = monitor(ref, cur, by="when", every="1mo", metrics="psi", bins=4)
    assert list(mem.windows) == windows


def test_windows_out_of_range_and_huge_every_are_bad_input_naming_every(tmp_path):
    with pytest.raises(ValueError, match="every .--every. '100000y' is longer than 10 000 years"):
        parse_every("100000y")
    with pytest.raises(ValueError, match=r"every .--every. '9999999999999w' is longer"):
        parse_every("9999999999999w")
    ref = pd.DataFrame({"x": np.arange(20.0)})
    cur = pd.DataFrame({"when": pd.to_datetime(["1999-06-01"] * 20), "x": np.arange(20.0)})
    with pytest.raises(ValueError, match="every .--every. '5000y': a window starts outside the years 1 to 9999"):
        monitor(ref, cur, by="when", every="5000y")  # the window of 1999 starts in the year −3000
    ref.to_csv(tmp_path / "r.csv", index=False)
    cur.to_csv(tmp_path / "c.csv", index=False)
    for every in ("5000y", "100000y", "99999999999999999999d"):
        out = CliRunner().invoke(app, ["monitor", str(tmp_path / "r.csv"), str(tmp_path / "c.csv"), "--by", "when",
                                       "--every", every])
        assert out.exit_code == 2 and "--every" in out.output and "Traceback" not in out.output, out.output


def test_parquet_with_duplicate_or_empty_names_is_refused_like_csv(tmp_path):
    t = pa.Table.from_arrays([pa.array([1.0, 2.0]), pa.array([3.0, 4.0]), pa.array([5.0, 6.0])], names=["a", "a", ""])
    pq.write_table(t, tmp_path / "dup.parquet")
    with pytest.raises(InputError, match=r"dup.parquet: has duplicate or empty column names.*'a' → 'a_1'"):
        profile(str(tmp_path / "dup.parquet"))


def test_unreadable_csv_keeps_duckdbs_stated_cause(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"a,b\n\xe9t\xe9,1\nx,2\n")
    with pytest.raises(InputError, match="latin.csv: .*not utf-8 encoded"):
        profile(str(latin))
    long = tmp_path / "long.csv"
    long.write_text("a,b\n" + "x" * 2_100_000 + ",1\n")
    with pytest.raises(InputError, match="long.csv: .*Maximum line size"):
        profile(str(long))


def test_profile_path_that_looks_like_json_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ref = pd.DataFrame({"x": np.arange(100.0)})
    profile(ref).to_json("{2024}.json")
    again = Profile.from_json("{2024}.json")  # an existing file: read as a path, not parsed as JSON text
    assert again.columns["x"].counts == profile(ref).columns["x"].counts
    ref.to_csv("cur.csv", index=False)
    out = CliRunner().invoke(app, ["compare", "{2024}.json", "cur.csv"])
    assert out.exit_code == 0, out.output
    with pytest.raises(InputError, match="cannot read the profile"):
        Profile.from_json("{missing}.json")
    assert Profile.from_json(again.to_json()).columns["x"].counts == again.columns["x"].counts  # JSON text still works


def test_monitor_with_a_profile_and_an_unknown_column_is_clear():
    ref = pd.DataFrame({"x": np.arange(100.0)})
    cur = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=100, freq="D"), "x": np.arange(100.0)})
    with pytest.raises(InputError, match="column 'nope': unknown column: not in the profile"):
        monitor(profile(ref), cur, by="when", every="1w", columns=["nope"])
