"""Teacher-cache documents: manifest.json against its declared schema and each Parquet part against what the
manifest says it holds. Random mutations of a valid cache (manifest fields, part columns, types, values, rows,
swapped or truncated parts) give a ValueError naming the file and the field / column, or a cache whose items are
all valid top-k teachers."""

from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("pydantic")

from divergences.hf import CacheManifest, TeacherCache, write_teacher_cache  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
from _mutations import check_error, mutated, write_json  # noqa: E402

V, K = 12, 4
VOCAB = {f"t{i}": i for i in range(V)}
DATA = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10], [11, 0, 1]]


def _teacher(input_ids, attention_mask):
    g = torch.Generator().manual_seed(int(input_ids.sum()))
    return torch.randn(*input_ids.shape, V, generator=g)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    write_teacher_cache(_teacher, DATA, folder, k=K, tokenizer=VOCAB, model_id="toy", rows_per_file=2)
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "part-00000.parquet",
                                                        "part-00001.parquet", "part-00002.parquet"]
    return folder


def _open_and_read(folder: Path) -> list[dict]:
    cache = TeacherCache(folder, tokenizer=VOCAB, temperature=1.0)
    return [cache[i] for i in range(len(cache))]


def _valid_items(items: list[dict], manifest: CacheManifest) -> None:
    for item in items:
        s = item["input_ids"].shape[0]
        lp, ix = item["teacher_topk_logprobs"], item["teacher_topk_indices"]
        assert s >= 1 and lp.shape == ix.shape == (s, manifest.k)
        assert not torch.isnan(lp).any() and (lp <= 0).all()
        assert (torch.logsumexp(lp.double(), -1) <= math.log1p(1e-2)).all()
        assert (ix >= 0).all() and (ix < manifest.vocab_size).all()
        assert (ix.sort(-1).values.diff(dim=-1) != 0).all()
        assert (item["input_ids"] >= 0).all() and (item["input_ids"] < manifest.vocab_size).all()
        assert (item["teacher_tail_logprob"] <= 0).all()


def test_a_valid_cache_reads_back(cache_dir):
    items = _open_and_read(cache_dir)
    assert [it["input_ids"].tolist() for it in items] == DATA
    _valid_items(items, CacheManifest.load(cache_dir))


@settings(max_examples=120)
@given(st.data())
def test_mutated_manifest_is_refused_by_name_or_valid(cache_dir, data):
    doc = json.loads((cache_dir / "manifest.json").read_text())
    changed, what = data.draw(mutated(doc))
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "c"
        shutil.copytree(cache_dir, folder)
        write_json(folder / "manifest.json", changed)
        try:
            items = _open_and_read(folder)
        except ValueError as exc:
            message = str(exc)
            if "TeacherCache was given" in message:  # a valid manifest that disagrees with the caller's arguments
                assert message.split(":")[0] in ("tokenizer", "temperature"), message
            elif "incomplete" in message:
                assert message.startswith("path:"), message
            else:
                check_error(message, folder)
        else:
            _valid_items(items, CacheManifest.load(folder))


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(format_version=2), "format_version"),
    (lambda d: d.pop("k"), "k"),
    (lambda d: d.update(k=0), "k"),
    (lambda d: d.update(k=V + 1), "k"),
    (lambda d: d.update(vocab_size=2**31), "vocab_size"),
    (lambda d: d.update(rows_per_file=-2), "rows_per_file"),
    (lambda d: d.update(n_examples=2**62, rows_per_file=1), "n_examples"),
    (lambda d: d.update(temperature=math.inf), "temperature"),
    (lambda d: d.update(temperature="1.0"), "temperature"),
    (lambda d: d.update(dtype="float64"), "dtype"),
    (lambda d: d.update(tokenizer_hash="abc"), "tokenizer_hash"),
    (lambda d: d.update(colour="red"), "colour"),
])
def test_each_manifest_defect_names_its_field(cache_dir, tmp_path, change, field):
    folder = tmp_path / "c"
    shutil.copytree(cache_dir, folder)
    doc = json.loads((folder / "manifest.json").read_text())
    change(doc)
    write_json(folder / "manifest.json", doc)
    for call in (lambda: CacheManifest.load(folder), lambda: _open_and_read(folder),
                 lambda: write_teacher_cache(_teacher, DATA, folder, k=K, tokenizer=VOCAB, rows_per_file=2)):
        with pytest.raises(ValueError) as info:
            call()
        assert "manifest.json" in str(info.value) and f"field '{field}'" in str(info.value), str(info.value)


