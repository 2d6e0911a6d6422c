"""The DPH-RL toy example runs end to end (tiny configuration)."""

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dph_rl_toy.py"


def test_example_main_runs_and_prints_the_table(capsys):
    spec = importlib.util.spec_from_file_location("dph_rl_toy_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        cfg = replace(module.Config(), n_answers=40, n_prompts=4, steps=5, group=4, ref_pool=64, ref_batch=8, seeds=(0, 1))
        text = module.main(cfg)
    finally:
        sys.modules.pop(spec.name, None)
    assert text in capsys.readouterr().out
    lines = text.splitlines()
    assert "Pass@1" in lines[1] and "Pass@64" in lines[1] and "covered" in lines[1]
    rows = {line.split()[0]: line.split() for line in lines[3:-1]}
    assert set(rows) == {"initial", "none", "reverse_kl", "forward_kl", "js"}
    for cells in rows.values():
        means = [float(cells[i]) for i in (1, 4, 7)]  # Pass@1, Pass@8, Pass@64 means
        assert all(0.0 <= m <= 1.0 for m in means) and means[0] <= means[1] <= means[2]
