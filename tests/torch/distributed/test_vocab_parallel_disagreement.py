"""Ranks of a vocab-parallel call that disagree all raise the same clear error (issue 19).

Real gloo groups of 2 and 3 processes on 127.0.0.1, bounded in time. Every case of
``_vp_disagree_worker.cases`` makes a call that differs on some rank (token shape, labels on one rank only,
chunk_size, dtypes, options, divergence, replicated hidden states, top-k teacher, a rank whose own checks
fail, ...); every rank must get the same exception type and message, naming the field (or the refusing rank
and its message), and the group must still work afterwards.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).parent))
import _vp_disagree_worker  # noqa: E402
from _gloo import spawn_group  # noqa: E402

TIMEOUT_S = 240


def _spawn(widths, tmp_path) -> list[dict]:
    spawn_group(_vp_disagree_worker.run, widths, tmp_path, TIMEOUT_S)
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(len(widths))]


@pytest.mark.slow
@pytest.mark.parametrize("widths", [[6, 5], [4, 3, 5]], ids=["2-ranks", "3-ranks"])
def test_disagreeing_ranks_raise_the_same_error(widths, tmp_path):
    results = _spawn(widths, tmp_path)
    first = results[0]
    assert all(r["after"]["close"] for r in results), "the group no longer gives the right value after the errors"
    for name, got in first.items():
        if name == "after":
            continue
        assert got["error"] is not None, f"{name}: no error"
        for r, other in enumerate(results[1:], start=1):
            assert other[name] == got, f"{name}: rank {r} got {other[name]}, rank 0 got {got}"
        expected = got["expected"]
        if expected.isidentifier():  # a field of the call description
            assert got["error"] == "ValueError", (name, got)
            assert f"disagree on {expected}:" in got["message"], (name, got["message"])
        else:
            assert expected in got["message"], (name, got["message"])


# --- the fingerprints of token-side tensors (no process group needed) -------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from divergences.torch._agreement import _decode_text, _encode_text, fingerprints  # noqa: E402


@settings(max_examples=60)
@given(values=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=40), data=st.data(),
       dtype=st.sampled_from([torch.int64, torch.float64, torch.float32, torch.bfloat16, torch.int32]))
def test_a_changed_or_moved_entry_changes_the_fingerprint(values, data, dtype):
    x = torch.tensor(values, dtype=torch.int64).to(dtype)
    same = fingerprints({"x": x})["x"]
    assert fingerprints({"x": x.clone()})["x"] == same
    i = data.draw(st.integers(0, len(values) - 1))
    y = x.clone()
    y[i] = y[i] + 1 if dtype != torch.bfloat16 else y[i] * 2 + 1
    if not torch.equal(y, x):
        assert fingerprints({"x": y})["x"] != same
    j = data.draw(st.integers(0, len(values) - 1))
    z = x.clone()
    z[i], z[j] = x[j], x[i]
    if not torch.equal(z, x):  # the same entries in another order differ too
        assert fingerprints({"x": z})["x"] != same


@given(text=st.text(max_size=300))
def test_record_text_round_trips_or_keeps_a_checksum(text):
    raw = _encode_text(text, 128)
    assert len(raw) == 128
    back = _decode_text(raw)
    if len(text.encode("utf-8", "replace")) <= 128 and "\0" not in text:
        assert back == text.encode("utf-8", "replace").decode("utf-8", "replace")
    assert _encode_text(text + "x", 128) != raw  # a longer text differs, past the cut by its checksum