# ---- parts ---------------------------------------------------------------------------------------------------

LIST_COLUMNS = ("input_ids", "topk_logprobs", "topk_indices", "tail_logprob")
BAD_FLOATS = [math.nan, math.inf, 0.5, 1e-3, -0.0, -math.inf, -50.0]
BAD_INTS = [-1, V, V + 7, 2**31 - 1, 0, 5]


def _replace(table, name, column):
    return table.set_column(table.schema.get_field_index(name), name, column)


def _edit_value(table, name, row, pos, value):
    """The table with one value of list column ``name`` (row, flat position inside the row) replaced."""
    col = table.column(name).combine_chunks()
    cells = col.to_pylist()
    cell = cells[row]
    if name in ("topk_logprobs", "topk_indices"):
        r, c = divmod(pos % (len(cell) * K), K)
        cell[r][c] = value
    else:
        cell[pos % len(cell)] = value
    return _replace(table, name, pa.array(cells, type=col.type))


@st.composite
def part_mutation(draw):
    kind = draw(st.sampled_from(["value", "value", "value", "drop_column", "cast", "truncate", "reorder",
                                 "example_id", "row_length", "swap_parts", "delete_part", "extra_column", "garbage"]))
    return kind, draw(st.integers(0, 2)), draw(st.integers(0, 1)), draw(st.integers(0, 40)), draw(st.data())


def _apply(folder: Path, mutation) -> None:
    kind, part, row, pos, data = mutation
    file = folder / f"part-{part:05d}.parquet"
    if kind == "swap_parts":
        other = folder / f"part-{(part + 1) % 3:05d}.parquet"
        tmp = folder / "x"
        file.rename(tmp), other.rename(file), tmp.rename(other)
        return
    if kind == "delete_part":
        file.unlink()
        return
    if kind == "garbage":
        file.write_bytes(b"PAR1 not really")
        return
    table = pq.read_table(file)
    row = min(row, table.num_rows - 1)
    if kind == "value":
        name = data.draw(st.sampled_from(LIST_COLUMNS))
        pool = BAD_INTS if name in ("input_ids", "topk_indices") else BAD_FLOATS
        table = _edit_value(table, name, row, pos, data.draw(st.sampled_from(pool)))
    elif kind == "drop_column":
        table = table.drop_columns([data.draw(st.sampled_from(table.column_names))])
    elif kind == "extra_column":
        table = table.append_column("extra", pa.array(range(table.num_rows)))
    elif kind == "cast":
        name, to = data.draw(st.sampled_from([("example", pa.int32()), ("tail_logprob", pa.list_(pa.float64())),
                                              ("input_ids", pa.list_(pa.int64())),
                                              ("topk_logprobs", pa.list_(pa.list_(pa.float16(), K)))]))
        table = _replace(table, name, table.column(name).cast(to))
    elif kind == "truncate":
        table = table.slice(0, table.num_rows - 1)
    elif kind == "reorder":
        table = table.take(pa.array(list(range(table.num_rows))[::-1]))
    elif kind == "example_id":
        ex = table.column("example").to_pylist()
        ex[row] = data.draw(st.sampled_from([ex[row] + 1, ex[row] + 2, -1, 2**40]))
        table = _replace(table, "example", pa.array(ex, type=pa.int64()))
    elif kind == "row_length":
        name = data.draw(st.sampled_from(LIST_COLUMNS))
        cells = table.column(name).combine_chunks()
        values = cells.to_pylist()
        values[row] = values[row][:-1] if len(values[row]) > 1 else values[row] + values[row]
        table = _replace(table, name, pa.array(values, type=cells.type))
    pq.write_table(table, file)


