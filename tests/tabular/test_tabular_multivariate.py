"""Multivariate drift (issue 21): a correlation that flips, each column's own distribution unchanged."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import energy_distance
from typer.testing import CliRunner

from divergences.cli import app
from divergences.tabular import compare


def _pair(n, rho, seed):
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    return pd.DataFrame({"a": z[:, 0], "b": z[:, 1], "c": rng.choice(list("xy"), n)})


@pytest.mark.parametrize("wrap", [lambda f: f, duckdb.from_df], ids=["pandas", "duckdb"])
def test_a_flipped_correlation_is_caught_with_unchanged_marginals(wrap):
    ref, cur = _pair(3000, 0.8, 0), _pair(3000, -0.8, 1)
    c = compare(wrap(ref), wrap(cur), multivariate=True)
    assert not c.drifted  # every column alone looks the same
    mv = c.multivariate
    assert mv.columns == ("a", "b") and mv.drifted and mv.p_value <= 0.01 and mv.effect_size > 0.02
    assert mv.rows_reference == mv.rows_current == 500
    assert c.summary.multivariate_drift and "multivariate: drift" in c.summary.headline
    same = compare(wrap(ref), wrap(_pair(3000, 0.8, 2)), multivariate=True).multivariate
    assert same.p_value > 0.01 and same.effect_size < mv.effect_size


def test_statistic_and_effect_size_match_direct_definitions():
    from divergences.tabular.engines import opened
    from divergences.tabular.multivariate import multivariate_test

    ref, cur = _pair(200, 0.5, 3), _pair(150, -0.5, 4)
    with opened(ref, "reference") as r, opened(cur, "current") as k:
        mv = multivariate_test(r, k, ["a", "b"])
    x, y = ref[["a", "b"]].to_numpy(), cur[["a", "b"]].to_numpy()  # fewer rows than the sample: all of them
    centre, scale = x.mean(axis=0), x.std(axis=0)
    xs, ys = (x - centre) / scale, (y - centre) / scale
    a, b, cc = cdist(xs, ys).mean(), cdist(xs, xs).mean(), cdist(ys, ys).mean()
    assert mv.statistic == pytest.approx(np.sqrt(2 * a - b - cc), rel=1e-9)
    assert mv.effect_size == pytest.approx((2 * a - b - cc) / (2 * a), rel=1e-9)
    with opened(ref, "reference") as r, opened(cur, "current") as k:  # in one dimension: SciPy's energy distance
        assert multivariate_test(r, k, ["a"]) is None  # one column: nothing multivariate to test
    assert energy_distance(xs[:, 0], ys[:, 0]) == pytest.approx(
        np.sqrt(2 * cdist(xs[:, :1], ys[:, :1]).mean() - cdist(xs[:, :1], xs[:, :1]).mean()
                - cdist(ys[:, :1], ys[:, :1]).mean()), rel=1e-9)


def test_cli_multivariate_in_json_and_report(tmp_path):
    ref, cur = _pair(1000, 0.8, 0), _pair(1000, -0.8, 1)
    ref.to_parquet(tmp_path / "r.parquet")
    cur.to_parquet(tmp_path / "c.parquet")
    out = CliRunner().invoke(app, ["compare", str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"),
                                   "--multivariate", "--json", "-", "--html", str(tmp_path / "r.html")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["multivariate"]["drifted"] and doc["summary"]["multivariate_drift"]
    assert "multivariate (2 numeric columns together" in (tmp_path / "r.html").read_text()
