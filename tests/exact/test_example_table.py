"""The bundled example table runs and agrees with the properties it illustrates."""

import importlib.util
import math
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "divergence_table.py"


def _load():
    spec = importlib.util.spec_from_file_location("divergence_table", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_table(capsys):
    module = _load()
    rows = {name: (fwd, bwd) for name, fwd, bwd in module.table()}
    zen = module.zen_letter_counts()
    assert zen.sum() > 500 and (zen == 0).any()  # the Zen never uses some letters
    for name in ("js", "tv", "hellinger", "jeffreys", "triangular", "bhattacharyya", "cauchy_schwarz"):
        fwd, bwd = rows[name]
        assert fwd == pytest.approx(bwd, rel=1e-12) or (math.isinf(fwd) and math.isinf(bwd)), name
    assert rows["kl"][0] == pytest.approx(rows["reverse_kl"][1], rel=1e-12)
    assert math.isinf(rows["kl"][1])  # English has mass where the Zen has none
    module.main()
    out = capsys.readouterr().out
    assert "cauchy_schwarz" in out and "D(P‖Q)" in out
