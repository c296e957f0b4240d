import pytest

pytest.importorskip("trl")

from ft_jupyter.config import ConfigError  # noqa: E402
from ft_jupyter.data.templates import has_generation_markers, training_template  # noqa: E402

# SmolLM2-Instruct's template as shipped: ChatML, a default system prompt, no generation markers.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CONVERSATION = [
    {"role": "user", "content": "Where is my parcel?"},
    {"role": "assistant", "content": "question"},
    {"role": "user", "content": "And the refund?"},
    {"role": "assistant", "content": "billing"},
]


@pytest.fixture()
def tokenizer(tmp_path):
    from transformers import AutoTokenizer

    from ft_jupyter.models.tiny import build_tiny_random

    tok = AutoTokenizer.from_pretrained(str(build_tiny_random(tmp_path / "tiny")))
    tok.chat_template = SMOLLM2_TEMPLATE
    return tok


def test_chatml_without_markers_is_patched_and_renders_identically(tokenizer):
    result = training_template(tokenizer)
    assert result.changed and has_generation_markers(result.template)
    for gen, messages in ((False, CONVERSATION), (True, CONVERSATION[:-1])):
        assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen,
                                             chat_template=result.template) == \
            tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)


def test_only_assistant_turns_carry_loss_in_a_multi_turn_conversation(tokenizer):
    template = training_template(tokenizer).template
    out = tokenizer.apply_chat_template(CONVERSATION, chat_template=template, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    marked = [i for i, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tokenizer.decode(marked) == "question<|im_end|>billing<|im_end|>"


def test_unknown_template_is_refused_with_a_way_out(tokenizer):
    tokenizer.chat_template = "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    with pytest.raises(ConfigError, match="assistant_only_loss: false"):
        training_template(tokenizer)


def test_missing_template_is_refused(tokenizer):
    tokenizer.chat_template = None
    with pytest.raises(ConfigError, match="no chat template"):
        training_template(tokenizer)
