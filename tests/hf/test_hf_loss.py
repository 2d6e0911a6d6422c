"""distillation_loss against an explicit reference: full logits, manual shift and mask, direct formulas."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import divergences as dv  # noqa: E402
from divergences.hf import TopKTeacher, distillation_loss  # noqa: E402
from divergences.torch import DistillOptions  # noqa: E402

V = 300  # the tokenizer's vocabulary (conftest trains it to this size)


def _ref_rows(model, batch, shift=True):
    """Full student logits at kept positions (shifted), their targets, and the keep mask."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    labels = batch["labels"].masked_fill(batch["attention_mask"] == 0, -100)
    z, y = (out.logits[:, :-1], labels[:, 1:]) if shift else (out.logits, labels)
    keep = y != -100
    return z[keep], y[keep], keep


def _kl_rows(t, z, T=1.0):
    """KL(softmax(t/T) || softmax(z/T)) per row, written as Σ p (log p − log q)."""
    lp = torch.log_softmax(t / T, -1)
    lq = torch.log_softmax(z / T, -1)
    return (lp.exp() * (lp - lq)).sum(-1)


def _js_rows(t, z, beta):
    p, q = torch.softmax(t, -1), torch.softmax(z, -1)
    m = beta * p + (1 - beta) * q
    return beta * (p * (p / m).log()).sum(-1) + (1 - beta) * (q * (q / m).log()).sum(-1)


@pytest.fixture
def pair(arch, hfh, encoded):
    student = hfh.build(arch, V, seed=0).double()
    teacher = hfh.build(arch, V, seed=1, hidden=48).double()
    batch = hfh.make_batch(encoded[:4], pad_left=(arch == "llama"))
    return student, teacher, batch


@pytest.mark.parametrize("T, hard", [(1.0, 0.0), (2.0, 0.5)])
def test_model_teacher_equals_reference(pair, T, hard):
    student, teacher, batch = pair
    loss = distillation_loss(student, teacher, batch, "kl",
                             options=DistillOptions(temperature=T, hard_weight=hard, chunk_size=7))
    loss.backward()
    got = {n: p.grad.clone() for n, p in student.named_parameters()}
    student.zero_grad()

    z, y, keep = _ref_rows(student, batch)
    with torch.no_grad():
        t = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1][keep]
    ref = (_kl_rows(t, z, T) + hard * torch.nn.functional.cross_entropy(z, y, reduction="none")).mean()
    ref.backward()
    assert torch.allclose(loss, ref, rtol=1e-10, atol=1e-12)
    for n, p in student.named_parameters():
        if p.grad is None:
            assert got[n] is None or torch.count_nonzero(got[n]) == 0
        else:
            assert torch.allclose(got[n], p.grad, rtol=1e-8, atol=1e-11), n
    assert all(p.grad is None for p in teacher.parameters())


def test_logits_teacher_js_and_num_items(pair):
    student, teacher, batch = pair
    with torch.no_grad():
        t_logits = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    loss = distillation_loss(student, t_logits, batch, dv.spec("js", beta=0.3), num_items_in_batch=torch.tensor(100))
    z, _, keep = _ref_rows(student, batch)
    ref = _js_rows(t_logits[:, :-1][keep], z, 0.3).sum() / 100
    assert torch.allclose(loss, ref, rtol=1e-10)
    # the unfused path (full logits) gives the same value
    unfused = distillation_loss(student, t_logits, batch, dv.spec("js", beta=0.3), num_items_in_batch=100, fused=False)
    assert torch.allclose(unfused, ref, rtol=1e-10)


def test_padding_positions_never_count(pair, hfh, encoded):
    """A sequence alone equals the same sequence padded inside a batch (sum reduction via num_items)."""
    student, teacher, _ = pair
    s = encoded[5]
    alone = hfh.make_batch([s])
    padded = hfh.make_batch([s, encoded[6] + encoded[7][:5]])
    n_alone = int((alone["labels"][:, 1:] != -100).sum())
    a = distillation_loss(student, teacher, alone, "reverse_kl", num_items_in_batch=1)
    both = distillation_loss(student, teacher, padded, "reverse_kl", num_items_in_batch=1)
    second = distillation_loss(student, teacher, hfh.make_batch([padded["input_ids"][1].tolist()]), "reverse_kl",
                               num_items_in_batch=1)
    assert n_alone == len(s) - 1
    assert torch.allclose(both, a + second, rtol=1e-9)


