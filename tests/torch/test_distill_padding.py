"""Left padding (issue 22): a real token predicted from a pad position is not a target.

With left padding the last pad of a row "predicts" the row's first real token; that target has no real
context and must be dropped, as the docs say masked positions are. Tiny Llama models (RoPE: a constant shift
of the positions leaves attention unchanged), float64: the left-padded batch gives the right-padded loss, and
both equal a reference that keeps exactly the targets whose position and predecessor are real tokens.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import divergences as dv  # noqa: E402
from divergences.hf import distillation_loss  # noqa: E402
from divergences.torch import DistillOptions  # noqa: E402

V, PAD = 40, 0


def _llama(seed: int):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(vocab_size=V, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32,
                                   pad_token_id=PAD, bos_token_id=1, eos_token_id=1)
    return transformers.LlamaForCausalLM(cfg).double().eval()


def _batch(seqs: list[list[int]], left: bool) -> dict:
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), PAD, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        sl = slice(n - len(s), n) if left else slice(0, len(s))
        ids[i, sl] = torch.tensor(s)
        mask[i, sl] = 1
    return {"input_ids": ids, "attention_mask": mask}


SEQS = [[5, 9, 11, 3, 7, 2], [4, 8, 30], [12, 13, 14, 15], [6, 6]]


def _reference(student, teacher, batch, divergence: str) -> torch.Tensor:
    """Mean over targets y[t+1] whose position t+1 and predecessor t are both real tokens."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        z = student(input_ids=ids, attention_mask=mask).logits[:, :-1]
        t = teacher(input_ids=ids, attention_mask=mask).logits[:, :-1]
    keep = (mask[:, 1:] == 1) & (mask[:, :-1] == 1)
    lp, lq = torch.log_softmax(t[keep], -1), torch.log_softmax(z[keep], -1)
    if divergence == "kl":
        per = (lp.exp() * (lp - lq)).sum(-1)
    else:
        per = (lq.exp() * (lq - lp)).sum(-1)
    assert int(keep.sum()) == sum(len(s) - 1 for s in SEQS)
    return per.mean()


@pytest.mark.slow
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("divergence", ["kl", "reverse_kl"])
def test_left_padding_counts_the_same_targets_as_right_padding(fused, divergence):
    student, teacher = _llama(0), _llama(1)
    right, left = _batch(SEQS, left=False), _batch(SEQS, left=True)
    got_right = distillation_loss(student, teacher, right, divergence, fused=fused)
    got_left = distillation_loss(student, teacher, left, divergence, fused=fused)
    torch.testing.assert_close(got_left, got_right, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got_left, _reference(student, teacher, left, divergence), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got_right, _reference(student, teacher, right, divergence), rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_left_padding_with_explicit_labels_and_a_hard_term():
    student, teacher = _llama(2), _llama(3)
    right, left = _batch(SEQS, left=False), _batch(SEQS, left=True)
    for b in (right, left):
        b["labels"] = b["input_ids"].masked_fill(b["attention_mask"] == 0, -100)
    js, opts = dv.spec("js", beta=0.4), DistillOptions(hard_weight=0.5)
    a = distillation_loss(student, teacher, right, js, options=opts)
    b = distillation_loss(student, teacher, left, js, options=opts)
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
