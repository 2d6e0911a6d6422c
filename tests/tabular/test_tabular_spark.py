"""PySpark DataFrames are compared inside Spark (local[2]) with the same results as the other engines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark")
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

from divergences.tabular import compare  # noqa: E402


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("divergences-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.driver.memory", "1g").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def frame(seed, n, shift):
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, n)
    x[rng.random(n) < 0.05] = np.nan
    cat = rng.choice(["a", "b", "it's", "back\\slash"], n).astype(object)
    cat[rng.random(n) < 0.05] = None
    return pd.DataFrame({"x": x, "n": rng.integers(0, 50, n), "cat": cat, "flag": rng.random(n) < 0.4,
                         "y": rng.integers(0, 2, n)})


def test_spark_matches_pandas(spark):
    ref, cur = frame(0, 2000, 0.0), frame(1, 1500, 0.4)
    cur.loc[3, "cat"] = "new"
    want = compare(ref, cur, metrics=("psi", "js", "wasserstein"), target="y")
    got = compare(spark.createDataFrame(ref), spark.createDataFrame(cur), metrics=("psi", "js", "wasserstein"),
                  target="y")
    assert got.histograms == want.histograms
    a, b = got.to_pandas(), want.to_pandas()
    num = [c for c in a.columns if a[c].dtype.kind == "f"]
    np.testing.assert_allclose(a[num].to_numpy(), b[num].to_numpy(), rtol=1e-9)
    assert got.drifted == want.drifted == ["x"]
    # information value (counts split by the target inside Spark), on the reference and the current table
    assert [r["table"] for r in got.information_value] == ["reference"] * 4 + ["current"] * 4
    for r, w in zip(got.information_value, want.information_value):
        assert r["woe"] == w["woe"] and r["feature"] == w["feature"]
        np.testing.assert_allclose([r["iv"], r["iv_se"]], [w["iv"], w["iv_se"]], rtol=1e-9)
