"""Training chat templates: ChatML, Llama-3-style and Mistral [INST]-style fixtures get generation markers that
render identically; EOS must end every assistant turn inside the loss; unknown templates are refused."""

from pathlib import Path

import pytest

pytest.importorskip("trl")

from ft_jupyter.config import ConfigError  # noqa: E402
from ft_jupyter.data.template_checks import check_agreement  # noqa: E402
from ft_jupyter.data.templates import has_generation_markers, training_template  # noqa: E402

# SmolLM2-Instruct's template as shipped: ChatML, a default system prompt, no generation markers.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Llama-3-style headers, written for this test: a default system block, content trimmed, <|eot_id|> ends turns.
LLAMA3_STYLE_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if messages[0]['role'] == 'system' %}{%- set sys = messages[0]['content'] | trim %}"
    "{%- set messages = messages[1:] %}{%- else %}{%- set sys = 'Answer support email briefly.' %}{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\n\n' + sys + '<|eot_id|>' }}"
    "{%- for m in messages %}"
    "{{- '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}"
)
# Mistral-Instruct-style: BOS once, [INST] ... [/INST] around user turns, EOS after each answer, no system role.
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported') }}{% endif %}{% endfor %}"
)
LLAMA3_TOKENS = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
CONVERSATION = [
    {"role": "user", "content": "Where is my parcel?"},
    {"role": "assistant", "content": "question"},
    {"role": "user", "content": "And the refund?"},
    {"role": "assistant", "content": "billing"},
]


def _styled(tokenizer, template, special=(), bos=None, eos=None):
    tokens = {"additional_special_tokens": list(special)}
    tokens.update({k: v for k, v in (("bos_token", bos), ("eos_token", eos)) if v})
    tokenizer.add_special_tokens(tokens)
    tokenizer.chat_template = template
    return tokenizer


def _trl_llama3():
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / "llama3.jinja").read_text(encoding="utf-8")


STYLES = {
    "chatml": (lambda: SMOLLM2_TEMPLATE, (), None, None, "question<|im_end|>billing<|im_end|>", "markers"),
    "llama3-trl": (
        _trl_llama3,
        LLAMA3_TOKENS,
        "<|begin_of_text|>",
        "<|eot_id|>",
        "question<|eot_id|>billing<|eot_id|>",
        "TRL",
    ),
    "llama3-style": (
        lambda: LLAMA3_STYLE_TEMPLATE,
        LLAMA3_TOKENS,
        "<|begin_of_text|>",
        "<|eot_id|>",
        "question<|eot_id|>billing<|eot_id|>",
        "markers",
    ),
    "mistral": (
        lambda: MISTRAL_TEMPLATE,
        ("[INST]", "[/INST]", "<s>", "</s>"),
        "<s>",
        "</s>",
        "question</s>billing</s>",
        "markers",
    ),
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_templates_get_markers_and_still_render_identically(tiny_tokenizer, style):
    template, special, bos, eos, loss_text, how = STYLES[style]
    tok = _styled(tiny_tokenizer, template(), special, bos, eos)
    result = training_template(tok)
    assert result.changed and has_generation_markers(result.template) and how in result.note
    assert result.warnings == ()
    for gen, messages in ((False, CONVERSATION), (True, CONVERSATION[:-1]), (True, CONVERSATION[:1])):
        assert tok.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=gen, chat_template=result.template
        ) == tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
    # Only the assistant turns carry loss, each ending with the end-of-turn token.
    out = tok.apply_chat_template(
        CONVERSATION, chat_template=result.template, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    assert tok.decode([i for i, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]) == loss_text


def test_a_template_that_already_has_markers_is_kept(tiny_tokenizer):
    result = training_template(tiny_tokenizer)  # tiny-random ships ChatML with markers
    assert not result.changed and result.template == tiny_tokenizer.chat_template


def test_eos_outside_the_loss_is_refused(tiny_tokenizer):
    tiny_tokenizer.chat_template = tiny_tokenizer.chat_template.replace(
        "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}",
        "{% generation %}{{ message['content'] }}{% endgeneration %}{{ '<|im_end|>' }}",
    )
    with pytest.raises(ConfigError, match="never learn to stop"):
        training_template(tiny_tokenizer)


def test_a_template_whose_markers_wrap_nothing_is_refused(tiny_tokenizer):
    tiny_tokenizer.chat_template = tiny_tokenizer.chat_template.replace(
        "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}",
        "{{ message['content'] + '<|im_end|>' }}{% generation %}{% endgeneration %}",
    )
    with pytest.raises(ConfigError, match="every label would be -100"):
        training_template(tiny_tokenizer)


def test_train_and_inference_rendering_disagreement_is_reported(tiny_tokenizer):
    original = SMOLLM2_TEMPLATE
    # A "training" template that drops the default system prompt: prompts at inference would differ.
    drifted = training_template(_styled(tiny_tokenizer, original)).template.replace("You are a helpful", "You are a")
    problems = check_agreement(tiny_tokenizer, original, drifted, [CONVERSATION])
    assert problems and "renders a conversation differently" in problems[0]
    assert any("model would answer from a context it was not trained on" in p for p in problems)


def test_unknown_template_is_refused_with_a_way_out(tiny_tokenizer):
    tiny_tokenizer.chat_template = "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    with pytest.raises(ConfigError, match="assistant_only_loss: false"):
        training_template(tiny_tokenizer)


def test_missing_template_is_refused(tiny_tokenizer):
    tiny_tokenizer.chat_template = None
    with pytest.raises(ConfigError, match="no chat template"):
        training_template(tiny_tokenizer)


def test_mistral_refuses_a_system_prompt_with_advice(tiny_tokenizer):
    tok = _styled(tiny_tokenizer, MISTRAL_TEMPLATE, ("[INST]", "[/INST]", "<s>", "</s>"), "<s>", "</s>")
    with pytest.raises(ConfigError, match="leave data.system_prompt empty"):
        training_template(tok, [[{"role": "system", "content": "Be brief."}, *CONVERSATION]])
