"""The ``divergences`` command: exit codes, reports, atomic writes, the demo."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from divergences.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("cli")
    ref = pd.DataFrame({"age": rng.normal(40, 10, 2000), "city": rng.choice(["Lyon", "Oslo", "Tokyo"], 2000),
                        "income": rng.lognormal(10, 0.5, 2000), "y": rng.integers(0, 2, 2000)})
    same = ref.sample(frac=1.0, random_state=1)
    drifted = ref.assign(age=ref["age"] + 8)
    paths = {}
    for name, df in (("ref", ref), ("same", same), ("drift", drifted)):
        paths[name] = folder / f"{name}.parquet"
        df.to_parquet(paths[name])
    paths["csv"] = folder / "drift.csv"
    drifted.to_csv(paths["csv"], index=False)
    paths["text_age"] = folder / "text_age.csv"
    drifted.assign(age="forty").to_csv(paths["text_age"], index=False)
    return folder, paths


def test_compare_writes_reports_and_prints_a_summary(files):
    folder, p = files
    html, js = folder / "out" / "r.html", folder / "out" / "r.json"
    result = runner.invoke(app, ["compare", str(p["ref"]), str(p["csv"]), "--html", str(html), "--json", str(js),
                                 "--bins", "8", "--target", "y"])
    assert result.exit_code == 0, result.output
    assert "age" in result.output and "drift" in result.output
    doc = json.loads(js.read_text())
    assert [c["column"] for c in doc["columns"]] == ["age", "city", "income"]
    assert doc["smoothing"] == 0.5 and doc["columns"][0]["drifted"] is True
    assert {r["feature"] for r in doc["information_value"]} == {"age", "city", "income"}
    assert "<svg" in html.read_text() and "Tokyo" in html.read_text()


def test_fail_on_drift_sets_the_exit_status(files):
    _, p = files
    assert runner.invoke(app, ["compare", str(p["ref"]), str(p["same"]), "--fail-on-drift"]).exit_code == 0
    result = runner.invoke(app, ["compare", str(p["ref"]), str(p["drift"]), "--fail-on-drift", "--columns", "age,city"])
    assert result.exit_code == 1
    assert "drift in 1 column(s): age" in result.output


def test_bad_input_exits_2_and_leaves_no_report(files):
    folder, p = files
    html = folder / "never.html"
    cases = [
        ([str(folder / "missing.csv"), str(p["drift"])], "missing.csv: file not found"),
        ([str(p["ref"]), str(p["text_age"])], "text_age.csv, column 'age': is numeric in the reference but text"),
        ([str(p["ref"]), str(p["drift"]), "--columns", "nope"], "column 'nope': unknown column"),
        ([str(p["ref"]), str(p["drift"]), "--target", "city"], "column 'city'"),
        ([str(p["ref"]), str(p["drift"]), "--bins", "0"], "bins must be a positive integer"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["compare", *args, "--html", str(html)])
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), result.output
        assert not html.exists()
    assert not [f for f in folder.iterdir() if f.name.startswith(".divergences-")]  # no temporary files left


def test_saved_profile_is_a_reference(files, tmp_path):
    _, p = files
    from divergences.tabular import profile

    prof = tmp_path / "ref.json"
    profile(str(p["ref"])).to_json(str(prof))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert runner.invoke(app, ["compare", str(prof), str(p["drift"]), "--json", str(a)]).exit_code == 0
    assert runner.invoke(app, ["compare", str(p["ref"]), str(p["drift"]), "--json", str(b)]).exit_code == 0
    ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ja["columns"] == jb["columns"]


def test_demo_writes_the_report_and_says_where(tmp_path):
    html = tmp_path / "demo.html"
    result = runner.invoke(app, ["demo", "--html", str(html)])
    assert result.exit_code == 0, result.output
    assert str(html) in "".join(result.output.split())  # the path, however the terminal wrapped it
    text = html.read_text()
    assert "mean radius" in text and "diagnosis" in text
