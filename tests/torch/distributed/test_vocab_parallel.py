"""Vocab-parallel losses on real multi-process gloo groups (2 and 3 ranks on 127.0.0.1).

Loss and gradients of every case equal the single-process result (float64 to 1e-10, float32 to 1e-5);
see ``_vp_worker.py`` for the cases. Each group is spawned by the test and bounded in time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).parent))
import _vp_worker  # noqa: E402
from _gloo import spawn_group  # noqa: E402

TIMEOUT_S = 240


def _spawn(widths, tmp_path):
    spawn_group(_vp_worker.run_cases, widths, tmp_path, TIMEOUT_S)
    assert len(list(tmp_path.glob("*.ok"))) == len(widths)


@pytest.mark.slow
@pytest.mark.parametrize("widths", [[6, 5], [4, 3, 5]], ids=["2-ranks-uneven", "3-ranks-uneven"])
def test_vocab_parallel_equals_single_process(widths, tmp_path):
    _spawn(widths, tmp_path)
