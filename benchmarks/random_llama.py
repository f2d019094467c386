"""Llama-shaped causal LMs with random weights and a tokenizer trained on the bundled corpus (nothing downloaded).

Tests build the ``tiny`` size on CPU in seconds; the GPU benchmark builds ``1b`` or ``8b`` on the GPU. The
answers are meaningless, but the shapes, and so the time and memory a real model of that size needs, are not.
"""

from __future__ import annotations

import json
from pathlib import Path

# Llama 3.2 1B and Llama 3 8B shapes, with a 32k vocabulary; "tiny" is for tests.
SIZES = {
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "vocab_size": None},
    "1b": {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
           "num_key_value_heads": 8, "vocab_size": 32000},
    "8b": {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
           "num_key_value_heads": 8, "vocab_size": 32000},
}
SPECIAL_TOKENS = ["<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def corpus_texts(corpus_dir: Path | None = None) -> list[str]:
    """Titles and contents of the bundled clinical_mini passages (or any MedRAG JSONL folder)."""
    from ragpoison.corpora import bundled

    folder = corpus_dir or bundled()["corpus"]
    texts = []
    for file in sorted(Path(folder).glob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                texts.append(f"{record.get('title', '')}. {record.get('content', '')}")
    return texts


def train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer trained on ``texts``, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   additional_special_tokens=SPECIAL_TOKENS[3:])


def build_random_llama(out_dir: Path, size: str = "tiny", *, chat_template: bool = True, seed: int = 0,
                       device: str = "cpu", dtype: str = "float32", max_position_embeddings: int = 8192) -> Path:
    """Write a Llama-shaped model with random weights and a corpus-trained tokenizer into ``out_dir``.

    The tiny size gets a 1k-token vocabulary; the others as many tokens as the corpus yields up to 32k (about
    9.8k on clinical_mini, 1.2 tokens per word, close to what real Llama tokenizers give on this text).
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    tokenizer = train_tokenizer(corpus_texts(), 1024 if size == "tiny" else 32000)
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    shape = dict(SIZES[size])
    shape["vocab_size"] = max(shape["vocab_size"] or 0, len(tokenizer))
    config = LlamaConfig(**shape, max_position_embeddings=max_position_embeddings, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         tie_word_embeddings=False, dtype=dtype)
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
