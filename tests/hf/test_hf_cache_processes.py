"""The multi-process story of the teacher cache, with real processes (bounded in time):

* under a process group (what ``torchrun`` sets up; 2 and 3 gloo ranks here) part i is written by rank i mod world,
  the result equals a single-process cache, ranks that disagree all raise the same error, and a failure on one
  rank is raised on every rank instead of leaving the others waiting;
* independent processes writing one cache at once all succeed (or, with other arguments, are refused) and the
  cache stays valid;
* links planted at a part's name are never written through."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pyarrow")
pytest.importorskip("pydantic")

from divergences.hf import TeacherCache, write_teacher_cache  # noqa: E402

SRC = str(Path(__file__).resolve().parents[2] / "src")
V, K = 16, 3
VOCAB = {f"t{i}": i for i in range(V)}
DATA = [[(3 * i + j) % V for j in range(2 + i % 4)] for i in range(7)]

SCRIPT = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, {src!r})
    import torch
    import torch.distributed as dist
    from divergences.hf import write_teacher_cache

    V, K, DATA = {V}, {K}, {data!r}
    cfg = json.loads(sys.argv[1])

    def teacher(input_ids, attention_mask):
        if cfg.get("fail_rank") == int(os.environ.get("RANK", -1)):
            raise RuntimeError("the teacher's GPU fell over")
        out = torch.empty(*input_ids.shape, V)
        for b, row in enumerate(input_ids.tolist()):  # each row's logits depend on its own tokens only
            g = torch.Generator().manual_seed(sum(row) * 31 + len(row))
            out[b] = torch.randn(len(row), V, generator=g)
        return out

    if "RANK" in os.environ:
        dist.init_process_group("gloo", rank=int(os.environ["RANK"]), world_size=int(os.environ["WORLD_SIZE"]))
    done = []
    try:
        write_teacher_cache(teacher, DATA, cfg["path"], k=K, tokenizer={{f"t{{i}}": i for i in range(V)}},
                            model_id="toy", temperature=cfg.get("temperature", 1.0), rows_per_file=2, batch_size=2,
                            progress=lambda d, t: done.append((d, t)))
        print(json.dumps({{"ok": True, "progress": done}}), flush=True)
    except ValueError as exc:
        print(json.dumps({{"ok": False, "error": str(exc)}}), flush=True)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
""").format(src=SRC, V=V, K=K, data=DATA)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(configs: list[dict], distributed: bool, timeout: float = 180) -> list[dict]:
    port = _free_port()
    procs = []
    for rank, cfg in enumerate(configs):
        env = dict(os.environ, PYTHONPATH=SRC)
        if distributed:
            env.update(RANK=str(rank), WORLD_SIZE=str(len(configs)), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(cfg)], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env))
    out = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=timeout)
            lines = [line for line in stdout.splitlines() if line.startswith("{")]
            assert p.returncode == 0 and lines, stderr[-3000:]
            out.append(json.loads(lines[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return out


def _items(folder: Path) -> list[dict]:
    cache = TeacherCache(folder, tokenizer=VOCAB, temperature=1.0)
    return [cache[i] for i in range(len(cache))]


def _same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for key in ("input_ids", "teacher_topk_logprobs", "teacher_topk_indices", "teacher_tail_logprob"):
            assert torch.equal(x[key], y[key]), key


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("single")
    [result] = _run([{"path": str(folder)}], distributed=False)
    assert result["ok"] and result["progress"][-1] == [4, 4]
    return _items(folder)


@pytest.mark.slow
def test_ranks_share_the_parts_and_equal_one_process(tmp_path, reference, world=2):
    results = _run([{"path": str(tmp_path)}] * world, distributed=True)
    assert all(r["ok"] for r in results), results
    # 4 parts: rank r writes parts r, r + world, ...
    assert [r["progress"][-1][1] if r["progress"] else 0 for r in results] == [len(range(r, 4, world))
                                                                               for r in range(world)]
    _same(_items(tmp_path), reference)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".divergences-")]
    # every rank again on the complete cache: all check, none writes
    again = _run([{"path": str(tmp_path)}] * world, distributed=True)
    assert all(r["ok"] for r in again)


@pytest.mark.slow
def test_ranks_that_disagree_all_raise_the_same_error(tmp_path):
    results = _run([{"path": str(tmp_path)}, {"path": str(tmp_path), "temperature": 2.0}], distributed=True)
    assert not any(r["ok"] for r in results)
    first, second = (r["error"] for r in results)
    assert first.split("(rank")[0] == second.split("(rank")[0], (first, second)
    assert first.startswith("temperature: the ranks of the process group called write_teacher_cache with different")
    assert not list(tmp_path.iterdir())  # refused before anything was written


@pytest.mark.slow
def test_a_failure_on_one_rank_is_raised_on_every_rank(tmp_path):
    cfg = {"path": str(tmp_path), "fail_rank": 1}
    script_errors = _run_raw([cfg, cfg])
    assert "the teacher's GPU fell over" in script_errors[1]  # the failing rank raises its own error
    assert script_errors[0].startswith("write_teacher_cache failed on rank 1 of 2: RuntimeError: the teacher's GPU")


def _run_raw(configs: list[dict], timeout: float = 180) -> list[str]:
    """Like _run under a process group, for runs that end in an exception: (message or stderr) per rank."""
    port = _free_port()
    procs = []
    for rank, cfg in enumerate(configs):
        env = dict(os.environ, PYTHONPATH=SRC, RANK=str(rank), WORLD_SIZE=str(len(configs)),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(cfg)], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env))
    out = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=timeout)
            lines = [line for line in stdout.splitlines() if line.startswith("{")]
            out.append(json.loads(lines[-1])["error"] if lines else stderr)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return out


@pytest.mark.slow
def test_independent_processes_on_one_cache(tmp_path, reference):
    results = _run([{"path": str(tmp_path)}] * 2, distributed=False)
    assert all(r["ok"] for r in results), results
    _same(_items(tmp_path), reference)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".divergences-")]
    other = tmp_path / "other"
    results = _run([{"path": str(other)}, {"path": str(other), "temperature": 2.0}], distributed=False)
    assert sorted(r["ok"] for r in results) == [False, True], results  # the manifest is created once
    [error] = [r["error"] for r in results if not r["ok"]]
    assert error.startswith("temperature: the teacher cache was written with temperature=")


def test_links_planted_at_part_names_are_never_written_through(tmp_path):
    def teacher(input_ids, attention_mask):
        return torch.zeros(*input_ids.shape, V)

    victim = tmp_path / "victim.parquet"
    victim.write_text("precious")
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "part-00001.parquet").symlink_to(tmp_path / "elsewhere.parquet")  # dangling: would create it
    write_teacher_cache(teacher, DATA[:4], folder, k=K, tokenizer=VOCAB, rows_per_file=2)
    assert not (tmp_path / "elsewhere.parquet").exists() and not (folder / "part-00001.parquet").is_symlink()
    assert len(TeacherCache(folder, tokenizer=VOCAB, temperature=1.0)) == 4
    (folder / "part-00000.parquet").unlink()
    (folder / "part-00000.parquet").symlink_to(victim)  # an existing file: read, refused, left alone
    with pytest.raises(ValueError, match=r"part-00000.parquet: not a readable Parquet part"):
        write_teacher_cache(teacher, DATA[:4], folder, k=K, tokenizer=VOCAB, rows_per_file=2)
    assert victim.read_text() == "precious"
