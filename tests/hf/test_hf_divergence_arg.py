"""One spelling of a divergence with its parameters in every hf loss, trainer and processor: ``dv.spec(...)``.

Each entry point gives with ``dv.spec("js", beta=0.3)`` the value a direct reference computes for JS with
β = 0.3 (the torch loss with the parameter spelled its own way, or the exact verb); the removed spellings
(``beta=`` beside a name, ``params=``, ``divergence_params=``, ``temperature=`` beside the options) fail with a
TypeError that shows the new one; divergences the entry point cannot compute are refused by their record's
facts (``inputs``, ``kind``), at once, naming the argument.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import divergences as dv  # noqa: E402
from divergences.core.record import records  # noqa: E402
from divergences.hf import (  # noqa: E402
    DPHConfig,
    GenerationOptions,
    TopKTeacher,
    VocabularyMap,
    cross_tokenizer_distillation_loss,
    distillation_loss,
    dph_regulariser,
    generalized_jsd_loss,
    gkd_divergence,
    on_policy_loss,
    span_divergence,
    vocabulary_divergence,
)
from divergences.hf.processors import DivergenceMonitor  # noqa: E402
from divergences.torch import DistillOptions, divergence_loss, sampled_divergence, topk_divergence_loss  # noqa: E402

V = 40
JS03 = dv.spec("js", beta=0.3)


def _batch(hfh, seqs=((3, 5, 7, 9, 11, 13), (4, 6, 8, 10))):
    return hfh.make_batch([list(s) for s in seqs])


def _kept_rows(model, batch):
    z = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    keep = batch["labels"][:, 1:] != -100
    return z, keep


def test_distillation_loss_takes_the_spec(hfh):
    student = hfh.tiny_llama(V, seed=0).double()
    teacher = torch.randn(2, 6, V, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    batch = _batch(hfh)
    opts = DistillOptions(temperature=1.5)
    for fused in (True, False):
        got = distillation_loss(student, teacher, batch, JS03, options=opts, fused=fused)
        z, keep = _kept_rows(student, batch)
        ref = divergence_loss(z[keep], teacher[:, :-1][keep], dv.spec("js", **{"beta": 0.3}), options=DistillOptions(temperature=1.5))
        assert torch.allclose(got, ref, rtol=1e-10), fused
    # the record called with its parameters is the same value
    assert torch.allclose(distillation_loss(student, teacher, batch, dv.get("js")(beta=0.3)),
                          distillation_loss(student, teacher, batch, JS03), rtol=0)
    # top-k teacher: the spec reaches the top-k loss
    lp, ix = torch.log_softmax(teacher, -1).topk(5, dim=-1)
    got = distillation_loss(student, TopKTeacher(lp, ix), batch, JS03)
    z, keep = _kept_rows(student, batch)
    ref = topk_divergence_loss(z[keep], lp[:, :-1][keep], ix[:, :-1][keep], dv.spec("js", **{"beta": 0.3}))
    assert torch.allclose(got, ref, rtol=1e-10)


def test_a_ragged_top_k_teacher_reads_the_spec_term(hfh):
    """Positions with fewer than k entries take the term of the spec (β = 0.3), not the default JS."""
    student = hfh.tiny_llama(V, seed=0).double()
    batch = _batch(hfh)
    lp, ix = torch.log_softmax(torch.randn(2, 6, V, dtype=torch.float64), -1).topk(4, dim=-1)
    lp[0, 1, 3] = -math.inf  # one unused slot: the ragged path
    a = distillation_loss(student, TopKTeacher(lp, ix), batch, JS03)
    b = distillation_loss(student, TopKTeacher(lp, ix), batch, dv.spec("js", beta=0.7))
    assert torch.isfinite(a) and not torch.isclose(a, b)
    with pytest.raises(ValueError, match="not pointwise"):
        distillation_loss(student, TopKTeacher(lp, ix), batch, dv.spec("renyi", alpha=0.5))


def test_removed_spellings_name_the_new_one(hfh):
    student = hfh.tiny_llama(V, seed=0)
    teacher = torch.randn(2, 6, V)
    batch = _batch(hfh)
    with pytest.raises(TypeError, match=r"divergence=dv.spec\('js', beta=\.\.\.\)"):
        distillation_loss(student, teacher, batch, "js", beta=0.3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"dv.spec"):
        distillation_loss(student, teacher, batch, "js", divergence_params={"beta": 0.3})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"options=DistillOptions\(temperature=\.\.\.\)"):
        distillation_loss(student, teacher, batch, "kl", temperature=2.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"dv.spec\('renyi', alpha=\.\.\.\)"):
        on_policy_loss(student, student, batch, "renyi", alpha=0.5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="dv.spec"):
        dph_regulariser(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1, 2), "js",
                        params={"beta": 0.5})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="dv.spec"):
        vocabulary_divergence(torch.zeros(1, 3), torch.zeros(1, 3), VocabularyMap(torch.arange(3), torch.arange(3), 3, 3),
                              "js", params={"beta": 0.5})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="dv.spec"):
        span_divergence(torch.zeros(2) - 1, torch.zeros(2) - 1, "js", beta=0.5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"dv.spec\('js', beta=0.3\)"):
        cross_tokenizer_distillation_loss(student, student, batch, None, "js",  # type: ignore[arg-type]
                                          params={"beta": 0.3})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"dv.spec\('js', beta=0.5\)"):
        DPHConfig("js", {"beta": 0.5})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dv.spec"):
        DPHConfig("js", params={"beta": 0.5})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="dv.spec"):
        DivergenceMonitor(lambda i, s: s, divergence="js", beta=0.3)  # type: ignore[call-arg]
    # a keyword that never was a spelling gets Python's own error
    with pytest.raises(TypeError, match="unexpected keyword"):
        distillation_loss(student, teacher, batch, "kl", colour="red")  # type: ignore[call-arg]


def test_the_trainers_take_the_spec_and_refuse_the_old_keywords(hfh, tmp_path):
    pytest.importorskip("accelerate")
    from transformers import TrainingArguments

    from divergences.hf import DistillationTrainer, OnPolicyDistillationTrainer

    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, save_strategy="no")
    student, teacher = hfh.tiny_llama(V, seed=0).double(), hfh.tiny_llama(V, seed=1).double()
    batch = _batch(hfh)
    trainer = DistillationTrainer(model=student, teacher_model=teacher, args=args, divergence=JS03,
                                  options=DistillOptions(temperature=2.0))
    assert trainer.divergence == JS03
    want = distillation_loss(student, teacher, batch, JS03, options=DistillOptions(temperature=2.0))
    assert torch.allclose(trainer.compute_loss(student, batch), want, rtol=1e-12)
    on = OnPolicyDistillationTrainer(model=student, teacher_model=teacher, args=args, divergence=JS03, lmbda=0.0)
    assert on.divergence == JS03
    for removed, new in ((dict(divergence_params={"beta": 0.5}), "dv.spec"), (dict(beta=0.5), "dv.spec"),
                         (dict(temperature=2.0), "options=DistillOptions"),
                         (dict(hard_weight=0.5), "options=DistillOptions"),
                         (dict(max_new_tokens=8), "generation=GenerationOptions"),
                         (dict(generation_kwargs={}), "generation=GenerationOptions")):
        for cls in (DistillationTrainer, OnPolicyDistillationTrainer):
            with pytest.raises(TypeError, match=new):
                cls(model=student, teacher_model=teacher, args=args, divergence="js", **removed)
    with pytest.raises(ValueError, match="not an f-divergence"):
        OnPolicyDistillationTrainer(model=student, teacher_model=teacher, args=args, objective="reward",
                                    divergence=dv.spec("renyi", alpha=2.0))
    with pytest.raises(ValueError, match="options: DistillationTrainer does not use"):
        DistillationTrainer(model=student, teacher_model=teacher, args=args, options=DistillOptions(reduction="sum"))
    with pytest.raises(ValueError, match="generation must be a GenerationOptions"):
        DistillationTrainer(model=student, teacher_model=teacher, args=args, generation={"max_new_tokens": 4})


def test_options_fields_the_loss_does_not_read_are_refused(hfh):
    student = hfh.tiny_llama(V, seed=0)
    batch = _batch(hfh)
    for field in (dict(reduction="sum"), dict(softcap=30.0), dict(vocab_size=V)):
        with pytest.raises(ValueError, match="does not use"):
            distillation_loss(student, torch.randn(2, 6, V), batch, options=DistillOptions(**field))
    with pytest.raises(ValueError, match="options must be"):
        distillation_loss(student, torch.randn(2, 6, V), batch, options={"temperature": 2.0})  # type: ignore[arg-type]


def test_the_gkd_beta_is_the_js_spec():
    assert gkd_divergence(0.3) == JS03
    assert gkd_divergence(0) == dv.spec("kl") and gkd_divergence(1.0) == dv.spec("reverse_kl")
    for bad in (-0.1, 1.5, math.nan, True, "0.5"):
        with pytest.raises(ValueError, match="beta"):
            gkd_divergence(bad)  # type: ignore[arg-type]
    s, t = torch.randn(3, 7, dtype=torch.float64), torch.randn(3, 7, dtype=torch.float64)
    assert torch.allclose(generalized_jsd_loss(s, t, beta=0.3), divergence_loss(s, t, dv.spec(JS03.name, **JS03.params), options=DistillOptions(reduction="batchmean")), rtol=1e-12)


def test_sampled_forms_take_the_spec():
    g = torch.Generator().manual_seed(0)
    ref = -torch.rand(3, 4, generator=g, dtype=torch.float64) * 3
    pol = -torch.rand(3, 4, generator=g, dtype=torch.float64) * 3
    mask = torch.ones(3, 4)
    _, values = dph_regulariser(ref, pol, mask, JS03)
    assert torch.allclose(values, sampled_divergence(ref, pol, dv.spec("js", beta=0.3)))
    assert DPHConfig(divergence=JS03).divergence == JS03
    with pytest.raises(ValueError, match="DPHConfig.divergence.*not an f-divergence"):
        DPHConfig(divergence="cross_entropy")


def test_monitor_reads_the_spec():
    scores = torch.randn(2, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    steered = scores.clone()
    steered[:, 0] += 2.0
    mon = DivergenceMonitor(lambda i, s: steered, divergence=JS03)
    mon(torch.zeros(2, 3, dtype=torch.long), scores)
    want = dv.js(torch.softmax(scores, -1), torch.softmax(steered, -1), beta=0.3)
    torch.testing.assert_close(mon.steps[:, 0], want)


@pytest.mark.parametrize("record", [r for r in records() if r.inputs != "distributions"], ids=lambda r: r.name)
def test_divergences_over_other_inputs_are_refused_by_their_record(record, hfh):
    """Ordered categories (a vocabulary has no order) everywhere; raw vectors where distributions are compared."""
    batch = _batch(hfh)
    student = hfh.tiny_llama(V, seed=0)
    s, t = torch.randn(2, V), torch.randn(2, V)
    same = VocabularyMap(torch.arange(V), torch.arange(V), V, V)
    with pytest.raises(ValueError, match=record.name):
        vocabulary_divergence(s, t, same, record.name)
    with pytest.raises(ValueError, match=record.name):
        span_divergence(-torch.rand(3), -torch.rand(3), record.name)
    with pytest.raises(ValueError, match=record.name):
        DivergenceMonitor(lambda i, x: x, divergence=record.name)
    with pytest.raises(ValueError, match=record.name):
        dph_regulariser(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1, 2), record.name)
    if record.inputs == "ordered":
        with pytest.raises(ValueError, match="no order"):
            distillation_loss(student, torch.randn(2, 6, V), batch, record.name)


def test_a_torch_row_divergence_reaches_the_token_losses_only():
    """balanced_kl (a torch row divergence) is computed by the losses on distributions; the exact verbs and the
    sampled estimators cannot compute it, and say so."""
    from divergences.torch import balanced_kl

    bkd = balanced_kl(sharpness=1.5)
    s, t = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    same = VocabularyMap(torch.arange(6), torch.arange(6), 6, 6)
    assert torch.allclose(vocabulary_divergence(s, t, same, bkd), divergence_loss(s, t, bkd), rtol=1e-12)
    with pytest.raises(ValueError, match="torch row divergence"):
        DivergenceMonitor(lambda i, x: x, divergence=bkd)
    with pytest.raises(ValueError, match="torch row divergence"):
        DPHConfig(divergence=bkd)


def test_bad_divergence_arguments_are_named(hfh):
    student = hfh.tiny_llama(V, seed=0)
    batch = _batch(hfh)
    with pytest.raises(ValueError, match="divergence must be"):
        distillation_loss(student, torch.randn(2, 6, V), batch, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="divergences.torch.mixture"):
        distillation_loss(student, torch.randn(2, 6, V), batch, {"kl": 0.5, "reverse_kl": 0.5})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown divergence"):
        distillation_loss(student, torch.randn(2, 6, V), batch, "no_such")


def test_generation_options_are_checked():
    assert GenerationOptions().max_new_tokens == 32
    for bad in (dict(max_new_tokens=0), dict(max_new_tokens=True), dict(temperature=0.0), dict(temperature=math.inf),
                dict(do_sample=1), dict(generation_kwargs=[("top_k", 5)])):
        with pytest.raises(ValueError, match=next(iter(bad))):
            GenerationOptions(**bad)  # type: ignore[arg-type]
