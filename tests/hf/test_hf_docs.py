"""docs/hf.md runs as written: its python blocks are executed in order in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")
pytest.importorskip("pyarrow")

DOC = Path(__file__).resolve().parents[2] / "docs" / "hf.md"


@pytest.mark.slow
def test_hf_page_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 6
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{DOC.name}[block {i}]", "exec"), namespace)  # noqa: S102
    assert "teacher entries not in the student vocabulary" in capsys.readouterr().out
    assert namespace["served"].missing == len(namespace["ids"]) - 1
    assert float(namespace["loss"].detach()) > 0
