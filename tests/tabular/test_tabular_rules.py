"""--drift-metric auto and per-column rules from --config drift.toml (issue 21)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from typer.testing import CliRunner

from divergences.cli import app
from divergences.tabular import InputError, compare, load_config


def _tables(n, seed=0):
    rng = np.random.default_rng(seed)
    a = pd.DataFrame({"x": rng.normal(size=n), "k": rng.integers(0, 3, n), "s": rng.choice(list("abc"), n)})
    b = pd.DataFrame({"x": rng.normal(0.25, size=n), "k": rng.integers(0, 3, n),
                      "s": rng.choice(list("abc"), n, p=[0.5, 0.3, 0.2])})
    return a, b


def test_auto_uses_tests_on_a_small_reference():
    from scipy.stats import chisquare, ks_2samp  # noqa: F401 - SciPy as the reference

    a, b = _tables(800)
    c = compare(a, b, drift_metric="auto")
    assert [col.decided_by for col in c.columns] == ["ks", "chi2_test", "chi2_test"]  # k: 3 values, categorical
    x = c["x"]
    assert x.drifted == (ks_2samp(b["x"], a["x"]).pvalue < 0.05) and x.rule == "ks p-value < 0.05"
    assert c["s"].drifted and c["s"].reasons[0].startswith("chi2_test p-value ")
    assert c.drift_rule.startswith("auto: a reference of at most 1000 rows")


def test_auto_uses_distances_on_a_large_reference():
    a, b = _tables(5000)
    c = compare(a, b, drift_metric="auto", metrics="psi")  # js and wasserstein are added
    assert c["x"].decided_by == "wasserstein" and c["x"].threshold == 0.1
    assert c["s"].decided_by == "js" and c["s"].rule.startswith("√js ≥ 0.1 and p-value < 0.05")
    # the JS distance as SciPy computes it (natural logarithm) on the same bins
    h = c["s"].histogram
    p = np.asarray(h.current) / sum(h.current)
    q = np.asarray(h.reference) / sum(h.reference)
    kept = (p + q) > 0
    distance = jensenshannon(p[kept], q[kept])
    assert math.sqrt(c["s"]["js"].value) == pytest.approx(distance, rel=1e-9)
    assert c["s"].drifted == (distance >= 0.1)
    assert c["x"].drifted == (c["x"]["wasserstein"].value >= 0.1)
    assert set(c.summary.holm_drifted) <= set(c.drifted)


def test_config_file_sets_rules_per_column_and_ignores_columns(tmp_path):
    a, b = _tables(3000)
    a["id"] = [f"u{i}" for i in range(3000)]
    b["id"] = [f"v{i}" for i in range(3000)]
    cfg = tmp_path / "drift.toml"
    cfg.write_text('drift_metric = "psi"\nthreshold = 0.1\nexclude = ["id"]\n\n'
                   '[columns.x]\ndrift_metric = "wasserstein"\nthreshold = 0.05\n\n[columns.k]\nignore = true\n')
    kw = load_config(cfg)
    assert kw["column_rules"] == {"x": {"drift_metric": "wasserstein", "threshold": 0.05}}
    assert kw["exclude"] == ["id", "k"]
    c = compare(a, b, **kw)
    assert [col.column for col in c.columns] == ["x", "s"]
    assert c["x"].decided_by == "wasserstein" and c["x"].drifted and c["x"].rule == "wasserstein ≥ 0.05"
    assert c["s"].decided_by == "psi" and "per-column rules for x" in c.drift_rule
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    out = CliRunner().invoke(app, ["compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--config", str(cfg),
                                   "--json", "-"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert [col["column"] for col in doc["columns"]] == ["x", "s"] and doc["columns"][0]["decided_by"] == "wasserstein"


@pytest.mark.parametrize(("text", "message"), [
    ("threshold = -1\n", "field 'threshold'"),
    ("bins = \"ten\"\n", "field 'bins'"),
    ("colour = 1\n", "field 'colour'"),
    ("[columns.x]\nmetric = \"psi\"\n", r"field 'columns.x.metric'"),
    ("drift_metric = \"nope\"\n", "unknown metric 'nope'"),
    ("threshold = \n", "not a TOML file"),
    ("[columns.x]\ndrift_metric = \"chi2\"\n", "threshold is required when the drift metric is 'chi2'"),
])
def test_a_bad_config_names_the_file_and_the_key(tmp_path, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    a, b = _tables(100)
    with pytest.raises((InputError, ValueError), match=message):
        compare(a, b, **load_config(cfg))
    with pytest.raises(InputError, match="missing.toml: cannot read"):
        load_config(tmp_path / "missing.toml")
