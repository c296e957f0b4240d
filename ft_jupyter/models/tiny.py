"""`tiny-random`: a ~1 M-parameter Llama with a locally trained byte-level BPE tokenizer, built in seconds.

It exists so tests and instant demos exercise the real training stack (same classes, chat template, masking) without
downloading anything. Two details make it usable: the tokenizer is saved as a plain `tokenizers` backend so
`AutoTokenizer` reloads it unchanged, and weights start with a wider init (0.1) because LoRA on a model initialised at
the usual 0.02 barely moves its loss.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from ft_jupyter.models.cache import cache_home

VERSION = 1  # bump when the recipe changes so stale caches are rebuilt
FOLDER_NAME = f"tiny-random-v{VERSION}"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
VOCAB_SIZE = 1024

# ChatML with {% generation %} markers so TRL can compute the loss on assistant turns only. The end-of-turn token is
# inside the markers: the model must learn to stop.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def ensure_tiny_random() -> Path:
    target = cache_home() / "models" / FOLDER_NAME
    if (target / "config.json").is_file() and (target / "tokenizer.json").is_file():
        return target
    tmp = target.with_name(target.name + f".tmp-{int(time.time() * 1000)}")
    try:
        build_tiny_random(tmp)
        if not target.exists():
            tmp.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _training_corpus() -> list[str]:
    """Text the tokenizer learns its merges from: the bundled data plus chat scaffolding."""
    from ft_jupyter.data.bundled import bundled_texts

    texts = bundled_texts()
    texts += ["Classify the customer email into one of: complaint, question, feedback, billing, bug_report."] * 20
    return texts


def build_tiny_random(out: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(_training_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(str(out))

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        initializer_range=0.1,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(out))
    (out / "ft_jupyter.json").write_text(json.dumps({"recipe": "tiny-random", "version": VERSION}), encoding="utf-8")
    return out
