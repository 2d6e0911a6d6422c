"""Tiny language models and a tokenizer trained on tests/data/llm_corpus.txt (no downloads)."""

from __future__ import annotations

import functools
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "data" / "llm_corpus.txt"


def corpus_lines() -> list[str]:
    return [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


@functools.lru_cache(maxsize=1)
def tokenizer():
    """A byte-level BPE tokenizer (vocabulary 300) wrapped as a transformers fast tokenizer, left padding."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<eos>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train([str(CORPUS)], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    fast.padding_side = "left"
    return fast


def llama(seed: int = 0, vocab_size: int | None = None):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size or len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None)
    return LlamaForCausalLM(cfg).eval()


def gpt2(seed: int = 0, vocab_size: int | None = None):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = tokenizer()
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=vocab_size or len(tok), n_embd=32, n_layer=2, n_head=4, n_positions=128,
                     pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None)
    return GPT2LMHeadModel(cfg).eval()


def batch(texts: list[str]):
    enc = tokenizer()(texts, return_tensors="pt", padding=True)
    return enc["input_ids"], enc["attention_mask"]
