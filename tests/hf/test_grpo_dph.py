"""DPH-RL inside TRL's GRPOTrainer: the regulariser against sampled_divergence and exact divergences by
enumeration, a tiny-model run with a toy verifiable reward that trains, and the logged regulariser equal to
sampled_divergence recomputed (from direct forward passes) on the same samples."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("datasets")

import divergences as dv  # noqa: E402
from divergences.hf import DPHConfig, DPHGRPOTrainer, dph_regulariser, reference_pool  # noqa: E402
from divergences.torch import sampled_divergence  # noqa: E402

V = 300


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_regulariser_values_are_the_generator_estimates():
    g = torch.Generator().manual_seed(0)
    ref = -torch.rand(3, 5, generator=g, dtype=torch.float64) * 3
    pol = -torch.rand(3, 5, generator=g, dtype=torch.float64) * 3
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    mean, values = dph_regulariser(ref, pol, mask, "kl")
    r = torch.exp(ref - pol)  # p/q; samples from p: log r + 1/r − 1 (KL with its control variate)
    direct = torch.log(r) + 1 / r - 1
    keep = mask.bool()
    assert torch.allclose(values[keep], direct[keep]) and torch.all(values[~keep] == 0)
    assert torch.isclose(mean, direct[keep].mean())
    seq_mean, seq = dph_regulariser(ref, pol, mask, dv.spec("js", beta=0.5), level="sequence")
    zero = torch.zeros_like(ref)
    expected = sampled_divergence(torch.where(keep, ref, zero).sum(-1), torch.where(keep, pol, zero).sum(-1), dv.spec("js", beta=0.5))
    assert torch.allclose(seq, expected) and torch.isclose(seq_mean, expected.mean())
    with pytest.raises(ValueError, match="level"):
        dph_regulariser(ref, pol, mask, level="batch")
    with pytest.raises(ValueError, match="shape"):
        dph_regulariser(ref, pol[:2], mask)
    with pytest.raises(ValueError, match="not an f-divergence"):
        dph_regulariser(ref, pol, mask, dv.spec("renyi", alpha=0.5))


@pytest.mark.parametrize("divergence,exact", [
    ("kl", lambda p, q: dv.kl(p, q)),
    (dv.spec("js", beta=0.5), lambda p, q: dv.js(p, q)),
    (dv.spec("alpha", alpha=0.3), lambda p, q: dv.alpha(p, q, alpha=0.3)),
])
@pytest.mark.parametrize("samples_from", ["p", "q"])
def test_expectation_over_the_sampling_side_is_the_exact_divergence(divergence, exact, samples_from):
    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
    ref = torch.tensor(np.log(p))[:, None]  # seven one-token completions, one per outcome
    pol = torch.tensor(np.log(q))[:, None]
    _, values = dph_regulariser(ref, pol, torch.ones(7, 1), divergence, samples_from=samples_from)
    weights = p if samples_from == "p" else q
    assert float(weights @ values[:, 0].numpy()) == pytest.approx(float(exact(p, q)), rel=1e-10)


def test_config_is_checked():
    with pytest.raises(ValueError, match="samples"):
        DPHConfig(samples="both")
    with pytest.raises(ValueError, match="level"):
        DPHConfig(level="batch")
    with pytest.raises(ValueError, match="coef"):
        DPHConfig(coef=math.nan)
    with pytest.raises(ValueError, match="batch_size"):
        DPHConfig(batch_size=0)
    with pytest.raises(ValueError, match="divergence"):
        DPHConfig("nope")


def _fast(tokenizer):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="<s>", unk_token="<unk>")


def _reward(completions, **kwargs):
    """A verifiable toy reward: the share of the letter 'e' in the completion."""
    return [c.count("e") / max(len(c), 1) for c in completions]


def _trainer(hfh, tokenizer, tmp_path, dph, *, lr, steps, pool=None, reference_model=None):
    from datasets import Dataset
    from trl import GRPOConfig

    tok = _fast(tokenizer)
    prompts = [" ".join(line.split()[:3]) for line in hfh.corpus_lines()[:8]]
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, num_generations=4,
                      max_completion_length=8, max_steps=steps, learning_rate=lr, report_to=[], use_cpu=True,
                      bf16=False, logging_steps=1, save_strategy="no", beta=0.0, disable_tqdm=True, seed=0,
                      activation_checkpointing=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DPHGRPOTrainer(model=hfh.tiny_llama(V, seed=0), reward_funcs=_reward, args=args,
                              train_dataset=Dataset.from_dict({"prompt": prompts}), processing_class=tok, dph=dph,
                              reference_pool=pool, reference_model=reference_model), prompts, tok


def _direct_logps(model, prompt_ids, prompt_mask, completion_ids, completion_mask):
    """log π of each completion token from one plain forward pass (written here, not the module's helper)."""
    with torch.no_grad():
        ids = torch.cat([prompt_ids, completion_ids], 1)
        logits = model(input_ids=ids, attention_mask=torch.cat([prompt_mask, completion_mask], 1)).logits.double()
    c = completion_ids.shape[1]
    lp = torch.log_softmax(logits[:, -c - 1:-1], -1).gather(-1, completion_ids[..., None]).squeeze(-1)
    return lp, completion_mask.bool()


def _logged(trainer):
    return [h["dph/regulariser"] for h in trainer.state.log_history if "dph/regulariser" in h]


@pytest.mark.slow
def test_grpo_with_dph_from_reference_samples_trains(hfh, tokenizer, tmp_path, one_thread):
    prompts = [" ".join(line.split()[:3]) for line in hfh.corpus_lines()[:8]]
    pool = reference_pool(hfh.tiny_llama(V, seed=0), _fast(tokenizer), prompts, samples_per_prompt=4, max_new_tokens=8)
    trainer, _, _ = _trainer(hfh, tokenizer, tmp_path, DPHConfig(dv.spec("js", beta=0.5), coef=0.1), lr=2e-2, steps=30,
                             pool=pool)
    trainer.train()
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    assert len(rewards) == 30
    assert np.mean(rewards[-5:]) > 2 * np.mean(rewards[:5])  # measured: 0.027 → 0.33
    reg = _logged(trainer)
    assert len(reg) == 30 and reg[0] < 1e-10 < reg[-1]  # 0 at the start (π_θ = π_ref), then it grows


@pytest.mark.parametrize("samples", ["reference", "policy"])
def test_logged_regulariser_equals_sampled_divergence_on_the_same_samples(hfh, tokenizer, tmp_path, one_thread,
                                                                          samples):
    """learning_rate = 0 keeps π_θ fixed, so every logged value can be recomputed from direct forward passes."""
    reference = hfh.tiny_llama(V, seed=5)  # a reference that differs from the policy (seed 0)
    prompts = [" ".join(line.split()[:3]) for line in hfh.corpus_lines()[:8]]
    pool = reference_pool(reference, _fast(tokenizer), prompts, samples_per_prompt=2, max_new_tokens=8)
    dph = DPHConfig("kl", coef=0.1, samples=samples, batch_size=6)
    trainer, _, _ = _trainer(hfh, tokenizer, tmp_path, dph, lr=0.0, steps=3, pool=pool, reference_model=reference)
    trainer.train()
    policy = hfh.tiny_llama(V, seed=0)
    logged = _logged(trainer)
    assert len(logged) == len(trainer.dph_history) == 3
    for record, value in zip(trainer.dph_history, logged):
        if samples == "reference":
            i = record["indices"]
            lq, keep = _direct_logps(policy, pool.prompt_ids[i], pool.prompt_mask[i], pool.completion_ids[i],
                                     pool.completion_mask[i])
            lp = pool.ref_logps[i].double()
            side = "p"
        else:
            args = (record["prompt_ids"], record["prompt_mask"], record["completion_ids"], record["completion_mask"])
            lq, keep = _direct_logps(policy, *args)
            lp, _ = _direct_logps(reference, *args)
            assert torch.allclose(record["ref_logps"].double()[keep], lp[keep], atol=1e-5)
            side = "q"
        expected = sampled_divergence(lp[keep], lq[keep], "kl", samples_from=side).mean()
        assert value == pytest.approx(float(expected), rel=1e-4)
        assert value > 1e-3


def test_trainer_arguments_are_checked(hfh, tokenizer, tmp_path):
    with pytest.raises(ValueError, match="reference_pool"):
        _trainer(hfh, tokenizer, tmp_path, DPHConfig(), lr=0.0, steps=1)
    with pytest.raises(ValueError, match="DPHConfig"):
        _trainer(hfh, tokenizer, tmp_path, {"coef": 0.1}, lr=0.0, steps=1)
