"""``divergences monitor`` and its HTML report: drift over time, first drifted window per column."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from divergences.cli import app
from divergences.cli.monitor_view import sparkline
from divergences.tabular.monitor import monitor
from divergences.tabular.report_monitor import render_monitor_html

runner = CliRunner()


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("monitor")
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"amount": rng.lognormal(3, 1, 2000), "country": rng.choice(["FR", "DE", "US"], 2000)})
    days = pd.date_range("2024-01-01", periods=42, freq="D")
    cur = pd.DataFrame({"date": rng.choice(days, 4200), "amount": rng.lognormal(3, 1, 4200),
                        "country": rng.choice(["FR", "DE", "US"], 4200)})
    cur.loc[cur["date"] >= pd.Timestamp("2024-01-22"), "amount"] *= 1.8  # from the fourth week on
    ref.to_parquet(folder / "ref.parquet")
    cur.to_parquet(folder / "cur.parquet")
    return folder


def test_sparkline():
    assert sparkline([0.0, 0.5, 1.0, float("nan")]) == "▁▅█·"
    assert sparkline([0.0, 0.05, 0.1], top=0.2) == "▁▃▅"  # scaled to the threshold, not to the noise


def test_monitor_command_prints_the_first_drifted_window(tables):
    html, js = tables / "m.html", tables / "m.json"
    result = runner.invoke(app, ["monitor", str(tables / "ref.parquet"), str(tables / "cur.parquet"), "--by", "date",
                                 "--every", "1w", "--html", str(html), "--json", str(js)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "1 of 2 columns drifted in at least one of 6 windows (1w by date)"
    amount = next(line for line in lines if line.startswith("amount"))
    assert "2024-01-22" in amount and "3/6" in amount
    assert all(len(line) <= 80 for line in lines if not line.startswith("written"))
    doc = json.loads(js.read_text())
    assert doc["first_drift"] == {"amount": "2024-01-22T00:00:00Z", "country": None}
    page = html.read_text()
    assert "Drift over time" in page and page.count("class='card'") == 2
    assert page.count('class="band"') == 2 and page.count('class="threshold"') == 2
    assert len(re.findall(r'<circle[^>]*class="drift"', page)) == 3  # the three drifted windows of amount


def test_monitor_fail_on_drift_and_bad_input(tables):
    args = ["monitor", str(tables / "ref.parquet"), str(tables / "cur.parquet"), "--every", "1w"]
    result = runner.invoke(app, [*args, "--by", "date", "--fail-on-drift"])
    assert result.exit_code == 1 and "drift in 1 column(s): amount" in result.output
    result = runner.invoke(app, [*args, "--by", "amount"])
    assert result.exit_code == 2 and "'amount'" in result.output
    result = runner.invoke(app, [*args, "--by", "date", "--every", "fortnight"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    result = runner.invoke(app, [*args, "--by", "date", "--json", str(tables / "ref.parquet")])
    assert result.exit_code == 2 and "same file as REFERENCE" in " ".join(result.output.split())


def test_monitor_markdown_and_json_formats(tables):
    args = ["monitor", str(tables / "ref.parquet"), str(tables / "cur.parquet"), "--by", "date", "--every", "1w"]
    md = runner.invoke(app, [*args, "--format", "markdown"])
    assert md.exit_code == 0 and "| amount | numeric | 2024-01-22 | 3 of 6 |" in md.output
    js = runner.invoke(app, [*args, "--format", "json"])
    assert js.exit_code == 0 and json.loads(js.stdout)["format"] == "divergences.monitor/1"


def test_hostile_names_in_the_monitor_report():
    rng = np.random.default_rng(4)
    name = "<img src=x onerror=alert(1)>"
    ref = pd.DataFrame({name: rng.normal(size=300)})
    cur = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=300, freq="h"), name: rng.normal(size=300)})
    page = render_monitor_html(monitor(ref, cur, by="t", every="1d"))
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
