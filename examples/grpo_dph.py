"""DPH-RL inside TRL's ``GRPOTrainer``: a mass-covering f-divergence toward the reference, from reference samples.

A tiny Llama (tokenizer trained on ``tests/data/hf_corpus.txt``) is trained by GRPO with a toy verifiable
reward (the share of the letter "e" in the completion), once without a regulariser and once with DPH-RL's
Jensen–Shannon regulariser D_JS(π_ref‖π_θ) estimated on completions drawn once from the initial policy
(``reference_pool``; no reference model runs during training). The script prints the reward and the
regulariser (forward direction, measured on the same reference samples for both runs) at the end.

Run: ``python examples/grpo_dph.py --steps 30``
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import torch
from datasets import Dataset
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
from trl import GRPOConfig

import divergences as dv
from divergences.hf import DPHConfig, DPHGRPOTrainer, completion_logprobs, dph_regulariser, reference_pool

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "hf_corpus.txt"


def tokenizer(lines: list[str]) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<unk>", "<eos>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def llama(seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                        pad_token_id=0, eos_token_id=2))


def reward(completions: list[str], **kwargs) -> list[float]:
    """Verifiable toy reward: the share of the letter "e" in the completion."""
    return [c.count("e") / max(len(c), 1) for c in completions]


def run(coef: float, steps: int, tok, prompts: list[str], pool) -> dict[str, float]:
    model = llama(seed=0)
    with tempfile.TemporaryDirectory() as work, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = GRPOConfig(output_dir=work, per_device_train_batch_size=8, num_generations=4, max_completion_length=8,
                          max_steps=steps, learning_rate=2e-2, beta=0.0, report_to=[], use_cpu=True, bf16=False,
                          logging_steps=1, save_strategy="no", disable_tqdm=True, seed=0,
                          activation_checkpointing=False)
        trainer = DPHGRPOTrainer(model=model, reward_funcs=reward, args=args, processing_class=tok,
                                 train_dataset=Dataset.from_dict({"prompt": prompts}),
                                 dph=DPHConfig(dv.spec("js", beta=0.5), coef=coef), reference_pool=pool)
        trainer.train()
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    with torch.no_grad():
        lq = completion_logprobs(model, pool.prompt_ids, pool.prompt_mask, pool.completion_ids, pool.completion_mask)
        js, _ = dph_regulariser(pool.ref_logps, lq, pool.completion_mask, dv.spec("js", beta=0.5))
    return {"reward (last 5 steps)": sum(rewards[-5:]) / 5, "JS(π_ref‖π_θ) on the pool": float(js)}


def main(steps: int = 30) -> dict[str, dict[str, float]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread avoids waiting for busy cores
    try:
        lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
        tok = tokenizer(lines)
        prompts = [" ".join(line.split()[:3]) for line in lines[:8]]
        pool = reference_pool(llama(seed=0), tok, prompts, samples_per_prompt=8, max_new_tokens=8)
        results = {"GRPO": run(0.0, steps, tok, prompts, pool),
                   "GRPO + DPH-RL (JS, 0.2)": run(0.2, steps, tok, prompts, pool)}
    finally:
        torch.set_num_threads(threads)
    for name, r in results.items():
        print(f"{name:>24}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    main(parser.parse_args().steps)
