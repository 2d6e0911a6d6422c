"""Issue 10 on the command line: no output over an input, modes, exit statuses, internal errors."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from divergences.cli import app

runner = CliRunner()


def run(*args: str, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture()
def tables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(["a", "b"], 400)})
    ref.to_csv("ref.csv", index=False)
    ref.assign(x=ref["x"] + 1).to_csv("cur.csv", index=False)
    return tmp_path


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("out", ["ref.csv", "./ref.csv", "sub/../ref.csv", "alias.csv", "cur.csv"])
def test_an_output_equal_to_an_input_is_refused_before_anything_is_read(tables, out):
    os.symlink("ref.csv", "alias.csv")
    os.mkdir("sub")
    before = snapshot(tables)
    result = run("compare", "ref.csv", "cur.csv", "--json", out)
    assert result.exit_code == 2, result.output
    which = "CURRENT cur.csv" if out == "cur.csv" else "REFERENCE ref.csv"
    assert f"--json {out} is the same file as {which}" in flat(result.output)
    assert snapshot(tables) == before
    # nothing was read: the same refusal when the other input does not even exist
    result = run("compare", "ref.csv", "missing.csv", "--html", "ref.csv")
    assert result.exit_code == 2 and "--html ref.csv is the same file as REFERENCE ref.csv" in flat(result.output)


def test_a_profile_as_reference_and_as_json_and_html_equal_json_are_refused(tables):
    assert run("profile", "ref.csv", "-o", "ref.json").exit_code == 0
    before = snapshot(tables)
    result = run("compare", "ref.json", "cur.csv", "--json", "ref.json")
    assert result.exit_code == 2 and "--json ref.json is the same file as REFERENCE ref.json" in flat(result.output)
    result = run("compare", "ref.csv", "cur.csv", "--html", "r.out", "--json", "./r.out")
    assert result.exit_code == 2 and "--json ./r.out is the same file as --html r.out" in flat(result.output)
    result = run("profile", "ref.csv", "-o", "ref.csv")
    assert result.exit_code == 2 and "-o ref.csv is the same file as REFERENCE ref.csv" in flat(result.output)
    assert snapshot(tables) == before


def test_a_folder_as_output_is_refused(tables):
    os.mkdir("out")
    result = run("compare", "ref.csv", "cur.csv", "--html", "out")
    assert result.exit_code == 2 and "--html out: is a directory" in flat(result.output)


def test_reports_honour_the_umask_and_keep_an_existing_mode(tables):
    old = os.umask(0o022)
    try:
        assert run("compare", "ref.csv", "cur.csv", "--html", "r.html", "--json", "r.json").exit_code == 0
        assert run("profile", "ref.csv", "-o", "p.json").exit_code == 0
        for name in ("r.html", "r.json", "p.json"):
            assert stat.S_IMODE(os.stat(name).st_mode) == 0o644, name
        os.chmod("r.json", 0o640)
        assert run("compare", "ref.csv", "cur.csv", "--json", "r.json").exit_code == 0
        assert stat.S_IMODE(os.stat("r.json").st_mode) == 0o640
    finally:
        os.umask(old)
    assert not [f for f in os.listdir() if f.startswith(".divergences-")]


def test_json_on_standard_output_is_pure_json(tables):
    for args in (["--json", "-"], ["--format", "json"], ["--format", "json", "--json", "-"]):
        result = runner.invoke(app, ["compare", "ref.csv", "cur.csv", *args])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)  # nothing but the JSON on standard output
        assert doc["summary"]["columns"] == 2
    assert not os.path.exists("-")
    result = runner.invoke(app, ["compare", "ref.csv", "cur.csv", "--json", "-", "--format", "compact"])
    assert json.loads(result.stdout)["columns"][0]["column"] == "x"
    assert "rule:" in result.stderr  # the human summary went to standard error


def test_internal_errors_exit_3_with_one_line_and_a_hint(tables, monkeypatch):
    import divergences.tabular as tb

    def broken(*a, **k):
        raise RuntimeError("the engine fell over\nsecond line")

    monkeypatch.setattr(tb, "compare", broken)
    result = run("compare", "ref.csv", "cur.csv")
    assert result.exit_code == 3
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "internal error (RuntimeError: the engine fell over)" in lines[0]
    assert "--debug" in lines[0] and "Traceback" not in result.output
    result = run("compare", "ref.csv", "cur.csv", "--debug")
    assert result.exit_code == 3 and "Traceback" in result.stderr and "the engine fell over" in result.stderr


def test_ctrl_c_exits_130_and_writes_nothing(tables, monkeypatch):
    import divergences.tabular as tb

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(tb, "compare", interrupted)
    result = run("compare", "ref.csv", "cur.csv", "--html", "r.html")
    assert result.exit_code == 130 and not os.path.exists("r.html")


def test_usage_errors_exit_2(tables):
    assert run("compare", "ref.csv").exit_code == 2  # missing CURRENT
    assert run("compare", "ref.csv", "cur.csv", "--bins", "many").exit_code == 2
    assert run("nope").exit_code == 2


def test_a_closed_pipe_is_not_an_internal_error(tables):
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[2] / "src")
    script = ("import sys; sys.argv = ['divergences', 'compare', 'ref.csv', 'cur.csv', '--format', 'markdown'];"
              "from divergences.cli import main; main()")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": src})
    proc.stdout.close()  # the reader leaves before the first line
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 141, stderr
    assert b"internal error" not in stderr and b"Traceback" not in stderr
