"""Logits processors under beam search (num_beams=3) and num_return_sequences=2 on tiny models: every step is
recorded and steered with the state of the row's own beam (the lame prompt's and the reference model's KV caches
follow the beams), checked against full forwards of each row's own history."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
import _tiny_lm as tiny  # noqa: E402

from divergences.hf.processors import (  # noqa: E402
    DivergenceMonitor,
    NGramPriorLogitsProcessor,
    USCDLogitsProcessor,
    uscd_generate,
)
from divergences.llm import NGramPrior  # noqa: E402

PROMPTS = ["def add(a, b):", "The model predicts the next token from"]
LAME = ["def", "The model"]
STEPS = 8

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tok():
    return tiny.tokenizer()


@pytest.fixture(scope="module")
def model():
    m = tiny.llama(seed=0)
    # no end of sequence: every beam runs STEPS steps (min_new_tokens would put -inf on eos in the scores)
    m.generation_config.eos_token_id = None
    return m


@pytest.fixture(scope="module")
def other():
    return tiny.gpt2(seed=1)


def _unpadded(row, mask_row):
    return row[mask_row.bool()].tolist()


def _next_logp(model, ids):
    with torch.no_grad():
        return torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0, -1].double(), -1)


class Recorder:
    """Calls ``inner`` and keeps (input_ids, scores in, scores out) of every step."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __call__(self, input_ids, scores):
        out = self.inner(input_ids, scores)
        self.calls.append((input_ids.clone(), scores.clone(), out.clone()))
        return out


def _generate(model, tok, processors, **kw):
    ids, mask = tiny.batch(PROMPTS)
    out = model.generate(input_ids=ids, attention_mask=mask, pad_token_id=tok.pad_token_id, max_new_tokens=STEPS,
                         logits_processor=processors, return_dict_in_generate=True, **kw)
    return ids, mask, out


def _reordered(calls) -> bool:
    """Whether generate reordered the rows at some step (a beam took another beam's history)."""
    return any(not torch.equal(b[0][:, :a[0].shape[1]], a[0]) for a, b in zip(calls, calls[1:]))


@pytest.mark.parametrize("kw", [dict(num_beams=3, num_return_sequences=2, do_sample=False),
                                dict(num_return_sequences=2, do_sample=True)])
