"""examples/distill_trainer.py runs (few steps): both distilled students beat the untrained one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")
pytest.importorskip("pyarrow")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "distill_trainer.py"


@pytest.mark.slow
def test_distill_trainer_example(capsys):
    spec = importlib.util.spec_from_file_location("distill_trainer", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    r = module.main(steps=8, teacher_steps=8)
    before = r["student ppl before"]
    assert r["student ppl (distilled from the model)"] < before
    assert r["student ppl (distilled from the cache)"] < before
    assert 0 < r["cache bytes per token"] < 32 * 6  # below the raw size of 32 float16 + int32 pairs
    assert "cache bytes per token" in capsys.readouterr().out