def test_topk_teacher_from_inputs_and_object(pair):
    student, teacher, batch = pair
    with torch.no_grad():
        t_logp = torch.log_softmax(teacher(input_ids=batch["input_ids"]).logits, -1)
    lp, ix = t_logp.topk(8, dim=-1)
    inputs = dict(batch, teacher_topk_logprobs=lp, teacher_topk_indices=ix)
    got = distillation_loss(student, None, inputs, "kl", options=DistillOptions(chunk_size=5))
    got2 = distillation_loss(student, TopKTeacher(lp, ix), batch, "kl")
    got.backward()
    g = student.get_output_embeddings().weight.grad.clone()
    student.zero_grad()
    z, _, keep = _ref_rows(student, batch)
    # direct definition: k entries + tail bucket, written with probabilities
    p_k = lp[:, :-1][keep].exp()
    q = torch.softmax(z, -1)
    q_k = q.gather(-1, ix[:, :-1][keep])
    p_t, q_t = 1 - p_k.sum(-1), 1 - q_k.sum(-1)
    ref = ((p_k * (p_k / q_k).log()).sum(-1) + p_t * (p_t / q_t).log()).mean()
    ref.backward()
    assert torch.allclose(got, ref, rtol=1e-9) and torch.allclose(got2, ref, rtol=1e-9)
    assert torch.allclose(g, student.get_output_embeddings().weight.grad, rtol=1e-7, atol=1e-12)


def test_callable_teacher_and_temperature_check(pair):
    student, teacher, batch = pair
    with torch.no_grad():
        lp, ix = torch.log_softmax(teacher(input_ids=batch["input_ids"]).logits / 2, -1).topk(4, dim=-1)
    served = lambda inputs: TopKTeacher(lp, ix, temperature=2.0)  # noqa: E731
    assert torch.isfinite(distillation_loss(student, served, batch, "kl", options=DistillOptions(temperature=2.0)))
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(student, served, batch, "kl", options=DistillOptions(temperature=1.0))
    inputs = dict(batch, teacher_topk_logprobs=lp, teacher_topk_indices=ix, teacher_temperature=torch.tensor(2.0))
    with pytest.raises(ValueError, match="temperature 2.0"):
        distillation_loss(student, None, inputs, "kl")


def test_bad_inputs_name_the_argument(pair, hfh):
    student, teacher, batch = pair
    with pytest.raises(ValueError, match="missing"):
        distillation_loss(student, None, batch)
    with pytest.raises(ValueError, match="teacher logits"):
        distillation_loss(student, torch.zeros(4, 3, V), batch)
    with pytest.raises(ValueError, match="vocab"):
        distillation_loss(student, hfh.build("llama", V + 3, seed=2).double(), batch)
    with pytest.raises(ValueError, match="attention_mask"):
        distillation_loss(student, teacher, dict(batch, attention_mask=batch["attention_mask"][:, 1:]))
    with pytest.raises(ValueError, match="teacher must be"):
        distillation_loss(student, 3.0, batch)
    with pytest.raises(ValueError, match="inputs must be"):
        distillation_loss(student, teacher, [batch])


def test_softcapped_head_refuses_fused(hfh):
    student = hfh.build("llama", V)
    student.config.final_logit_softcapping = 30.0
    with pytest.raises(ValueError, match="final_logit_softcapping"):
        distillation_loss(student, torch.zeros(1, 3, V), hfh.make_batch([[3, 4, 5]]))