def test_monitor_follows_the_beams(model, other, tok, kw):
    mask = tiny.batch(PROMPTS)[1]
    mon = DivergenceMonitor(reference_model=other, reference_attention_mask=mask, divergence="kl")
    rec = Recorder(mon)
    torch.manual_seed(0)
    ids, mask, out = _generate(model, tok, [rec], **kw)
    rows = ids.shape[0] * kw.get("num_beams", kw["num_return_sequences"])
    if kw.get("num_beams"):
        assert _reordered(rec.calls)  # the test exercises a reorder
    # every step kept (the state used to reset at each reorder), one row per running beam
    assert mon.steps.shape == (rows, STEPS) and torch.isfinite(mon.steps).all()
    plen = ids.shape[1]
    group = rows // ids.shape[0]
    last = rec.calls[-1][0]
    for r in range(rows):
        prompt = _unpadded(ids[r // group], mask[r // group])
        for t in range(STEPS):
            ctx = prompt + last[r, plen:plen + t].tolist()
            p, q = _next_logp(other, ctx).exp(), _next_logp(model, ctx).exp()
            want = float((p * (p / q).log()).sum())
            assert mon.steps[r, t].item() == pytest.approx(want, rel=5e-4, abs=1e-6), (r, t)
    # the returned sequences (finished beams under beam search) read back along their own histories
    seq = mon.sequence_steps(out.sequences)
    assert seq.shape == (out.sequences.shape[0], STEPS)
    per_prompt = kw["num_return_sequences"]
    for i, s in enumerate(out.sequences):
        prompt = _unpadded(ids[i // per_prompt], mask[i // per_prompt])
        for t in range(STEPS):
            ctx = prompt + s[plen:plen + t].tolist()
            p, q = _next_logp(other, ctx).exp(), _next_logp(model, ctx).exp()
            assert seq[i, t].item() == pytest.approx(float((p * (p / q).log()).sum()), rel=5e-4, abs=1e-6), (i, t)


def test_uscd_lame_context_follows_the_beams(model, tok):
    lids, lmask = tiny.batch(LAME)
    ids, mask = tiny.batch(PROMPTS)
    w = 0.5
    proc = USCDLogitsProcessor(model, lids, lmask, weight=w, uncertainty_threshold=1.0, plausibility=0.0,
                               contrast="log")
    rec = Recorder(proc)
    out = model.generate(input_ids=ids, attention_mask=mask, pad_token_id=tok.pad_token_id, max_new_tokens=STEPS,
                         num_beams=3, num_return_sequences=2, do_sample=False,
                         logits_processor=[rec])
    assert _reordered(rec.calls)
    assert out.shape[0] == 4 and len(proc.uncertain) == STEPS and proc.uncertain_steps.shape == (6, STEPS)
    plen = ids.shape[1]
    for input_ids, scores, got in rec.calls:
        for r in range(input_ids.shape[0]):
            lame = _unpadded(lids[r // 3], lmask[r // 3]) + input_ids[r, plen:].tolist()
            want = torch.log_softmax(scores[r].double(), -1) - w * _next_logp(model, lame)
            torch.testing.assert_close(got[r].double(), want, atol=2e-5, rtol=1e-5)


def test_uscd_generate_accepts_beams(model, tok):
    lids, lmask = tiny.batch(LAME)
    ids, mask = tiny.batch(PROMPTS)
    out, proc = uscd_generate(model, ids, lids, attention_mask=mask, lame_attention_mask=lmask, num_beams=3,
                              max_new_tokens=4, pad_token_id=tok.pad_token_id,
                              uncertainty_threshold=1.0)
    assert out.shape == (2, ids.shape[1] + 4) and proc.uncertain_steps.shape == (6, 4)


def test_ngram_prior_follows_the_beams(model, tok):
    prior = NGramPrior.fit(tiny.corpus_lines(), vocab_size=len(tok), tokenizer=tok, order=3, k=0.5)
    proc = NGramPriorLogitsProcessor(prior, strength=0.8, pad_token_id=tok.pad_token_id)
    rec = Recorder(proc)
    ids, mask, _ = _generate(model, tok, [rec], num_beams=3, do_sample=False)
    assert _reordered(rec.calls)
    for input_ids, scores, got in rec.calls:
        for r in range(input_ids.shape[0]):
            row = input_ids[r]
            lead = int((row != tok.pad_token_id).nonzero()[0])
            want = scores[r].double() + 0.8 * prior.log_prob([row[lead:].tolist()])[0]
            torch.testing.assert_close(got[r].double(), want, atol=1e-5, rtol=1e-6)


def test_monitor_of_a_processor_under_beams_keeps_every_step(model, tok):
    prior = NGramPrior.fit(tiny.corpus_lines(), vocab_size=len(tok), tokenizer=tok, order=2)
    mon = DivergenceMonitor(NGramPriorLogitsProcessor(prior, strength=1.0, pad_token_id=tok.pad_token_id),
                            divergence="js")
    _generate(model, tok, [mon], num_beams=3, do_sample=False)
    assert mon.steps.shape == (6, STEPS) and torch.isfinite(mon.steps).all() and (mon.steps > 0).all()
    assert math.isfinite(float(mon.summary()["mean"].sum()))


def test_sequence_steps_of_unknown_sequences_are_nan(model, tok):
    prior = NGramPrior.fit(tiny.corpus_lines(), vocab_size=len(tok), tokenizer=tok, order=2)
    mon = DivergenceMonitor(NGramPriorLogitsProcessor(prior, strength=1.0), divergence="js")
    ids, _, out = _generate(model, tok, [mon], do_sample=False)
    assert torch.equal(mon.sequence_steps(out.sequences), mon.steps)
    stranger = out.sequences.clone()
    stranger[:, ids.shape[1] + 2] = (stranger[:, ids.shape[1] + 2] + 1) % len(tok)
    got = mon.sequence_steps(stranger)
    assert torch.equal(got[:, :3], mon.steps[:, :3]) and torch.isnan(got[:, 3:]).all()
    with pytest.raises(ValueError, match="sequences must be"):
        mon.sequence_steps(out.sequences[0])


def test_assisted_decoding_is_refused_not_recorded_wrong(model, tok):
    """Assisted (speculative) decoding shows processors candidate tokens, then goes back when it rejects them:
    the records and caches would hold rejected steps, so the processors refuse it."""
    prior = NGramPrior.fit(tiny.corpus_lines(), vocab_size=len(tok), tokenizer=tok, order=2)
    mon = DivergenceMonitor(NGramPriorLogitsProcessor(prior, strength=1.0), divergence="js")
    ids, mask = tiny.batch(PROMPTS[:1])
    with pytest.raises(ValueError, match=r"^DivergenceMonitor: generate repeated or went back to an earlier step"):
        model.generate(input_ids=ids, attention_mask=mask, assistant_model=tiny.llama(seed=5), max_new_tokens=12,
                       do_sample=False, pad_token_id=tok.pad_token_id, logits_processor=[mon])
    mon.reset()  # then an ordinary generation works again
    model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=3, do_sample=False,
                   pad_token_id=tok.pad_token_id, logits_processor=[mon])
    assert mon.steps.shape == (1, 3)
