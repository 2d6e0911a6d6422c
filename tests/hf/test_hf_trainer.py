"""DistillationTrainer: 20 steps lower the loss; its losses and weights equal an explicit loop; gradient
accumulation 1 × 8 equals 8 × 1. Tiny Llama and GPT-2 built from configs, tokenizer trained on tests/data."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import divergences as dv  # noqa: E402
from divergences.torch import DistillOptions  # noqa: E402

pytestmark = pytest.mark.slow

V = 300


def _trainer_cls():
    from torch.utils.data import SequentialSampler

    from divergences.hf import DistillationTrainer

    class InOrder(DistillationTrainer):  # the same batch order as the reference loop
        def _get_train_sampler(self, train_dataset=None):
            return SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)

    return InOrder


def _args(tmp_path, **kw):
    from transformers import TrainingArguments

    base = dict(output_dir=str(tmp_path), report_to="none", save_strategy="no", use_cpu=True, disable_tqdm=True,
                logging_steps=1, lr_scheduler_type="constant", warmup_steps=0, max_grad_norm=0.0, weight_decay=0.0,
                dataloader_num_workers=0, seed=0, remove_unused_columns=False)
    base.update(kw)
    return TrainingArguments(**base)


def _data(encoded):
    return [{"input_ids": s} for s in encoded]


def _collate(hfh):
    return lambda feats: hfh.make_batch([f["input_ids"] for f in feats])


def _losses(trainer):
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


def _ref_loss(student, teacher, batch, T):
    """Mean over kept shifted tokens of KL(teacher‖student) at temperature T, from full logits."""
    z = student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    with torch.no_grad():
        t = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    keep = batch["labels"][:, 1:] != -100
    lp, lq = torch.log_softmax(t[keep] / T, -1), torch.log_softmax(z[keep] / T, -1)
    return (lp.exp() * (lp - lq)).sum(-1).mean()


def test_twenty_steps_lower_the_loss(arch, hfh, encoded, tmp_path):
    student, teacher = hfh.build(arch, V, seed=0), hfh.build(arch, V, seed=1, hidden=48)
    before = copy.deepcopy(student.state_dict())
    trainer = _trainer_cls()(model=student, teacher_model=teacher, divergence=dv.spec("js", beta=0.5),
                             args=_args(tmp_path, max_steps=20, per_device_train_batch_size=2, learning_rate=3e-3),
                             train_dataset=_data([s[:12] for s in encoded]), data_collator=_collate(hfh))
    trainer.train()
    losses = _losses(trainer)
    assert len(losses) == 20
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3
    assert any(not torch.equal(before[k], v) for k, v in student.state_dict().items())


def test_trainer_equals_reference_loop(arch, hfh, encoded, tmp_path):
    student, teacher = hfh.build(arch, V, seed=0).double(), hfh.build(arch, V, seed=1, hidden=48).double()
    ref_student = copy.deepcopy(student)
    T, lr, bs, steps = 2.0, 0.05, 4, 4
    opt = torch.optim.SGD(student.parameters(), lr=lr)
    trainer = _trainer_cls()(model=student, teacher_model=teacher, options=DistillOptions(temperature=T),
                             args=_args(tmp_path, max_steps=steps, per_device_train_batch_size=bs, learning_rate=lr),
                             train_dataset=_data(encoded), data_collator=_collate(hfh), optimizers=(opt, None))
    trainer.train()

    ref_opt = torch.optim.SGD(ref_student.parameters(), lr=lr)
    ref_student.train()
    ref_losses = []
    for step in range(steps):
        batch = hfh.make_batch(encoded[step * bs:(step + 1) * bs])
        ref_opt.zero_grad()
        loss = _ref_loss(ref_student, teacher, batch, T)
        loss.backward()
        ref_opt.step()
        ref_losses.append(float(loss.detach()))
    # the Trainer accumulates the logged loss in a float32 tensor: equal to float32 rounding
    assert _losses(trainer) == pytest.approx(ref_losses, rel=1e-6)
    for (n, p), q in zip(student.named_parameters(), ref_student.parameters()):
        assert torch.allclose(p, q, rtol=1e-9, atol=1e-12), n


def test_gradient_accumulation_1x8_equals_8x1(arch, hfh, encoded, tmp_path):
    seqs = [s[:6 + 2 * i] for i, s in enumerate(encoded[:8])]
    assert len({len(s) for s in seqs}) > 1  # unequal lengths: the per-micro-batch mean would differ
    results = []
    for bs, ga in ((8, 1), (1, 8)):
        student = hfh.build(arch, V, seed=0).double()
        teacher = hfh.build(arch, V, seed=1, hidden=48).double()
        opt = torch.optim.SGD(student.parameters(), lr=0.1)
        trainer = _trainer_cls()(model=student, teacher_model=teacher, divergence="reverse_kl",
                                 options=DistillOptions(hard_weight=0.3),
                                 args=_args(tmp_path, max_steps=1, per_device_train_batch_size=bs,
                                            gradient_accumulation_steps=ga, learning_rate=0.1),
                                 train_dataset=_data(seqs), data_collator=_collate(hfh), optimizers=(opt, None))
        trainer.train()
        results.append((_losses(trainer)[0], [p.detach().clone() for p in student.parameters()]))
    (loss_a, params_a), (loss_b, params_b) = results
    assert loss_a == pytest.approx(loss_b, rel=1e-6)  # logged through float32
    for a, b in zip(params_a, params_b):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
    init = hfh.build(arch, V, seed=0).double()
    moved = sum(not torch.allclose(a, p) for a, p in zip(params_a, init.parameters()))
    assert moved > 0


def test_evaluate_equals_reference(hfh, encoded, tmp_path):
    student, teacher = hfh.build("llama", V, seed=0).double(), hfh.build("llama", V, seed=1, hidden=48).double()
    data = encoded[:8]
    trainer = _trainer_cls()(model=student, teacher_model=teacher, options=DistillOptions(temperature=2.0),
                             args=_args(tmp_path, per_device_eval_batch_size=4, prediction_loss_only=True),
                             eval_dataset=_data(data), data_collator=_collate(hfh))
    got = trainer.evaluate()["eval_loss"]
    with torch.no_grad():
        ref = sum(float(_ref_loss(student, teacher, hfh.make_batch(data[i:i + 4]), 2.0)) for i in (0, 4)) / 2
    assert got == pytest.approx(ref, rel=1e-6)
