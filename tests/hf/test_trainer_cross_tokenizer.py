"""DistillationTrainer(teacher_tokenizer=...): the vocabulary mismatch is found at construction, identical
tokenizers give the ordinary loss, and a teacher with another tokenizer distils (the loss decreases)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import divergences as dv  # noqa: E402
from divergences.hf import (  # noqa: E402
    CrossTokenizer,
    DistillationTrainer,
    cross_tokenizer_distillation_loss,
    distillation_loss,
)
from divergences.torch import DistillOptions  # noqa: E402

V = 300


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _fast(tokenizer):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="<s>", unk_token="<unk>")


@pytest.fixture(scope="module")
def teacher_tokenizer(hfh):
    other = Path(__file__).resolve().parents[1] / "data" / "llm_corpus.txt"
    lines = [line for line in other.read_text(encoding="utf-8").splitlines() if line.strip()]
    return _fast(hfh.train_tokenizer(360, lines + hfh.corpus_lines()[10:]))


def _args(tmp_path, **kw):
    from transformers import TrainingArguments

    base = dict(output_dir=str(tmp_path), report_to="none", save_strategy="no", use_cpu=True, disable_tqdm=True,
                logging_steps=1, lr_scheduler_type="constant", warmup_steps=0, dataloader_num_workers=0, seed=0,
                remove_unused_columns=False, per_device_train_batch_size=4, learning_rate=1e-2)
    base.update(kw)
    return TrainingArguments(**base)


def test_vocabulary_mismatch_is_found_at_construction(hfh, tmp_path):
    student, teacher = hfh.tiny_llama(V, seed=0), hfh.tiny_llama(V + 8, seed=1)
    with pytest.raises(ValueError, match="308 tokens and the student 300"):
        DistillationTrainer(model=student, teacher_model=teacher, args=_args(tmp_path))
    DistillationTrainer(model=student, teacher_model=teacher, args=_args(tmp_path),
                        options=DistillOptions(vocab_mismatch="crop"))
    with pytest.raises(ValueError, match="teacher_model must be a model"):
        DistillationTrainer(model=student, teacher_model=None, args=_args(tmp_path), teacher_tokenizer=object())
    with pytest.raises(ValueError, match="processing_class"):
        DistillationTrainer(model=student, teacher_model=teacher, args=_args(tmp_path), teacher_tokenizer=object())
    with pytest.raises(ValueError, match="divergence"):
        DistillationTrainer(model=student, teacher_model=teacher, args=_args(tmp_path), divergence="nope",
                            options=DistillOptions(vocab_mismatch="crop"))


def test_identical_tokenizers_give_the_ordinary_loss(hfh, tokenizer, tmp_path, one_thread):
    tok = _fast(tokenizer)
    student, teacher = hfh.tiny_llama(V, seed=0).double(), hfh.tiny_llama(V, seed=1, hidden=48).double()
    lines = hfh.corpus_lines()[:4]
    seqs = [tok(line)["input_ids"][:16] for line in lines]
    batch = hfh.make_batch(seqs)
    batch["labels"][:, :3] = -100
    cross = CrossTokenizer.build(tok, tok, student, teacher)
    assert cross.vocab_map.is_identity()
    for divergence in ("kl", dv.spec("js", beta=0.3)):
        opts = DistillOptions(temperature=1.5, hard_weight=0.5)
        got = cross_tokenizer_distillation_loss(student, teacher, batch, cross, divergence, options=opts)
        ref = distillation_loss(student, teacher, batch, divergence, options=opts)
        assert torch.isclose(got, ref, rtol=1e-9), divergence
    # through the trainer: the same value
    trainer = DistillationTrainer(model=student, teacher_model=teacher, processing_class=tok, teacher_tokenizer=tok,
                                  args=_args(tmp_path), divergence="kl")
    assert torch.isclose(trainer.compute_loss(student, batch), distillation_loss(student, teacher, batch, "kl"),
                         rtol=1e-9)


@pytest.mark.parametrize("method", ["vocab", "uld", "span"])
def test_a_teacher_with_another_tokenizer_distils(hfh, tokenizer, teacher_tokenizer, tmp_path, one_thread, method):
    tok = _fast(tokenizer)
    student, teacher = hfh.tiny_llama(V, seed=0), hfh.tiny_llama(360, seed=1, hidden=48)
    with torch.no_grad():
        teacher.lm_head.weight.mul_(4.0)
    lines = hfh.corpus_lines()
    data = []
    for line in lines[:8]:
        ids = tok(line)["input_ids"][:14]
        data.append({"input_ids": torch.tensor(ids), "attention_mask": torch.ones(len(ids), dtype=torch.long),
                     "labels": torch.tensor(ids)})

    def collate(rows):
        return hfh.make_batch([r["input_ids"].tolist() for r in rows])

    trainer = DistillationTrainer(model=student, teacher_model=teacher, processing_class=tok,
                                  teacher_tokenizer=teacher_tokenizer, cross_tokenizer=method,
                                  divergence="js" if method != "uld" else "kl",
                                  args=_args(tmp_path, max_steps=12, per_device_train_batch_size=8),
                                  train_dataset=data, data_collator=collate)
    assert "matched by string" in trainer.cross.vocab_map.report()
    assert 0 < trainer.cross.vocab_map.matched < V
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 12 and all(math.isfinite(x) for x in losses)
    assert sum(losses[-3:]) < sum(losses[:3])


def test_left_padding_never_predicts_a_span_from_a_pad(hfh, tokenizer, teacher_tokenizer):
    from divergences.hf.cross_distill import teacher_inputs

    tok = _fast(tokenizer)
    cross = CrossTokenizer.build(tok, teacher_tokenizer, hfh.tiny_llama(V), hfh.tiny_llama(360))
    seqs = [tok(line)["input_ids"][:12] for line in hfh.corpus_lines()[:3]]
    batch = hfh.make_batch([seqs[0], seqs[1][:6], seqs[2][:9]], pad_left=True)
    keep = batch["labels"] != -100
    t_batch, spans = teacher_inputs(batch, cross, keep, torch.device("cpu"))
    rows = spans.student_row
    assert len(spans) > 0 and bool((batch["attention_mask"][spans.batch, rows] == 1).all())
    assert bool((t_batch["attention_mask"][spans.batch, spans.teacher_row] == 1).all())
    assert spans.dropped >= 3  # each row's first span has no real predicting position