@settings(max_examples=200)
@given(part_mutation())
def test_mutated_part_is_refused_by_name_or_valid(cache_dir, mutation):
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "c"
        shutil.copytree(cache_dir, folder)
        _apply(folder, mutation)
        try:
            items = _open_and_read(folder)
        except ValueError as exc:
            message = str(exc)
            if "incomplete" in message:
                assert message.startswith("path:") and "part-0000" in message, message
            else:
                assert ".parquet" in message, message
                assert "column '" in message or "not a readable Parquet part" in message, message
        else:
            _valid_items(items, CacheManifest.load(folder))
            if mutation[0] != "value":  # an in-range edit of one value cannot be told from data
                # a part the check let through still holds its own examples, in order
                assert [it["input_ids"].tolist() for it in items] == DATA


@pytest.mark.parametrize("kind, match", [
    ("swap_parts", r"part-00000.parquet: column 'example'"),
    ("truncate", r"part-00000.parquet: column 'example': holds 1 examples, expected 2"),
    ("reorder", r"part-00000.parquet: column 'example': row 0 holds example 1, expected 0"),
])
def test_swapped_or_truncated_parts_are_refused(cache_dir, tmp_path, kind, match):
    folder = tmp_path / "c"
    shutil.copytree(cache_dir, folder)
    _apply(folder, (kind, 0, 0, 0, None))
    with pytest.raises(ValueError, match=match):
        _open_and_read(folder)
    # resuming a write over the damaged cache refuses it too, instead of keeping it
    with pytest.raises(ValueError, match=r"column 'example'"):
        write_teacher_cache(_teacher, DATA, folder, k=K, tokenizer=VOCAB, model_id="toy", rows_per_file=2)


@pytest.mark.parametrize("name, value, match", [
    ("topk_logprobs", math.nan, "NaN or positive"),
    ("topk_logprobs", 0.5, "NaN or positive"),
    ("topk_indices", V, "outside"),
    ("input_ids", -1, "outside"),
    ("tail_logprob", math.nan, "NaN or positive"),
])
def test_each_value_defect_names_the_column(cache_dir, tmp_path, name, value, match):
    folder = tmp_path / "c"
    shutil.copytree(cache_dir, folder)
    file = folder / "part-00001.parquet"
    pq.write_table(_edit_value(pq.read_table(file), name, 1, 0, value), file)
    with pytest.raises(ValueError, match=rf"part-00001.parquet: column '{name}': .*{match}"):
        _open_and_read(folder)


def test_duplicate_index_and_mass_above_one_are_refused(cache_dir, tmp_path):
    folder = tmp_path / "c"
    shutil.copytree(cache_dir, folder)
    file = folder / "part-00000.parquet"
    table = pq.read_table(file)
    first = table.column("topk_indices").to_pylist()[0][0][0]
    pq.write_table(_edit_value(table, "topk_indices", 0, 1, first), file)
    with pytest.raises(ValueError, match=r"column 'topk_indices': lists an index twice"):
        _open_and_read(folder)
    pq.write_table(_edit_value(_edit_value(table, "topk_logprobs", 0, 0, -0.1), "topk_logprobs", 0, 1, -0.2), file)
    with pytest.raises(ValueError, match=r"column 'topk_logprobs': a position's top-k probabilities sum to more"):
        _open_and_read(folder)


def test_parts_without_a_manifest_are_not_adopted(cache_dir, tmp_path):
    folder = tmp_path / "c"
    shutil.copytree(cache_dir, folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(ValueError, match=r"holds part-00000.parquet but no manifest.json"):
        write_teacher_cache(_teacher, DATA, folder, k=K, tokenizer=VOCAB, rows_per_file=2)


def test_a_part_changed_after_it_was_read_is_checked_again(cache_dir, tmp_path):
    folder = tmp_path / "c"
    shutil.copytree(cache_dir, folder)
    cache = TeacherCache(folder, tokenizer=VOCAB, temperature=1.0)
    _ = [cache[i] for i in range(len(cache))]  # every part read and checked once
    _ = [cache[i] for i in (0, 4, 0)]          # unchanged parts reload without a second value check
    file = folder / "part-00000.parquet"
    pq.write_table(_edit_value(pq.read_table(file), "topk_logprobs", 0, 0, math.nan), file)
    cache[4]                                    # another part is loaded, so part 0 is read again
    with pytest.raises(ValueError, match=r"part-00000.parquet: column 'topk_logprobs': holds NaN"):
        cache[0]
