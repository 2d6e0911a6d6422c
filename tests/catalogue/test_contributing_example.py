"""The worked example of CONTRIBUTING.md, performed: adding a divergence is one catalogue class, the
generation step and its test row, with no other file edited for the suites to stay green.

On a copy of the repository's ``src``, ``tests`` and ``examples``, the test applies the code blocks that
CONTRIBUTING.md marks ``<!-- worked-example: ... -->`` (read from the file, so the guide and this test
cannot drift apart), runs ``python -m divergences.exact.codegen``, then, in subprocesses with the copy's
``src`` first on the path: the suites that enumerate the records (catalogue, exact, the record-enumerating
torch, samples and tabular tests) must pass, and the new divergence must be served by every layer.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "CONTRIBUTING.md"
MARKED = re.compile(r"<!--\s*worked-example:\s*(?P<how>.+?)\s*-->\s*\n```python\n(?P<code>.*?)```", re.S)
NEW = "symmetric_chi2"

#: the suites that enumerate the records (the test file itself left out: it would recurse)
SUITES = [
    "tests/catalogue", "tests/exact", "tests/core",
    "tests/tabular/test_tabular_divergence_values.py",
    "tests/samples/test_samples_histogram_logvar.py", "tests/samples/test_variational.py",
    "tests/torch/test_distill_losses.py", "tests/torch/test_rl_sampled_divergence.py",
    "tests/torch/test_rl_weights.py", "tests/torch/test_preference_f_dpo.py",
]


def marked_blocks(text: str) -> list[tuple[str, str]]:
    """(instruction, code) of every marked block of the guide."""
    return [(m.group("how"), m.group("code")) for m in MARKED.finditer(text)]


def apply_block(root: Path, how: str, code: str) -> None:
    """Apply one block: ``append to PATH`` or ``into NAME of PATH`` (before the closing brace of the
    module-level ``NAME = {`` literal)."""
    if m := re.fullmatch(r"append to (\S+)", how):
        path = root / m.group(1)
        path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n\n\n" + code, encoding="utf-8")
        return
    if m := re.fullmatch(r"into (\w+) of (\S+)", how):
        path = root / m.group(2)
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        start = next(i for i, line in enumerate(lines) if line.startswith(f"{m.group(1)} = {{"))
        end = next(i for i in range(start + 1, len(lines)) if lines[i].rstrip("\n") == "}")
        path.write_text("".join(lines[:end]) + code + "".join(lines[end:]), encoding="utf-8")
        return
    raise AssertionError(f"CONTRIBUTING.md: unknown worked-example instruction {how!r}")


def test_the_guide_marks_the_class_and_its_test_row():
    blocks = marked_blocks(GUIDE.read_text(encoding="utf-8"))
    assert [how.split()[0] for how, _ in blocks] == ["append", "into"]
    assert blocks[0][1].startswith(f'@builtin("{NEW}")') and "src/divergences/catalogue/" in blocks[0][0]
    assert f'"{NEW}"' in blocks[1][1]


def test_apply_block_inserts_into_a_dict(tmp_path):
    (tmp_path / "m.py").write_text('X = {\n    "a": 1,\n}\nY = 2\n')
    apply_block(tmp_path, "into X of m.py", '    "b": 2,\n')
    apply_block(tmp_path, "append to m.py", "Z = 3\n")
    namespace: dict = {}
    exec((tmp_path / "m.py").read_text(), namespace)
    assert namespace["X"] == {"a": 1, "b": 2} and namespace["Z"] == 3
    with pytest.raises(AssertionError, match="unknown"):
        apply_block(tmp_path, "replace m.py", "")


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(cwd / "src"), CI="1")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


SERVED = textwrap.dedent(f"""
    import numpy as np
    import divergences as dv
    from divergences.catalogue.chi2 import SymmetricChi2

    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    assert "{NEW}" in dv.available(kind="f") and isinstance(dv.spec("{NEW}").term(), SymmetricChi2)
    value = dv.{NEW}(p, q)                                      # the generated verb
    assert np.isclose(value, dv.pearson(p, q) + dv.neyman(p, q), rtol=1e-13)
    assert np.isclose(value, np.sum((p - q) ** 2 * (p + q) / (p * q)), rtol=1e-13)
    assert dv.{NEW}(q, p) == value and dv.{NEW}([1.0, 0.0], [0.5, 0.5]) == np.inf

    import pandas as pd
    from divergences import tabular
    ref = pd.DataFrame({{"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 20}})
    cur = pd.DataFrame({{"c": ["a"] * 10 + ["b"] * 30 + ["c"] * 60}})
    metric = tabular.compare(ref, cur, metrics=["{NEW}"], threshold=1.0)["c"].metrics["{NEW}"]
    assert np.isclose(metric.value, dv.{NEW}([0.1, 0.3, 0.6], [0.5, 0.3, 0.2])) and np.isfinite(metric.se)

    import torch
    from divergences.torch import divergence_loss
    g = torch.Generator().manual_seed(0)
    s = torch.randn(3, 7, dtype=torch.float64, generator=g, requires_grad=True)
    t = torch.randn(3, 7, dtype=torch.float64, generator=g)
    loss = divergence_loss(s, t, "{NEW}")
    want = dv.{NEW}(torch.softmax(t, -1), torch.softmax(s.detach(), -1)).mean()
    assert torch.allclose(loss.detach(), want, rtol=1e-12)
    assert torch.autograd.gradcheck(lambda z: divergence_loss(z, t, "{NEW}"), (s,))
    print("served")
""")


@pytest.mark.slow
def test_adding_a_divergence_is_one_class_the_generation_step_and_its_test_row(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("pandas")
    pytest.importorskip("mpmath")
    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for part in ("src", "tests", "examples"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "CONTRIBUTING.md"):
        shutil.copy2(ROOT / name, copy / name)

    for how, code in marked_blocks(GUIDE.read_text(encoding="utf-8")):
        apply_block(copy, how, code)
    generated = _run([sys.executable, "-m", "divergences.exact.codegen"], copy, timeout=120)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert f"def {NEW}(" in (copy / "src/divergences/exact/verbs.py").read_text(encoding="utf-8")

    served = _run([sys.executable, "-c", SERVED], copy, timeout=180)
    assert served.returncode == 0 and "served" in served.stdout, served.stdout + served.stderr

    report = tmp_path / "suites.xml"
    suites = _run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", f"--junitxml={report}",
                   "--ignore=tests/catalogue/test_contributing_example.py", *SUITES], copy, timeout=900)
    assert suites.returncode == 0, (suites.stdout + suites.stderr)[-6000:]
    # the suites found the new record by themselves: it is a case of each enumerating file
    cases = re.findall(r'<testcase classname="([^"]+)" name="([^"]*)"', report.read_text(encoding="utf-8"))
    files = {module.rsplit(".", 1)[-1] for module, name in cases if NEW in name}
    for module in ("test_catalogue", "test_near_equal", "test_backends", "test_hostile_inputs", "test_distill_losses",
                   "test_rl_sampled_divergence", "test_preference_f_dpo", "test_samples_histogram_logvar",
                   "test_variational"):
        assert module in files, (module, sorted(files))
