"""What the command prints: hostile names stay inert text; compact in 80 columns and pipes; Markdown."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from divergences.cli import app
from divergences.cli.text import markdown_cell, visible

SRC = str(Path(__file__).resolve().parents[2] / "src")
runner = CliRunner()

HOSTILE = ["[/]", "[bold red]x[/]", "[link=https://example.invalid]click[/link]", "evil\x1b[2J\x1b[31mred",
           "over\rwritten", "two\nlines", "bidi\u202etxt.exe", "a | b"]
LONG = "a_rather_long_column_name_that_does_not_fit_in_a_compact_row_" * 2


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({name: rng.normal(size=300) for name in HOSTILE})
    ref[LONG] = rng.normal(size=300)
    cur = ref.copy()
    cur[HOSTILE[1]] += 2.0  # one drifted column, so the red "DRIFT" style is used too
    ref.to_parquet(folder / "ref.parquet")
    cur.to_parquet(folder / "cur.parquet")
    return folder


def test_visible_and_markdown_escapes():
    assert visible("a\x1b[31mb\rc\u202e") == "a\\x1b[31mb\\rc\\u202e"
    assert visible("naïve 東京 👩‍👩‍👧") == "naïve 東京 👩‍👩‍👧"  # printable text (and emoji joiners) untouched
    assert visible("x\ny", keep_newlines=True) == "x\ny"
    assert markdown_cell("a | b <b>*x*</b>") == "a \\| b &lt;b&gt;\\*x\\*&lt;/b&gt;"


@pytest.mark.parametrize("fmt", ["table", "compact", "markdown"])
def test_hostile_names_are_printed_as_inert_text(hostile, fmt):
    result = runner.invoke(app, ["compare", str(hostile / "ref.parquet"), str(hostile / "cur.parquet"),
                                 "--format", fmt], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out  # no terminal control reaches the terminal
    joined = "".join(out.split())
    for shown in ("evil\\x1b[2J\\x1b[31mred", "over\\rwritten", "two\\nlines", "bidi\\u202etxt.exe"):
        assert "".join(markdown_cell(shown).split() if fmt == "markdown" else shown.split()) in joined, shown
    if fmt != "markdown":
        for markup in ("[/]", "[bold red]x[/]", "[link=https://example.invalid]click[/link]"):
            assert "".join(markup.split()) in joined  # printed, not interpreted
    else:
        assert "a \\| b" in out


def test_hostile_names_in_error_messages(hostile):
    result = runner.invoke(app, ["compare", str(hostile / "ref.parquet"), str(hostile / "cur.parquet"),
                                 "--columns", "[bold]nope\x1b[0m[/]"])
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "[bold]nope\\x1b[0m[/]" in result.output


def compact_lines(env_columns: str, *args: str) -> list[str]:
    env = {**os.environ, "COLUMNS": env_columns, "PYTHONPATH": SRC}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run([sys.executable, "-m", "divergences.cli", "compare", *args], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_compact_layout_in_80_columns_through_a_pipe(hostile):
    lines = compact_lines("80", str(hostile / "ref.parquet"), str(hostile / "cur.parquet"))
    assert "\x1b" not in "".join(lines)  # a pipe gets no colour codes
    body = [line for line in lines if not line.startswith(("written", "rule:")) and line != LONG]
    assert all(len(line) <= 80 for line in body), [line for line in body if len(line) > 80]
    assert LONG in lines  # the long name whole, on a line of its own; its values on the next
    nxt = lines[lines.index(LONG) + 1]
    assert nxt.startswith(" ") and "[" in nxt
    header = next(line for line in lines if line.startswith("column"))
    for title in ("kind", "psi [95% CI]", "p-value", "band", "drift"):
        assert title in header
    assert any("DRIFT" in line and line.startswith("[bold red]x[/]") for line in lines)


def test_auto_format_is_compact_off_a_terminal_and_a_table_when_asked(hostile):
    args = ["compare", str(hostile / "ref.parquet"), str(hostile / "cur.parquet")]
    auto = runner.invoke(app, args, env={"COLUMNS": "200"})  # wide, but not a terminal (CI log)
    assert auto.exit_code == 0 and "┃" not in auto.output and "psi [95% CI]" in auto.output
    table = runner.invoke(app, [*args, "--format", "table"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "┃" in table.output


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_compact_layout_in_a_real_80_column_terminal(hostile, tmp_path):
    session = f"dv-{os.getpid()}"
    log = tmp_path / "done"
    cmd = (f"PYTHONPATH={SRC} {sys.executable} -m divergences.cli compare {hostile / 'ref.parquet'} "
           f"{hostile / 'cur.parquet'}; echo $? > {log}")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "60", cmd + "; sleep 30"],
                   check=True, env={**os.environ, "TERM": "xterm-256color"})
    try:
        deadline = time.time() + 90
        while not log.exists() and time.time() < deadline:
            time.sleep(0.3)
        assert log.exists() and log.read_text().strip() == "0"
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-J", "-t", session, "-S", "-60"], capture_output=True,
                                text=True, check=True).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    lines = screen.splitlines()
    assert any(line.startswith("column ") for line in lines)
    assert LONG in lines
    assert any(line.startswith("evil\\x1b[2J\\x1b[31mred") for line in lines)
    assert any(line.startswith("[bold red]x[/]") and "DRIFT" in line for line in lines)


def test_markdown_summary_with_the_information_value(tmp_path):
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"x": rng.normal(size=500), "y": rng.integers(0, 2, 500)})
    ref.to_csv(tmp_path / "r.csv", index=False)
    ref.assign(x=ref["x"] + 1).to_csv(tmp_path / "c.csv", index=False)
    result = runner.invoke(app, ["compare", str(tmp_path / "r.csv"), str(tmp_path / "c.csv"), "--target", "y",
                                 "--format", "markdown"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("**1 of 1 columns drifted")
    assert "| column | kind | psi | 95% CI | p-value | band | unseen | missing | drift |" in lines
    assert "| feature | IV reference | interval (reference) | IV current | interval (current) | band |" in lines
    row = next(line for line in lines if line.startswith("| x | numeric"))
    assert row.endswith("| **drift** |")


def test_usage_wide_names_and_piped_tables(tmp_path):
    """Issue 21: the usage line in the usual notation; East-Asian and emoji names aligned; --format
    table through a pipe at its natural width."""
    import numpy as np
    import pandas as pd
    from rich.cells import cell_len
    from typer.testing import CliRunner

    from divergences.cli import app

    runner = CliRunner()
    usage = runner.invoke(app, ["compare", "--help"]).output
    assert "compare [OPTIONS] REFERENCE CURRENT" in usage
    assert "{" not in usage and "<list[str]>" not in usage and "<str>" not in usage
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"収入": rng.normal(size=400), "🙂x": rng.normal(size=400), "plain": rng.normal(size=400)})
    cur = ref.assign(収入=ref["収入"] + 1)
    ref.to_csv(tmp_path / "r.csv", index=False)
    cur.to_csv(tmp_path / "c.csv", index=False)
    out = runner.invoke(app, ["compare", str(tmp_path / "r.csv"), str(tmp_path / "c.csv"), "--format", "compact"])
    rows = [line for line in out.output.splitlines() if line.split(" ")[0] in ("収入", "🙂x", "plain")]
    assert len(rows) == 3
    starts = {cell_len(line[: line.index(" num ") + 1]) for line in rows}  # the kind column starts in one cell
    assert len(starts) == 1, rows
    wide = runner.invoke(app, ["compare", str(tmp_path / "r.csv"), str(tmp_path / "c.csv"), "--format", "table"])
    assert max(cell_len(line) for line in wide.output.splitlines()) > 80  # not squeezed to 80 columns
    assert any("hellinger" in line for line in wide.output.splitlines())
