"""Packaging promises: [all] stays small (no PySpark), the licence is Apache-2.0, and the README's
commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib" if __import__("sys").version_info >= (3, 11) else "tomli")
ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
EXTRAS = PROJECT["optional-dependencies"]


def resolve(extra: str, seen: frozenset = frozenset()) -> set[str]:
    """The requirement names an extra pulls in, following ``divergences[...]`` self-references."""
    names: set[str] = set()
    for req in EXTRAS[extra]:
        inner = re.fullmatch(r"divergences\[([^\]]+)\]", req.replace(" ", ""))
        if inner:
            for sub in inner.group(1).split(","):
                if sub not in seen:
                    names |= resolve(sub, seen | {extra})
        else:
            names.add(re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower())
    return names


def test_all_leaves_pyspark_to_its_own_extra():
    assert "pyspark" not in resolve("all")
    assert "pyspark" in resolve("spark")
    assert {"torch", "duckdb", "typer", "rich", "scipy"} <= resolve("all")


def test_docs_extra_builds_the_site():
    assert {"mkdocs", "mkdocs-material", "mkdocstrings", "mkdocstrings-python"} <= resolve("docs")


def test_licence_is_apache_2():
    assert PROJECT["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text


def test_readme_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    bash = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    main_job = next(b for b in bash if "divergences demo" in b)
    # the main job installs only what it needs (issue 21): the tabular extra, no deep-learning stack
    assert '-e ".[tabular]"' in main_job and "torch" not in main_job
    tests = next(b for b in bash if "python -m pytest" in b and "pip install" in b)
    assert '-e ".[all,spark,trl,test,docs]"' in tests and '-e ".[all,spark,trl,test,docs]"' in ci
    for piece in ("torch==2.13.0", "liger-kernel==0.8.5", "chromium", "tmux", "mkdocs build --strict", "python -m pytest"):
        assert piece in ci, piece
    assert ci.index("torch==2.13.0") < ci.index('".[all,spark,trl,test,docs]"')  # the CPU torch first
    assert "| 3 | internal error" in readme and "| 2 | bad usage or bad input" in readme
