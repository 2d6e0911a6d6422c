"""PySpark DataFrames are compared inside Spark (local[2]) with the same results as the other engines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark")
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

from divergences.tabular import compare, monitor  # noqa: E402


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("divergences-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.driver.memory", "1g").config("spark.sql.session.timeZone", "UTC").getOrCreate())
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


def test_spark_dates_float_codes_wide_bins_and_monitoring(spark):
    """Time columns, categories by value, many bins (NumPy path) and windows give the numbers of pandas."""
    rng = np.random.default_rng(2)
    n = 1200
    when = (np.datetime64("2024-01-01T00:00:00", "s")
            + rng.integers(0, 60 * 86400, n).astype("timedelta64[s]")).astype("datetime64[us]")
    ref = pd.DataFrame({"when": when, "day": pd.to_datetime(when).normalize(), "x": rng.normal(size=n),
                        "code": rng.integers(0, 3, n)})
    cur = ref.assign(x=ref["x"] + np.where(ref["when"] > pd.Timestamp("2024-02-01"), 1.0, 0.0),
                     code=ref["code"].astype(float))
    cur.loc[4, "code"] = np.nan
    sref, scur = spark.createDataFrame(ref), spark.createDataFrame(cur)
    named = ["when", "day", "x", "code"]  # dates are compared when named
    want = compare(ref, cur, columns=named, categorical=["code"], bins=400, metrics=("psi", "js"))
    got = compare(sref, scur, columns=named, categorical=["code"], bins=400, metrics=("psi", "js"))
    assert got.histograms == want.histograms and got["when"].kind == "datetime"
    assert got["code"]["psi"].value == pytest.approx(want["code"]["psi"].value, abs=1e-15)
    np.testing.assert_allclose([c["psi"].value for c in got], [c["psi"].value for c in want], rtol=1e-9)
    m_want = monitor(ref.drop(columns="when"), cur, by="when", every="1w", metrics="psi", columns=["day", "x", "code"])
    m_got = monitor(sref.drop("when"), scur, by="when", every="1w", metrics="psi", columns=["day", "x", "code"])
    assert m_got.windows == m_want.windows and m_got.first_drift == m_want.first_drift
    np.testing.assert_allclose([r.value for r in m_got.rows], [r.value for r in m_want.rows], rtol=1e-9)
