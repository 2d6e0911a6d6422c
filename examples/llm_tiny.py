"""Shared by the decoding / analysis examples: a tokenizer trained on the Zen of Python (the text of
Python's own ``this`` module, shipped with every Python) and tiny randomly initialised models.
Nothing is downloaded."""

from __future__ import annotations

import codecs
import contextlib
import io


def zen_lines() -> list[str]:
    with contextlib.redirect_stdout(io.StringIO()):  # `import this` prints the poem
        import this
    return [line for line in codecs.decode(this.s, "rot13").splitlines() if line.strip()]


def tokenizer(vocab_size: int = 200):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()  # words keep their leading space as "▁": readable output
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<eos>", "<unk>"],
                                  show_progress=False)
    tok.train_from_iterator(zen_lines(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    fast.padding_side = "left"
    return fast


def llama(vocab_size: int, seed: int = 0, init: float = 0.2):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      initializer_range=init, pad_token_id=0, eos_token_id=1, bos_token_id=None)
    return LlamaForCausalLM(cfg).eval()
