"""The two-process example of docs/distillation_at_scale.md runs and prints the expected line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

DOC = Path(__file__).resolve().parents[3] / "docs" / "distillation_at_scale.md"


@pytest.mark.slow
def test_two_process_example_of_the_scale_doc_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    script = next(b for b in blocks if "mp.spawn" in b)
    path = tmp_path / "vocab_parallel_example.py"
    path.write_text(script)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    src = str(Path(__file__).resolve().parents[3] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "vocab-parallel JS loss" in proc.stdout and "== single-process" in proc.stdout
