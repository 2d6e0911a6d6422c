"""The ``divergences`` command: reports, options, exit statuses, profile, demo."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import divergences
from divergences.cli import app

runner = CliRunner()


def run(*args: str, **kw):
    return runner.invoke(app, list(args), **kw)


def flat(text: str) -> str:
    return " ".join(text.split())


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
    paths["semicolon"] = folder / "drift_semicolon.csv"
    drifted.to_csv(paths["semicolon"], index=False, sep=";")
    paths["text_age"] = folder / "text_age.csv"
    drifted.assign(age="forty").to_csv(paths["text_age"], index=False)
    return folder, paths


def test_compare_writes_reports_and_prints_the_verdict(files):
    folder, p = files
    html, js = folder / "out" / "r.html", folder / "out" / "r.json"
    result = run("compare", str(p["ref"]), str(p["csv"]), "--html", str(html), "--json", str(js), "--bins", "8",
                 "--target", "y")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "1 of 3 columns drifted" in text and "age" in text and "DRIFT" in text
    assert "Information value" in text and f"written: {html}" in text
    doc = json.loads(js.read_text())
    assert doc["format"] == "divergences.comparison/2"
    assert [c["column"] for c in doc["columns"]] == ["age", "city", "income"]
    assert doc["options"]["bins"] == 8 and doc["columns"][0]["drifted"] is True
    assert doc["summary"]["drifted"] == 1 and doc["summary"]["dataset_drift"] is False
    assert {r["feature"] for r in doc["information_value"]} == {"age", "city", "income"}
    page = html.read_text()
    assert "<svg" in page and "Tokyo" in page and "Dataset drift" in page
    assert page.count("class='quantiles'") == 2  # with --html, the percentiles of the two numeric columns
    assert doc["columns"][0]["quantiles"]["levels"][49] == 0.5


def test_options_reach_the_comparison(files, tmp_path):
    _, p = files
    js = tmp_path / "r.json"
    result = run("compare", str(p["ref"]), str(p["drift"]), "--metrics", "js,psi", "--threshold", "0.01",
                 "--drift-share", "0.25", "--max-categories", "2", "--smoothing", "0.5", "--confidence", "0.9",
                 "--json", str(js))
    assert result.exit_code == 0, result.output
    doc = json.loads(js.read_text())
    assert doc["columns"][0]["quantiles"] is None  # no --html: no extra pass for the percentiles
    o = doc["options"]
    assert o["metrics"] == ["js", "psi"] and o["threshold"] == 0.01 and o["drift_share"] == 0.25
    assert o["max_categories"] == 2 and o["smoothing"] == 0.5 and o["confidence"] == 0.9
    assert doc["drift_rule"].startswith("js ≥ 0.01")
    city = next(c for c in doc["columns"] if c["column"] == "city")
    assert city["histogram"]["labels"][-1] == "<other>" and len(city["histogram"]["labels"]) == 3
    assert doc["summary"]["dataset_drift"] is True  # 1 of 4 columns ≥ 25 %
    # --drift-metric picks the deciding metric among several
    js2 = tmp_path / "r2.json"
    result = run("compare", str(p["ref"]), str(p["drift"]), "--metrics", "psi,js", "--drift-metric", "js",
                 "--threshold", "0.02", "--json", str(js2))
    assert result.exit_code == 0, result.output
    assert json.loads(js2.read_text())["drift_rule"].startswith("js ≥ 0.02")
    assert "js [95% CI]" in result.output


def test_metrics_without_a_conventional_threshold_need_one(files):
    _, p = files
    result = run("compare", str(p["ref"]), str(p["drift"]), "--metrics", "chi2")
    assert result.exit_code == 2 and "threshold is required" in result.output


def test_delimiter_reads_a_semicolon_csv(files, tmp_path):
    _, p = files
    js = tmp_path / "r.json"
    result = run("compare", str(p["ref"]), str(p["semicolon"]), "--delimiter", ";", "--json", str(js))
    assert result.exit_code == 0, result.output
    assert [c["column"] for c in json.loads(js.read_text())["columns"]] == ["age", "city", "income", "y"]
    bad = run("compare", str(p["ref"]), str(p["semicolon"]), "--delimiter", ";;")
    assert bad.exit_code == 2 and "--delimiter must be one character" in flat(bad.output)


def test_fail_on_drift_sets_the_exit_status(files):
    _, p = files
    assert run("compare", str(p["ref"]), str(p["same"]), "--fail-on-drift").exit_code == 0
    result = run("compare", str(p["ref"]), str(p["drift"]), "--fail-on-drift", "--columns", "age,city")
    assert result.exit_code == 1
    assert "drift in 1 column(s): age" in result.output
    # one of four columns is not a dataset drift at the default share 0.5, but is at 0.25
    assert run("compare", str(p["ref"]), str(p["drift"]), "--fail-on-dataset-drift").exit_code == 0
    result = run("compare", str(p["ref"]), str(p["drift"]), "--fail-on-dataset-drift", "--drift-share", "0.25")
    assert result.exit_code == 1 and "dataset drift" in result.output


def test_a_column_whose_type_changed_is_a_drifted_row_not_an_error(files, tmp_path):
    _, p = files
    js = tmp_path / "t.json"
    result = run("compare", str(p["ref"]), str(p["text_age"]), "--json", str(js))
    assert result.exit_code == 0, result.output
    age = next(c for c in json.loads(js.read_text())["columns"] if c["column"] == "age")
    assert age["status"] == "type changed" and age["drifted"]
    assert age["reasons"] == ["type changed: numeric in the reference, text in the current table"]
    failed = run("compare", str(p["ref"]), str(p["text_age"]), "--fail-on-drift")
    assert failed.exit_code == 1 and "age" in flat(failed.output)


def test_bad_input_exits_2_and_leaves_no_report(files):
    folder, p = files
    html = folder / "never.html"
    cases = [
        ([str(folder / "missing.csv"), str(p["drift"])], "missing.csv: file not found"),
        ([str(p["ref"]), str(p["drift"]), "--columns", "nope"], "column 'nope'"),
        ([str(p["ref"]), str(p["drift"]), "--target", "city"], "column 'city'"),
        ([str(p["ref"]), str(p["drift"]), "--bins", "0"], "bins must be"),
        ([str(p["ref"]), str(p["drift"]), "--threshold", "-1"], "threshold must be"),
        ([str(p["ref"]), str(p["drift"]), "--drift-share", "2"], "drift_share must be"),
        ([str(p["ref"]), str(p["drift"]), "--smoothing", "lots"], "--smoothing must be 'auto' or a number"),
        ([str(p["ref"]), str(p["drift"]), "--format", "xml"], "must be one of auto, table, compact"),
    ]
    for args, message in cases:
        result = run("compare", *args, "--html", str(html))
        assert result.exit_code == 2, (args, result.output)
        assert message in flat(result.output), result.output
        assert "Traceback" not in result.output
        assert not html.exists()
    assert not [f for f in folder.iterdir() if f.name.startswith(".divergences-")]  # no temporary files left


def test_profile_command_writes_a_reusable_reference(files, tmp_path):
    _, p = files
    prof = tmp_path / "ref.json"
    result = run("profile", str(p["ref"]), "-o", str(prof), "--target", "y", "--bins", "8")
    assert result.exit_code == 0, result.output
    assert "profile of 3 columns, 2000 rows" in flat(result.output)
    saved = json.loads(prof.read_text())
    assert [c["name"] for c in saved["columns"]] == ["age", "city", "income"]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run("compare", str(prof), str(p["drift"]), "--json", str(a)).exit_code == 0
    assert run("compare", str(p["ref"]), str(p["drift"]), "--json", str(b), "--target", "y", "--bins", "8").exit_code == 0
    ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
    assert [c["metrics"] for c in ja["columns"]] == [c["metrics"] for c in jb["columns"]]
    # to standard output
    result = run("profile", str(p["ref"]), "-o", "-", "--columns", "age")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["columns"][0]["name"] == "age"


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"divergences {divergences.__version__}"


def test_demo_shows_drift_and_the_information_value_of_the_label(tmp_path):
    html, js = tmp_path / "demo.html", tmp_path / "demo.json"
    result = run("demo", "--html", str(html), "--json", str(js))
    assert result.exit_code == 0, result.output
    assert str(html) in "".join(result.output.split())  # the path, however the terminal wrapped it
    assert "Information value" in result.output and "DRIFT" in result.output
    doc = json.loads(js.read_text())
    assert "diagnosis" not in [c["column"] for c in doc["columns"]]  # the label is the target, not a feature
    assert doc["summary"]["dataset_drift"] is True
    iv = {(r["table"], r["feature"]): r["iv"] for r in doc["information_value"]}
    assert iv[("reference", "worst perimeter")] > 1.0
    text = html.read_text()
    assert "mean radius" in text and "Information value" in text


def test_skipped_columns_and_new_categories_are_printed(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(5)
    pq.write_table(pa.table({"x": rng.normal(size=300), "tags": [[1]] * 300, "id": [f"a{i}" for i in range(300)]}),
                   tmp_path / "r.parquet")
    pq.write_table(pa.table({"x": rng.normal(size=300), "tags": [[2]] * 300, "id": [f"b{i}" for i in range(300)]}),
                   tmp_path / "c.parquet")
    result = run("compare", str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"))
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "skipped tags (reference): type BIGINT[] cannot be binned" in text
    assert "skipped id (reference): looks like an identifier or free text (text: 300 distinct values" in text
    named = run("compare", str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"), "--columns", "x,id")
    assert "id: 100% of current values never seen in the reference" in flat(named.output)
    excluded = run("compare", str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"), "--exclude", "tags,id")
    assert excluded.exit_code == 0 and "skipped" not in flat(excluded.output)
    unknown = run("compare", str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"), "--exclude", "nope")
    assert unknown.exit_code == 2 and "column 'nope': unknown column in exclude" in flat(unknown.output)


def test_a_broken_profile_is_bad_input(files, tmp_path):
    _, p = files
    prof = tmp_path / "ref.json"
    assert run("profile", str(p["ref"]), "-o", str(prof)).exit_code == 0
    doc = json.loads(prof.read_text())
    del doc["columns"][0]["counts"]
    prof.write_text(json.dumps(doc))
    result = run("compare", str(prof), str(p["drift"]))
    assert result.exit_code == 2 and "counts" in result.output and "Traceback" not in result.output
