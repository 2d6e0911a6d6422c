"""``divergences list``: the catalogue and its facts, as a table and as JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import divergences as dv
from divergences.cli import app

runner = CliRunner()


def test_list_json_holds_every_record_with_its_facts():
    result = runner.invoke(app, ["list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {r.name for r in dv.records()}
    assert rows["js"]["symmetric"] is True and rows["kl"]["symmetric"] is False
    assert rows["tv"]["upper_bound"] == 1.0 and rows["kl"]["upper_bound"] is None
    assert rows["pearson"]["bounded_gradient"] is False and rows["renyi"]["bounded_gradient"] is None
    assert rows["jeffreys"]["drift"]["threshold"] == 0.1


def test_list_table_shows_a_users_divergence_and_refuses_a_bad_format():
    dv.register("half_sq", lambda t: 0.5 * (t - 1) ** 2, description="half Pearson")
    try:
        result = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "half_sq" in result.stdout and "pearson (chi2)" in result.stdout
        assert "[0, 0.693]" in result.stdout  # JS's range, in nats
    finally:
        dv.unregister("half_sq")
    bad = runner.invoke(app, ["list", "--format", "xml"])
    assert bad.exit_code == 2 and "table or json" in bad.output
