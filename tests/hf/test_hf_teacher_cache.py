"""Teacher cache: Parquet round trip against the teacher itself, resumption after an interruption, manifest
mismatches are errors, and the collated batches feed distillation_loss / topk_divergence_loss."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pyarrow")
pytest.importorskip("transformers")

import divergences as dv  # noqa: E402
from divergences.hf import (  # noqa: E402
    TeacherCache,
    TeacherCacheCollator,
    TopKTeacher,
    distillation_loss,
    tokenizer_hash,
    write_teacher_cache,
)
from divergences.torch import topk_divergence_loss  # noqa: E402

V = 300


@pytest.fixture(scope="module")
def teacher(hfh):
    return hfh.tiny_llama(V, seed=3)


@pytest.fixture(scope="module")
def data(encoded):
    return [{"input_ids": s[: 5 + i]} for i, s in enumerate(encoded[:10])]


def _direct(teacher, ids, k, T):
    with torch.no_grad():
        logp = torch.log_softmax(teacher(input_ids=torch.tensor([ids])).logits[0].double() / T, -1)
    lp, ix = logp.topk(k, dim=-1)
    tail = torch.log1p(-lp.exp().sum(-1))
    return lp, ix, tail


def test_round_trip_equals_the_teacher(teacher, tokenizer, data, tmp_path):
    m = write_teacher_cache(teacher, data, tmp_path, k=8, tokenizer=tokenizer, temperature=1.5, rows_per_file=4,
                            batch_size=3, model_id="tiny-llama")
    assert (m.k, m.vocab_size, m.n_examples, m.n_parts, m.model_id) == (8, V, 10, 3, "tiny-llama")
    assert m.tokenizer_hash == tokenizer_hash(tokenizer) and m.dtype == "float32"
    cache = TeacherCache(tmp_path, tokenizer=tokenizer, temperature=1.5, k=8, vocab_size=V)
    assert len(cache) == 10
    for i in (0, 3, 4, 9, -1):
        item = cache[i]
        ids = data[i]["input_ids"]
        lp, ix, tail = _direct(teacher, ids, 8, 1.5)
        assert item["input_ids"].tolist() == ids
        assert torch.equal(item["teacher_topk_indices"], ix)
        assert torch.allclose(item["teacher_topk_logprobs"].double(), lp, atol=2e-6)
        assert torch.allclose(item["teacher_tail_logprob"].double(), tail, atol=2e-5)
    with pytest.raises(IndexError):
        cache[10]


def test_float16_storage_is_half_the_bytes_and_close(teacher, tokenizer, data, tmp_path):
    a, b = tmp_path / "f32", tmp_path / "f16"
    write_teacher_cache(teacher, data, a, k=32, tokenizer=tokenizer, rows_per_file=16)
    write_teacher_cache(teacher, data, b, k=32, tokenizer=tokenizer, rows_per_file=16, dtype="float16")
    size = lambda p: sum(f.stat().st_size for f in p.glob("part-*.parquet"))  # noqa: E731
    assert size(b) < 0.8 * size(a)
    x = TeacherCache(a, tokenizer=tokenizer, temperature=1.0)[2]["teacher_topk_logprobs"]
    y = TeacherCache(b, tokenizer=tokenizer, temperature=1.0)[2]["teacher_topk_logprobs"]
    assert torch.allclose(x, y, rtol=1e-3, atol=1e-3) and not torch.equal(x, y)


class _Interrupt(RuntimeError):
    pass


def test_interrupted_write_resumes(teacher, tokenizer, data, tmp_path):
    calls = {"n": 0}

    def flaky(input_ids, attention_mask):
        calls["n"] += 1
        if calls["n"] > 3:
            raise _Interrupt("killed")
        return teacher(input_ids=input_ids, attention_mask=attention_mask)

    part = tmp_path / "resumed"
    with pytest.raises(_Interrupt):
        write_teacher_cache(flaky, data, part, k=4, tokenizer=tokenizer, rows_per_file=4, batch_size=2,
                            model_id="m")
    done = sorted(p.name for p in part.glob("part-*.parquet"))
    assert done == ["part-00000.parquet"]  # the second file never completed
    assert not list(part.glob("*.tmp"))  # nothing half-written is left under a final name or a temporary one
    with pytest.raises(ValueError, match="incomplete"):
        TeacherCache(part, tokenizer=tokenizer, temperature=1.0)
    counted = {"n": 0}

    def counting(input_ids, attention_mask):
        counted["n"] += 1
        return teacher(input_ids=input_ids, attention_mask=attention_mask)

    write_teacher_cache(counting, data, part, k=4, tokenizer=tokenizer, rows_per_file=4, batch_size=2, model_id="m")
    assert counted["n"] == 3  # only the 6 examples of parts 1 and 2, two per batch
    whole = tmp_path / "whole"
    write_teacher_cache(teacher, data, whole, k=4, tokenizer=tokenizer, rows_per_file=4, batch_size=2, model_id="m")
    r, w = TeacherCache(part, tokenizer=tokenizer, temperature=1.0), TeacherCache(whole, tokenizer=tokenizer,
                                                                                   temperature=1.0)
    for i in range(len(data)):
        assert torch.equal(r[i]["teacher_topk_indices"], w[i]["teacher_topk_indices"])
        assert torch.allclose(r[i]["teacher_topk_logprobs"], w[i]["teacher_topk_logprobs"], atol=1e-6)


def test_mismatched_manifest_is_an_error(teacher, tokenizer, data, hfh, tmp_path):
    write_teacher_cache(teacher, data, tmp_path, k=4, tokenizer=tokenizer, temperature=2.0, model_id="m")
    other = hfh.train_tokenizer(lines=hfh.corpus_lines()[:6])
    assert tokenizer_hash(other) != tokenizer_hash(tokenizer)
    with pytest.raises(ValueError, match="^tokenizer: "):
        TeacherCache(tmp_path, tokenizer=other, temperature=2.0)
    with pytest.raises(ValueError, match="^temperature: "):
        TeacherCache(tmp_path, tokenizer=tokenizer, temperature=1.0)
    with pytest.raises(ValueError, match="^k: "):
        TeacherCache(tmp_path, tokenizer=tokenizer, temperature=2.0, k=8)
    with pytest.raises(ValueError, match="^vocab_size: "):
        TeacherCache(tmp_path, tokenizer=tokenizer, temperature=2.0, vocab_size=V + 1)
    for kw, arg in ((dict(temperature=1.0), "temperature"), (dict(k=8), "k"), (dict(tokenizer=other), "tokenizer"),
                    (dict(model_id="other"), "model_id"), (dict(dtype="float16"), "dtype")):
        args = dict(k=4, tokenizer=tokenizer, temperature=2.0, model_id="m") | kw
        with pytest.raises(ValueError, match=f"^{arg}: "):
            write_teacher_cache(teacher, data, tmp_path, **args)
    changed = [dict(d) for d in data]
    changed[1] = {"input_ids": [7, 8, 9]}
    with pytest.raises(ValueError, match="^dataset: "):
        write_teacher_cache(teacher, changed, tmp_path, k=4, tokenizer=tokenizer, temperature=2.0, model_id="m")
    with pytest.raises(ValueError, match="no teacher cache"):
        TeacherCache(tmp_path / "nothing", tokenizer=tokenizer, temperature=2.0)
    with pytest.raises(ValueError, match="^k must"):
        write_teacher_cache(teacher, data, tmp_path / "x", k=0, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="at most"):
        write_teacher_cache(teacher, data, tmp_path / "y", k=V + 1, tokenizer=tokenizer)


def test_collated_cache_feeds_the_losses(teacher, tokenizer, data, hfh, tmp_path):
    write_teacher_cache(teacher, data, tmp_path, k=16, tokenizer=tokenizer, rows_per_file=4)
    cache = TeacherCache(tmp_path, tokenizer=tokenizer, temperature=1.0)
    batch = TeacherCacheCollator(pad_token_id=0)([cache[i] for i in (1, 6, 2)])
    assert batch["teacher_topk_logprobs"].shape == (3, 11, 16)
    assert float(batch["teacher_temperature"]) == 1.0
    student = hfh.tiny_llama(V, seed=0)
    got = distillation_loss(student, None, batch, dv.spec("js", beta=0.5))
    # the same teacher recomputed in memory and given as a TopKTeacher
    with torch.no_grad():
        logp = torch.log_softmax(teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                                 -1)
    lp, ix = logp.topk(16, dim=-1)
    direct = distillation_loss(student, TopKTeacher(lp, ix), batch, dv.spec("js", beta=0.5))
    assert torch.allclose(got, direct, rtol=1e-5)
    # and topk_divergence_loss on the full student logits, with the shift written out
    z = student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    ref = topk_divergence_loss(z[:, :-1], batch["teacher_topk_logprobs"][:, :-1], batch["teacher_topk_indices"][:, :-1], dv.spec("js", beta=0.5), labels=batch["labels"][:, 1:])
    assert torch.allclose(got, ref, rtol=1e-5)
    assert math.isfinite(float(got.detach())) and float(got.detach()) > 0


def test_collator_rejects_mixed_features():
    c = TeacherCacheCollator()
    a = {"input_ids": torch.tensor([1, 2]), "teacher_topk_logprobs": torch.zeros(2, 3) - 2,
         "teacher_topk_indices": torch.tensor([[0, 1, 2]] * 2), "teacher_temperature": 1.0}
    with pytest.raises(ValueError, match="temperatures"):
        c([a, dict(a, teacher_temperature=2.0)])
    with pytest.raises(ValueError, match="some examples"):
        c([a, {"input_ids": torch.tensor([1])}])
    with pytest.raises(ValueError, match="empty"):
        c([])


@pytest.mark.slow
def test_trainer_distils_from_a_cache(teacher, tokenizer, data, hfh, tmp_path):
    from transformers import TrainingArguments

    from divergences.hf import DistillationTrainer

    write_teacher_cache(teacher, data, tmp_path / "cache", k=8, tokenizer=tokenizer)
    cache = TeacherCache(tmp_path / "cache", tokenizer=tokenizer, temperature=1.0, vocab_size=V)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", save_strategy="no", use_cpu=True,
                             disable_tqdm=True, max_steps=6, per_device_train_batch_size=5, learning_rate=5e-3,
                             logging_steps=1)  # remove_unused_columns stays True: the cache columns must survive
    trainer = DistillationTrainer(model=hfh.tiny_llama(V, seed=0), teacher_model=None, args=args,
                                  train_dataset=cache, data_collator=TeacherCacheCollator())
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 6 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0]


def test_a_datasets_dataset_works(teacher, tokenizer, data, tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(data)
    write_teacher_cache(teacher, ds, tmp_path, k=4, tokenizer=tokenizer, rows_per_file=3)
    cache = TeacherCache(tmp_path, tokenizer=tokenizer, temperature=1.0)
    assert [cache[i]["input_ids"].tolist() for i in range(len(ds))] == [d["input_ids"] for d in data]
