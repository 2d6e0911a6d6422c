"""A core-only install names the extra to install (issue 21), and the demo path needs no torch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_ENV)


@pytest.mark.parametrize("missing", ["typer", "rich"])
def test_command_without_its_extra_names_the_extra(missing):
    done = _run(f"import sys; sys.modules[{missing!r}] = None\n"
                "sys.argv = ['divergences', 'demo']\nfrom divergences.cli import main\nmain()")
    assert done.returncode == 2, done.stderr
    assert "needs the 'tabular' extra" in done.stderr and "pip install 'divergences[tabular]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_reading_a_file_without_duckdb_names_the_extra(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("x\n1\n2\n")
    done = _run("import sys; sys.modules['duckdb'] = None\nimport divergences.tabular as tb\n"
                f"try:\n    tb.profile({str(path)!r})\nexcept ModuleNotFoundError as exc:\n    print(exc)\n")
    assert "duckdb is not installed" in done.stdout and "divergences[tabular]" in done.stdout, done.stderr


def test_the_demo_imports_no_deep_learning_stack(tmp_path):
    code = ("import sys, runpy\nsys.argv = ['divergences', 'demo', '--html', 'demo.html']\n"
            "from divergences.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'accelerate'))\n"
            "print('HEAVY', heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=_ENV,
                          cwd=tmp_path)
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr
    assert (tmp_path / "demo.html").exists()
