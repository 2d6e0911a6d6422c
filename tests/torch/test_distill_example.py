"""The tiny distillation example runs (few steps) and its loss goes down."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "distill_tiny.py"


def test_distill_tiny_example_loss_decreases(capsys):
    spec = importlib.util.spec_from_file_location("distill_tiny", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    losses = module.main(steps=4)
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert "loss" in capsys.readouterr().out
