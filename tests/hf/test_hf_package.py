"""divergences.hf imports lazily: no torch, transformers or pyarrow at import; unknown or absent names are clear."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_import_pulls_no_heavy_module():
    code = ("import sys, divergences.hf as h; heavy = [m for m in ('torch', 'transformers', 'pyarrow', 'trl') "
            "if m in sys.modules]; print(heavy, len(h.__all__))")
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("]")[0] == "[", out.stdout


def test_lazy_table():
    import divergences.hf as h

    for name in ("distillation_loss", "DistillationTrainer", "generalized_jsd_loss", "TeacherCache",
                 "parse_logprobs", "USCDLogitsProcessor", "NGramPriorLogitsProcessor", "DivergenceMonitor"):
        assert name in h.__all__ and name in dir(h)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        h.nope  # noqa: B018
    pytest.importorskip("torch")
    assert callable(h.generalized_jsd_loss)
    try:
        import divergences.hf.processors  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(AttributeError, match="divergences.hf.processors"):
            h.USCDLogitsProcessor  # noqa: B018


@pytest.mark.parametrize("package", ["hf", "llm"])
def test_the_static_surface_is_the_lazy_table(package):
    """What a type checker reads (the ``TYPE_CHECKING`` imports and the literal ``__all__``) is the run-time table:
    each public name imported from the module that serves it, no name missing or extra."""
    import ast
    import importlib

    path = Path(SRC) / "divergences" / package / "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    static = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.level == 1, ast.dump(imp)
                static.update({alias.name: imp.module for alias in imp.names})
    module = importlib.import_module(f"divergences.{package}")
    assert static == module._EXPORTS
    assert module.__all__ == sorted(module._EXPORTS)
