"""Hostile served responses and ragged top-k teachers.

* Random mutations of valid chat / completions / vLLM prompt_logprobs responses give a ValueError naming where
  the response is malformed, or a ServedTopK that is a valid top-k teacher (log-probabilities ≤ 0, mass ≤ 1,
  distinct in-vocabulary indices, arrays of one length).
* The ragged top-k path of distillation_loss (rows with -inf slots) refuses exactly what the dense top-k path
  refuses (NaN, +inf and positive log-probabilities, mass above 1, duplicate or out-of-vocabulary indices), with
  the same message."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import divergences as dv  # noqa: E402
from divergences.hf import ServedTopK, TopKTeacher, distillation_loss, parse_logprobs, served_teacher  # noqa: E402
from divergences.hf._topk import topk_sum  # noqa: E402
from divergences.torch import DistillOptions, topk_divergence_loss  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
from _mutations import mutated  # noqa: E402

VOCAB = {"a": 0, "b": 1, "c": 2, "d": 3, "A": 0}
L = [math.log(p) for p in (0.5, 0.2, 0.1, 0.05)]

CHAT = {"id": "x", "choices": [{"index": 0, "logprobs": {"content": [
    {"token": "a", "logprob": L[0], "bytes": [97],
     "top_logprobs": [{"token": "a", "logprob": L[0], "bytes": [97]}, {"token": "b", "logprob": L[1], "bytes": [98]},
                      {"token": "zz", "logprob": L[2], "bytes": [122, 122]}]},
    {"token": "c", "logprob": L[3], "bytes": [99],
     "top_logprobs": [{"token": "d", "logprob": L[0], "bytes": [100]}, {"token": "A", "logprob": L[2], "bytes": [65]},
                      {"token": "a", "logprob": L[2], "bytes": [97]}]},
]}}]}
COMPLETIONS = {"choices": [{"text": "", "logprobs": {
    "tokens": ["a", "c"], "token_logprobs": [L[0], L[3]],
    "top_logprobs": [{"a": L[0], "b": L[1], "zz": L[2]}, {"d": L[0], "A": L[2], "a": L[2]}]}}]}
PROMPT = {"logprobs": None, "prompt_logprobs": [
    None, {"1": {"logprob": L[0], "rank": 1, "decoded_token": "b"}, "3": {"logprob": L[1], "rank": 2}},
    {"0": {"logprob": L[2]}, "2": -1.5}]}
RESPONSES = [CHAT, COMPLETIONS, PROMPT]


def _valid(out: ServedTopK) -> None:
    t, k = out.logprobs.shape
    assert out.indices.shape == (t, k) and out.chosen.shape == (t,) and out.missing_mass.shape == (t,)
    lp = out.logprobs.double()
    assert not torch.isnan(lp).any() and (lp <= 0).all()
    mass = lp.exp().sum(-1) + out.missing_mass.double()
    assert (mass <= 1 + 2e-3).all(), mass
    assert all(len(set(row)) == k for row in out.indices.tolist())
    assert (out.indices >= 0).all() and (out.indices < 4).all()


@settings(max_examples=400)
@given(st.data())
def test_mutated_responses_are_refused_by_position_or_valid(data):
    response = data.draw(st.sampled_from(RESPONSES))
    changed, what = data.draw(mutated(response))
    try:
        out = parse_logprobs(changed, VOCAB, vocab_size=4)
    except ValueError as exc:
        message = str(exc)
        assert message.startswith(("response", "choice", "vocab", "k:")), (what, message)
    else:
        _valid(out)


@pytest.mark.parametrize("change, match", [
    (lambda r: r["choices"][0]["logprobs"]["content"][0]["top_logprobs"][1].pop("logprob"),
     r"^response: position 0: top_logprobs\[1\] has no 'logprob'"),
    (lambda r: r["choices"][0]["logprobs"]["content"][1]["top_logprobs"][0].update(bytes="d"),
     r"^response: position 1: top_logprobs\[0\].bytes must be a list of byte values"),
    (lambda r: r["choices"][0]["logprobs"]["content"][1].update(bytes=[300]),
     r"^response: position 1: bytes must be a list of byte values"),
    (lambda r: r["choices"][0]["logprobs"]["content"].__setitem__(1, "c"),
     r"^response: position 1: the entry must be an object, got str"),
    (lambda r: r["choices"][0]["logprobs"]["content"][0]["top_logprobs"].__setitem__(0, ["a", -0.1]),
     r"^response: position 0: top_logprobs\[0\] must be an object, got list"),
    (lambda r: r.update(choices={"0": r["choices"][0]}), r"^response: 'choices' must be a list of objects, got dict"),
    (lambda r: r.update(choices=[7]), r"^response: choices\[0\] must be an object, got int"),
    (lambda r: r["choices"][0]["logprobs"].update(content="abc"), r"^response: logprobs.content must be a list"),
    (lambda r: r["choices"][0]["logprobs"]["content"][0]["top_logprobs"][1].update(logprob=True),
     r"^response: position 0 has a non-numeric logprob True"),
    (lambda r: r["choices"][0]["logprobs"]["content"][0]["top_logprobs"].append(
        {"token": "b", "logprob": L[1], "bytes": [98]}), r"^response: position 0 lists token 'b' twice"),
    (lambda r: r["choices"][0]["logprobs"]["content"][0]["top_logprobs"].append(
        {"token": "c", "logprob": math.log(0.3), "bytes": [99]}), r"^response: position 0: the listed probabilities"),
])
def test_each_chat_defect_names_its_position(change, match):
    import copy

    response = copy.deepcopy(CHAT)
    change(response)
    with pytest.raises(ValueError, match=match):
        parse_logprobs(response, VOCAB, vocab_size=4)


def test_completion_arrays_of_unequal_length_are_refused():
    import copy

    for name in ("tokens", "token_logprobs"):
        response = copy.deepcopy(COMPLETIONS)
        response["choices"][0]["logprobs"][name].append(response["choices"][0]["logprobs"][name][0])
        with pytest.raises(ValueError, match=rf"^response: logprobs.{name} has 3 entries but logprobs.top_logprobs "
                                             r"has 2"):
            parse_logprobs(response, VOCAB, vocab_size=4)
    response = copy.deepcopy(COMPLETIONS)
    response["choices"][0]["logprobs"]["top_logprobs"].append(None)  # one position more than the tokens
    with pytest.raises(ValueError, match=r"logprobs.tokens has 2 entries but logprobs.top_logprobs has 3"):
        parse_logprobs(response, VOCAB, vocab_size=4)


def test_a_key_listed_twice_in_the_json_text_is_refused():
    text = '{"choices": [{"logprobs": {"top_logprobs": [{"a": -0.1, "a": -0.1}]}}]}'
    with pytest.raises(ValueError, match=r"^response: not a JSON logprobs response \(an object holds the key 'a' twice"):
        parse_logprobs(text, VOCAB, vocab_size=4)
    with pytest.raises(ValueError, match=r"^response: position 1: prompt_logprobs\['3'\] has no 'logprob'"):
        parse_logprobs({"logprobs": None, "prompt_logprobs": [None, {"3": {"rank": 1}}]}, VOCAB, vocab_size=4)
    with pytest.raises(ValueError, match=r"^response: position 0: prompt_logprobs key 'x' is not a token id"):
        parse_logprobs([{"x": -0.1}], VOCAB, vocab_size=4)


def test_different_tokens_on_one_student_id_still_merge():
    out = parse_logprobs(COMPLETIONS, VOCAB, vocab_size=4)
    assert out.merged == 1  # "A" and "a" are student id 0
    assert float(out.logprobs[1].double().exp().sum()) == pytest.approx(0.5 + 0.1 + 0.1 + 0.05)  # the sampled "c" appended


def test_served_topk_arrays_must_agree():
    lp = torch.full((3, 2), -1.0)
    with pytest.raises(ValueError, match=r"indices must be an integer tensor of the shape \(3, 2\)"):
        ServedTopK(lp, torch.zeros(3, 1, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"chosen must have shape \(3,\)"):
        ServedTopK(lp, torch.zeros(3, 2, dtype=torch.long), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"items\[0\] must be a ServedTopK"):
        served_teacher([lp], 5, [1])


# ---- the ragged top-k path makes the dense path's checks ---------------------------------------------------

N, KK, VV = 5, 3, 7


def _teacher_rows(g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    logits = torch.randn(N, VV, generator=g, dtype=torch.float64)
    lp, ix = torch.log_softmax(logits, -1).topk(KK, -1)
    lp[1, 2] = -math.inf  # a ragged row: a position with fewer than k entries
    return lp, ix


DEFECTS = {
    "nan": lambda lp, ix, r, c: lp.__setitem__((r, c), math.nan),
    "+inf": lambda lp, ix, r, c: lp.__setitem__((r, c), math.inf),
    "positive": lambda lp, ix, r, c: lp.__setitem__((r, c), 0.25),
    "mass": lambda lp, ix, r, c: lp.__setitem__((r, slice(None)), math.log(0.6)),
    "duplicate": lambda lp, ix, r, c: ix.__setitem__((r, c), ix[r, (c + 1) % KK]),
    "outside": lambda lp, ix, r, c: ix.__setitem__((r, c), VV + c),
    "negative": lambda lp, ix, r, c: ix.__setitem__((r, c), -1),
    "none": lambda lp, ix, r, c: None,
}


@settings(max_examples=120)
@given(defect=st.sampled_from(sorted(DEFECTS)), row=st.integers(0, N - 1), col=st.integers(0, KK - 1),
       seed=st.integers(0, 2**16), divergence=st.sampled_from(["kl", "reverse_kl", "js"]))
def test_ragged_path_refuses_what_the_dense_path_refuses(defect, row, col, seed, divergence):
    g = torch.Generator().manual_seed(seed)
    lp, ix = _teacher_rows(g)
    DEFECTS[defect](lp, ix, row, col)
    z = torch.randn(N, VV, generator=g, dtype=torch.float64)
    labels = torch.zeros(N, dtype=torch.long)
    dense_error = ragged_error = None
    try:
        dense = topk_divergence_loss(z, lp, ix, divergence, options=DistillOptions(reduction="sum"))
    except ValueError as exc:
        dense_error = str(exc)
    try:
        ragged = topk_sum(z, None, None, lp, ix, labels, dv.spec(divergence), DistillOptions())
    except ValueError as exc:
        ragged_error = str(exc)
    assert ragged_error == dense_error, (defect, ragged_error, dense_error)
    if dense_error is None:  # (the dense path reads a -inf slot as a teacher probability 0: reverse KL is +inf)
        assert torch.isfinite(ragged) and not torch.isnan(dense)
    else:
        assert defect != "none"


def test_ragged_teacher_through_distillation_loss(hfh):
    student = hfh.tiny_gpt2(20, seed=0).double()
    batch = hfh.make_batch([[1, 2, 3, 4, 5], [6, 7, 8]])
    lp, ix = torch.log_softmax(torch.randn(2, 5, 20, dtype=torch.float64), -1).topk(3, -1)
    lp[0, 1, 2] = -math.inf
    assert torch.isfinite(distillation_loss(student, TopKTeacher(lp, ix), batch, "kl"))
    bad = lp.clone()
    bad[0, 2, 0] = math.inf  # was read as one more unused slot, silently
    with pytest.raises(ValueError, match=r"teacher_topk_logprobs must be log-probabilities"):
        distillation_loss(student, TopKTeacher(bad, ix), batch, "kl")
    bad = lp.clone()
    bad[0, 3, 1] = math.nan
    with pytest.raises(ValueError, match=r"teacher_topk_logprobs must be log-probabilities"):
        distillation_loss(student, TopKTeacher(bad, ix), batch, "kl")
    dup = ix.clone()
    dup[0, 1, 2] = dup[0, 1, 0]  # a filler id equal to a kept id would let the kept token's mass into the tail
    with pytest.raises(ValueError, match=r"teacher_topk_indices must be distinct"):
        distillation_loss(student, TopKTeacher(lp, dup), batch, "kl")
