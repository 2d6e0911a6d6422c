"""Documents the llm layer reads (n-gram prior JSON, frequency tables) and the shared reader
(divergences.documents): every mutation of a valid document gives a ValueError naming the file and the field,
or a prior / table that is still valid; each defect class is also pinned by one explicit case."""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pydantic")
torch = pytest.importorskip("torch")

from divergences.documents import load_json, read_document  # noqa: E402
from divergences.llm import FrequencyTable, NGramPrior  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _mutations import check_error, mutated, write_json  # noqa: E402

CORPUS = [[0, 1, 2, 0, 1, 3, 4], [2, 2, 1, 0], [4, 3, 2, 1, 0, 1]]


def _prior_doc() -> dict:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.json"
        NGramPrior.fit(CORPUS, vocab_size=6, order=3, k=0.5, weights=(0.2, 0.3, 0.5)).save(path)
        return json.loads(path.read_text())


PRIOR = _prior_doc()


def _valid_prior(prior: NGramPrior) -> None:
    lp = prior.log_prob([[], [0], [1, 2], [5, 5, 5]])
    assert torch.isfinite(lp).all()
    torch.testing.assert_close(lp.exp().sum(-1), torch.ones(4, dtype=lp.dtype))
    assert math.isfinite(prior.perplexity([[0, 1, 2]]))


def test_prior_round_trip_carries_the_version(tmp_path):
    assert PRIOR["format_version"] == 1
    path = tmp_path / "p.json"
    write_json(path, PRIOR)
    _valid_prior(NGramPrior.load(path))
    legacy = dict(PRIOR)
    del legacy["format_version"]  # files written before the field existed are version 1
    write_json(path, legacy)
    _valid_prior(NGramPrior.load(path))


@settings(max_examples=300)
@given(st.data())
def test_mutated_prior_is_refused_by_name_or_valid(data):
    doc, what = data.draw(mutated(PRIOR))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "prior.json"
        write_json(path, doc)
        try:
            prior = NGramPrior.load(path)
        except ValueError as exc:
            check_error(str(exc), path)
        else:
            _valid_prior(prior)


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(format_version=2), "format_version"),
    (lambda d: d.pop("vocab_size"), "vocab_size"),
    (lambda d: d.update(vocab_size=0), "vocab_size"),
    (lambda d: d.update(vocab_size="6"), "vocab_size"),
    (lambda d: d.update(k=-1.0), "k"),
    (lambda d: d.update(k=math.nan), "k"),
    (lambda d: d.update(weights=[0.5, 0.5]), "weights"),
    (lambda d: d.update(weights=[math.inf, 0.0, 0.0]), "weights[0]"),
    (lambda d: d["counts"][0][0][1].append([1, 1]), f"counts[0][0][1][{len(PRIOR['counts'][0][0][1])}][0]"),  # token twice
    (lambda d: d["counts"][1].append(d["counts"][1][0]), f"counts[1][{len(PRIOR['counts'][1])}][0]"),  # history twice
    (lambda d: d["counts"][1][0][1][0].__setitem__(1, -3), "counts[1][0][1][0][1]"),  # negative count
    (lambda d: d["counts"][1][0][1][0].__setitem__(1, 2**60), "counts[1][0][1][0][1]"),  # beyond 2**53
    (lambda d: d["counts"][1][0][1][0].__setitem__(0, 6), "counts[1][0][1][0][0]"),   # outside the vocabulary
    (lambda d: d["counts"][2][0].__setitem__(0, [1]), "counts[2][0][0]"),             # history of a wrong length
])
def test_each_prior_defect_names_its_field(tmp_path, change, field):
    doc = json.loads(json.dumps(PRIOR))
    change(doc)
    path = tmp_path / "prior.json"
    write_json(path, doc)
    with pytest.raises(ValueError) as info:
        NGramPrior.load(path)
    assert str(path) in str(info.value) and f"field '{field}'" in str(info.value), str(info.value)


def test_reader_refuses_duplicate_keys_non_json_and_non_utf8(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"vocab_size": 6, "vocab_size": 7}')
    with pytest.raises(ValueError, match=r"p.json: an object holds the key 'vocab_size' twice"):
        NGramPrior.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"p.json: is not JSON"):
        NGramPrior.load(path)
    path.write_bytes(b'{"k": "\xff"}')
    with pytest.raises(ValueError, match=r"p.json: is not UTF-8"):
        NGramPrior.load(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"p.json: the document must be a JSON object"):
        NGramPrior.load(path)
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(ValueError, match=r"p.json: is nested too deeply"):
        load_json(path)
    with pytest.raises(ValueError, match=r"cannot be read"):
        NGramPrior.load(tmp_path / "missing.json")