@pytest.mark.parametrize("name", __import__("divergences").available())
def test_every_registry_divergence(name, hfh, encoded):
    """The fused path equals dv.divergence on each kept row's full distributions (value), for every entry."""
    import divergences as dv

    student = hfh.tiny_gpt2(V, seed=0).double()
    teacher_logits = torch.randn(2, 9, V, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    batch = hfh.make_batch([encoded[0][:9], encoded[1][:6]])
    loss = distillation_loss(student, teacher_logits, batch, name,
                             options=DistillOptions(temperature=1.5, chunk_size=4))
    z, _, keep = _ref_rows(student, batch)
    p = torch.softmax(teacher_logits[:, :-1][keep] / 1.5, -1).detach().numpy()
    q = torch.softmax(z / 1.5, -1).detach().numpy()
    ref = sum(float(dv.divergence(name, p[i], q[i])) for i in range(len(p))) / len(p)
    assert float(loss.detach()) == pytest.approx(ref, rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("name", ["kl", "reverse_kl", "js", "tv", "renyi"])
def test_teacher_equal_to_student_gives_zero(name, hfh, encoded):
    student = hfh.tiny_llama(V, seed=0).double()
    batch = hfh.make_batch(encoded[:2])
    loss = distillation_loss(student, student, batch, name)
    assert abs(float(loss.detach())) < 1e-12


def test_bfloat16_student_is_finite_and_close(hfh, encoded):
    student = hfh.tiny_llama(V, seed=0)
    teacher = hfh.tiny_llama(V, seed=1)
    batch = hfh.make_batch(encoded[:3])
    ref = distillation_loss(student, teacher, batch, "js")
    low = distillation_loss(student.to(torch.bfloat16), teacher.to(torch.bfloat16), batch, "js")
    low.backward()
    assert torch.isfinite(low) and float(low.detach()) == pytest.approx(float(ref.detach()), rel=0.05)
    assert all(torch.isfinite(p.grad).all() for p in student.parameters() if p.grad is not None)


def test_topk_shape_mismatch_names_the_argument(pair):
    student, _, batch = pair
    lp = torch.full((4, batch["input_ids"].shape[1], 5), -3.0, dtype=torch.float64)
    ix = torch.arange(4).expand(4, batch["input_ids"].shape[1], 4).clone()
    with pytest.raises(ValueError, match="top-k log-probabilities and indices"):
        distillation_loss(student, TopKTeacher(lp, ix), batch)
    with pytest.raises(ValueError, match="teacher top-k log-probabilities must have the leading shape"):
        distillation_loss(student, TopKTeacher(lp[:, :3], ix[:, :3]), batch)


@pytest.mark.parametrize("kind", ["model", "logits", "topk"])
def test_no_kept_token_gives_zero_with_a_graph(kind, hfh):
    student, teacher = hfh.tiny_llama(V, seed=0), hfh.tiny_llama(V, seed=1)
    batch = {"input_ids": torch.randint(0, V, (2, 5)), "labels": torch.full((2, 5), -100)}
    t = {"model": teacher, "logits": torch.randn(2, 5, V),
         "topk": TopKTeacher(torch.full((2, 5, 3), -2.0), torch.arange(3).expand(2, 5, 3))}[kind]
    for fused in (True, False):
        loss = distillation_loss(student, t, batch, "kl", fused=fused)
        loss.backward()  # the Trainer calls backward on every micro-batch
        assert float(loss.detach()) == 0.0
        assert all(float(p.grad.abs().max()) == 0.0 for p in student.parameters() if p.grad is not None)


def test_student_head_sees_one_position_only(pair):
    """The LM heads (student and teacher) run on one position per sequence; the loss forms logits in chunks."""
    student, teacher, batch = pair
    shapes = []
    hooks = [m.get_output_embeddings().register_forward_hook(lambda _m, _a, out: shapes.append(tuple(out.shape)))
             for m in (student, teacher)]
    try:
        distillation_loss(student, teacher, batch, "kl", options=DistillOptions(chunk_size=3)).backward()
    finally:
        for h in hooks:
            h.remove()
    b = batch["input_ids"].shape[0]
    assert shapes == [(b, 1, V), (b, 1, V)]


def test_padded_teacher_vocabulary_with_crop(hfh, encoded):
    """A teacher whose embedding is padded past the tokenizer (V + 8 rows) distils with vocab_mismatch='crop'."""
    student, teacher = hfh.tiny_llama(V, seed=0).double(), hfh.tiny_llama(V + 8, seed=1).double()
    batch = hfh.make_batch(encoded[:3])
    got = distillation_loss(student, teacher, batch, "kl", options=DistillOptions(vocab_mismatch="crop"))
    z, _, keep = _ref_rows(student, batch)
    with torch.no_grad():
        t = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1][keep]
    assert torch.allclose(got, _kl_rows(t[:, :V], z).mean(), rtol=1e-10)


def test_bdkd_balanced_kl_in_the_fused_path(pair):
    """BD-KD's entropy-gap balance as divergence=: fused (LM head) equals the explicit formula."""
    from divergences.torch import balanced_kl

    student, teacher, batch = pair
    with torch.no_grad():
        t_logits = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    loss = distillation_loss(student, t_logits, batch, balanced_kl(sharpness=1.5),
                             options=DistillOptions(temperature=1.5))
    z, _, keep = _ref_rows(student, batch)
    t = t_logits[:, :-1][keep]
    lq, lp = torch.log_softmax(z / 1.5, -1), torch.log_softmax(t / 1.5, -1)
    gap = (-(lq.exp() * lq).sum(-1) + (lp.exp() * lp).sum(-1)).detach()
    w = torch.sigmoid(1.5 * gap)
    ref = ((1 - w) * _kl_rows(t, z, 1.5) + w * (lq.exp() * (lq - lp)).sum(-1)).mean()
    assert torch.allclose(loss, ref, rtol=1e-10)
