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