def test_read_document_on_a_mapping_names_the_field():
    from pydantic import BaseModel, ConfigDict, StrictInt

    class Doc(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        size: StrictInt

    assert read_document(Doc, {"size": 2}, version_field=None).size == 2
    with pytest.raises(ValueError, match=r"^doc: field 'size': Input should be a valid integer"):
        read_document(Doc, {"size": True}, source_name="doc", version_field=None)
    with pytest.raises(ValueError, match=r"^doc: field 'format_version': missing"):
        read_document(Doc, {"size": 2}, source_name="doc", default_version=None)
    with pytest.raises(ValueError, match=r"field 'extra': Extra inputs are not permitted"):
        read_document(Doc, {"size": 2, "extra": 1}, version_field=None)


def test_core_import_does_not_import_pydantic():
    import subprocess

    code = "import sys, divergences, divergences.documents, divergences.llm; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# ---- frequency tables ---------------------------------------------------------------------------------------

COUNTS = np.array([3, 0, 5, 1, 2], dtype=np.int64)

ARRAYS = st.one_of(
    st.builds(np.array, st.lists(st.integers(-(2**63), 2**63 - 1), max_size=6), dtype=st.just(np.int64)),
    st.builds(np.array, st.lists(st.integers(0, 2**64 - 1), max_size=4), dtype=st.just(np.uint64)),
    st.builds(np.array, st.lists(st.floats(allow_nan=True), max_size=4)),
    st.sampled_from([np.zeros((2, 2), dtype=np.int64), np.array(3), np.array([True, False]), np.array(["a"]),
                     np.array([2**62, 2**62, 2**62], dtype=np.int64), np.array([1, 2], dtype=np.int8)]),
)


def _valid_table(table: FrequencyTable) -> None:
    f = table.frequencies()
    assert np.isfinite(f).all() and (f > 0).all() and (f <= 1).all()
    assert abs(f.sum() - 1) < 1e-9
    assert table.total == int(sum(int(c) for c in table.counts))


def test_table_round_trip_carries_the_version(tmp_path):
    path = tmp_path / "t.npz"
    FrequencyTable(COUNTS).save(path)
    with np.load(path) as data:
        assert sorted(data.files) == ["counts", "format_version"] and int(data["format_version"]) == 1
    again = FrequencyTable.load(path)
    assert np.array_equal(again.counts, COUNTS)
    np.savez(path, counts=COUNTS)  # tables saved before the version existed
    assert np.array_equal(FrequencyTable.load(path).counts, COUNTS)


@settings(max_examples=150)
@given(counts=ARRAYS, version=st.one_of(st.none(), st.integers(-1, 3), st.just(np.float64(1.0))),
       extra=st.booleans())
def test_any_table_file_is_refused_by_name_or_valid(counts, version, extra):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.npz"
        arrays = {"counts": counts}
        if version is not None:
            arrays["format_version"] = np.asarray(version)
        if extra:
            arrays["other"] = np.arange(2)
        np.savez(path, **arrays)
        try:
            table = FrequencyTable.load(path)
        except ValueError as exc:
            check_error(str(exc), path)
        else:
            _valid_table(table)


@pytest.mark.parametrize("counts, match", [
    (np.array([-1, 2]), "non-negative"),
    (np.array([2**63 - 1, 1]), "beyond int64"),
    (np.array([2**64 - 1], dtype=np.uint64), "beyond int64"),
    (np.array([0.5, 2.0]), "integer"),
    (np.array([[1, 2]]), "1-D"),
])
def test_table_constructor_refuses_counts(counts, match):
    with pytest.raises(ValueError, match=match):
        FrequencyTable(counts)


def test_huge_counts_give_exact_frequencies():
    table = FrequencyTable(np.array([2**61, 2**61, 2**60, 0], dtype=np.int64))
    total = 2**61 + 2**61 + 2**60
    assert table.total == total
    np.testing.assert_allclose(table.frequencies(), np.array([2**61 + 1, 2**61 + 1, 2**60 + 1, 1]) / (total + 4),
                               rtol=1e-15)
    _valid_table(table)


def test_table_files_that_are_not_tables(tmp_path):
    path = tmp_path / "t.npz"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"t.npz: not a frequency table"):
        FrequencyTable.load(path)
    np.save(tmp_path / "a.npy", COUNTS)
    with pytest.raises(ValueError, match=r"a.npy: not a frequency table .*single array"):
        FrequencyTable.load(tmp_path / "a.npy")
    np.savez(path, counts=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"t.npz: not a frequency table"):
        FrequencyTable.load(path)
    np.savez(path, other=COUNTS)
    with pytest.raises(ValueError, match=r"t.npz: field 'counts': Field required"):
        FrequencyTable.load(path)
