"""The documentation site builds with ``mkdocs build --strict`` and documents every public name."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "_hooks"))
import api_pages  # noqa: E402

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None or
                                importlib.util.find_spec("mkdocstrings_handlers") is None,
                                reason="the docs extra is not installed (pip install -e '.[docs]')")


def declared_all(module: str) -> list[str]:
    """``__all__`` of ``module``: read from its source when it is a literal, else from the imported module."""
    base = ROOT / "src" / Path(*module.split("."))
    path = base / "__init__.py" if (base / "__init__.py").exists() else base.with_suffix(".py")
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                try:
                    return list(ast.literal_eval(node.value))
                except ValueError:
                    break
    return list(getattr(importlib.import_module(module), "__all__", []))


def inventory(site: Path) -> set[str]:
    raw = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = raw.index(b"\n", header_end) + 1
    body = zlib.decompress(raw[header_end:]).decode("utf-8")
    return {line.split(" ")[0] for line in body.splitlines() if " py:" in line}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


@pytest.mark.slow
def test_site_builds_strict_with_every_guide(site):
    guides = [p for p in (ROOT / "docs").glob("*.md")]
    assert guides
    for guide in guides:
        page = site / ("index.html" if guide.stem == "index" else f"{guide.stem}/index.html")
        assert page.exists(), f"{guide.name} is not in the site"
    assert not (site / "_hooks").exists()


@pytest.mark.slow
def test_every_public_name_has_an_api_entry(site):
    documented = inventory(site)
    modules = api_pages.existing_modules()
    assert [m for m, _ in modules][:1] == ["divergences"] and len(modules) >= 5
    package = api_pages._static_package()
    missing = []
    for m, _ in modules:
        static = package
        for part in m.split(".")[1:]:
            static = static.members.get(part)
        for name in declared_all(m):
            where = api_pages.object_path(m, name, static)
            if not api_pages.statically_found(package, where):  # rendered by hand, under an anchor
                page = (site / "api" / m / "index.html").read_text(encoding="utf-8")
                if f'id="{m}.{name}"' not in page:
                    missing.append(f"{m}.{name} (expected as an anchor)")
            elif where not in documented:
                missing.append(f"{m}.{name} (expected as {where})")
    assert missing == []
    for m, _ in modules:
        assert (site / "api" / m / "index.html").exists()


def test_a_name_made_at_import_time_is_rendered_from_the_object(monkeypatch):
    import types

    module = types.ModuleType("made_here")

    def made(p, q, *, base=None):
        """Made by a factory. :func:`made` of p and q.

        >>> 1 + 1
        2
        """

    module.made = made
    monkeypatch.setitem(sys.modules, "made_here", module)
    text = api_pages.manual_entry("made_here", "made")
    assert text.startswith('<a id="made_here.made"></a>') and "made(p, q, *, base=None)" in text
    assert "`made` of p and q" in text and "```pycon\n>>> 1 + 1" in text


def test_an_absent_module_is_left_out(monkeypatch, tmp_path):
    monkeypatch.setattr(api_pages, "SRC", tmp_path)
    (tmp_path / "divergences").mkdir()
    (tmp_path / "divergences" / "__init__.py").write_text("")
    (tmp_path / "divergences" / "binning.py").write_text("")
    assert [m for m, _ in api_pages.existing_modules()] == ["divergences", "divergences.binning"]
    assert "::: divergences.binning" in api_pages.page_text("divergences.binning", "bins")
