"""The Modelfile TEMPLATE, rendered by Go's text/template on the data Ollama gives it, must produce the same prompt
as the model's chat template. BOS text is compared without: llama.cpp adds BOS itself (see reference_prompt)."""

import re
import shutil

import pytest
from transformers import AutoTokenizer

from ft_jupyter.export.ollama import (
    FAMILIES,
    TemplateNotSupported,
    build_modelfile,
    default_system_prompt,
    detect_family,
    go_template,
    reference_prompt,
    render_with_go,
    stop_tokens,
)
from ft_jupyter.models.bundled import ensure_smollm2
from ft_jupyter.models.tiny import ensure_tiny_random

needs_go = pytest.mark.skipif(
    shutil.which("go") is None, reason="`go` is not on PATH: install it with `apt-get install golang-go`"
)

# meta-llama/Meta-Llama-3-8B-Instruct, as published: BOS before the first turn, every message trimmed.
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# mistralai/Mistral-7B-Instruct-v0.2 (same as v0.1's current one): the system prompt joins the first user turn,
# and there is no generation prompt, so add_generation_prompt changes nothing.
MISTRAL_TEMPLATE = """{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token}}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
"""

GEMMA_STYLE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def _tiny():
    return AutoTokenizer.from_pretrained(ensure_tiny_random())


@pytest.fixture(scope="module")
def tokenizers():
    """One tokenizer per case: the tiny model's own ChatML, SmolLM2's ChatML with a default system prompt, and the
    tiny vocabulary wearing the published Llama-3 and Mistral templates with those models' special tokens."""
    llama3 = _tiny()
    llama3.add_special_tokens(
        {
            "bos_token": "<|begin_of_text|>",
            "eos_token": "<|eot_id|>",
            "additional_special_tokens": ["<|start_header_id|>", "<|end_header_id|>"],
        }
    )
    llama3.chat_template = LLAMA3_TEMPLATE
    mistral = _tiny()
    mistral.add_special_tokens({"bos_token": "<s>", "eos_token": "</s>"})
    mistral.chat_template = MISTRAL_TEMPLATE
    return {
        "chatml": _tiny(),
        "smollm2": AutoTokenizer.from_pretrained(ensure_smollm2(verbose=False)),
        "llama3": llama3,
        "mistral": mistral,
    }


CASES = ("chatml", "smollm2", "llama3", "mistral")


def _chat(turns: int, system: bool) -> list[dict]:
    chat = [{"role": "system", "content": "Answer in one short sentence."}] if system else []
    for i in range(turns):
        chat.append({"role": "user", "content": f"Question number {i + 1}?"})
        if i < turns - 1:
            chat.append({"role": "assistant", "content": f"Answer number {i + 1}."})
    return chat


def _template_in(text: str) -> str:
    """The TEMPLATE exactly as Ollama's parser reads it back from the Modelfile."""
    return re.search(r'^TEMPLATE """(.*?)"""$', text, re.S | re.M).group(1)


@needs_go
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("turns", [1, 3])
@pytest.mark.parametrize("system", [False, True], ids=["no-system", "system"])
def test_go_render_equals_the_chat_template(tokenizers, case, turns, system):
    tokenizer = tokenizers[case]
    modelfile = build_modelfile(tokenizer, from_path="model.gguf")
    chat = _chat(turns, system)
    rendered = render_with_go(_template_in(modelfile.text), chat, system=modelfile.system)
    assert rendered == reference_prompt(tokenizer, chat)


def test_bos_text_is_left_to_llama_cpp(tokenizers):
    chat = _chat(1, False)
    full = tokenizers["llama3"].apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert full.startswith("<|begin_of_text|>")
    assert reference_prompt(tokenizers["llama3"], chat) == full[len("<|begin_of_text|>") :]
    # SmolLM2's prompt starts with its bos text <|im_start|> without writing bos_token: nothing may be cut.
    smol = tokenizers["smollm2"].apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert reference_prompt(tokenizers["smollm2"], chat) == smol
    for family in FAMILIES:
        assert "begin_of_text" not in go_template(family) and "<s>" not in go_template(family)


@needs_go
@pytest.mark.parametrize("case", CASES)
def test_characters_special_to_go_and_json_render_identically(tokenizers, case):
    # No leading/trailing whitespace: Llama-3's template trims it and Go templates cannot (see the module doc).
    tricky = (
        'He said "hi" \\ C:\\path\\n {{ .System }} {{- end }} {% raw %}\nline two\ttab """ \u00e9\u4e2d\U0001f600 }}'
    )
    chat = [
        {"role": "system", "content": 'Quote "me" \\ {{ .Content }}'},
        {"role": "user", "content": tricky},
        {"role": "assistant", "content": tricky},
        {"role": "user", "content": "<|im_end|> {{"},
    ]
    tokenizer = tokenizers[case]
    modelfile = build_modelfile(tokenizer, from_path="model.gguf")
    assert render_with_go(go_template(modelfile.family), chat) == reference_prompt(tokenizer, chat)


@needs_go
@pytest.mark.parametrize("family", FAMILIES)
def test_system_prompt_is_printed_once_though_ollama_passes_it_twice(family):
    chat = [{"role": "system", "content": "SYSTEM-ONCE"}, {"role": "user", "content": "hi"}]
    assert render_with_go(go_template(family), chat).count("SYSTEM-ONCE") == 1
    assert render_with_go(go_template(family), chat[1:], system="DEFAULT-ONCE").count("DEFAULT-ONCE") == 1


@needs_go
def test_the_renderer_reproduces_the_passed_twice_trap():
    """A template that prints .System and every message shows the prompt twice: the check above can fail."""
    naive = "{{ if .System }}{{ .System }}\n{{ end }}{{ range .Messages }}{{ .Content }}\n{{ end }}"
    chat = [{"role": "user", "content": "hi"}]
    assert render_with_go(naive, chat, system="DEFAULT").count("DEFAULT") == 2
    assert render_with_go(naive, [{"role": "system", "content": "S"}, *chat]) == "S\nS\nhi\n"


@needs_go
def test_smollm2_default_system_prompt_goes_in_the_modelfile(tokenizers):
    tokenizer = tokenizers["smollm2"]
    assert default_system_prompt(tokenizer) == SMOLLM2_SYSTEM
    modelfile = build_modelfile(tokenizer, from_path="model.gguf")
    assert modelfile.system == SMOLLM2_SYSTEM and f'SYSTEM """{SMOLLM2_SYSTEM}"""' in modelfile.text
    chat = _chat(1, False)
    rendered = render_with_go(_template_in(modelfile.text), chat, system=modelfile.system)
    assert rendered == tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert rendered.count(SMOLLM2_SYSTEM) == 1


def test_templates_without_a_default_system_prompt_get_no_system_line(tokenizers):
    for case in ("chatml", "llama3", "mistral"):
        assert default_system_prompt(tokenizers[case]) is None
        assert "\nSYSTEM " not in build_modelfile(tokenizers[case], from_path="m.gguf").text
    given = build_modelfile(tokenizers["chatml"], from_path="m.gguf", system="Be brief.")
    assert given.system == "Be brief." and 'SYSTEM """Be brief."""' in given.text


def test_detect_family_by_marker(tokenizers):
    assert detect_family(tokenizers["chatml"].chat_template) == "chatml"
    assert detect_family(LLAMA3_TEMPLATE) == "llama3"
    assert detect_family(MISTRAL_TEMPLATE) == "mistral"


def test_unknown_template_is_refused_with_what_to_do():
    with pytest.raises(TemplateNotSupported) as caught:
        detect_family(GEMMA_STYLE)
    message = str(caught.value)
    assert "<start_of_turn>" in message
    assert all(family in message for family in FAMILIES)
    assert "https://github.com/ollama/ollama/blob/main/docs/template.md" in message and "by hand" in message


def test_a_family_variant_with_another_layout_is_refused():
    # Mistral v0.3 spacing ("[INST] x[/INST] y</s>"): the mistral TEMPLATE would write a prompt it never trained on.
    tokenizer = _tiny()
    tokenizer.add_special_tokens({"bos_token": "<s>", "eos_token": "</s>"})
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}"
        "{{ '[INST] ' + m['content'] + '[/INST]' }}"
        "{% else %}{{ ' ' + m['content'] + eos_token }}{% endif %}{% endfor %}"
    )
    with pytest.raises(TemplateNotSupported, match="looks like mistral"):
        build_modelfile(tokenizer, from_path="model.gguf")


def test_stop_tokens_are_the_end_of_turn_tokens_in_the_vocabulary(tokenizers):
    assert stop_tokens(tokenizers["chatml"], "chatml") == ["<|im_end|>", "<|im_start|>"]
    assert stop_tokens(tokenizers["llama3"], "llama3") == ["<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]
    # [INST] is plain text in Mistral's v1 vocabulary, so only the EOS stops a turn.
    assert stop_tokens(tokenizers["mistral"], "mistral") == ["</s>"]


def test_modelfile_text_has_every_line_ollama_needs(tokenizers):
    modelfile = build_modelfile(
        tokenizers["llama3"],
        from_path="./my model.gguf",
        adapter_path="adapter.gguf",
        parameters={"num_ctx": 4096, "stop": ["###"]},
        name="tiny-tuned",
    )
    lines = modelfile.text.splitlines()
    assert 'FROM "./my model.gguf"' in lines and "ADAPTER adapter.gguf" in lines
    assert _template_in(modelfile.text) == go_template("llama3")
    for stop in ("<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "###"):
        assert f'PARAMETER stop "{stop}"' in lines
    assert "PARAMETER temperature 0" in lines and "PARAMETER num_ctx 4096" in lines
    assert modelfile.stops[-1] == "###" and modelfile.family == "llama3"
    assert modelfile.create_command == "ollama create tiny-tuned -f Modelfile"
    assert modelfile.run_command == "ollama run tiny-tuned"
    warmer = build_modelfile(tokenizers["chatml"], from_path="m.gguf", parameters={"temperature": 0.7})
    assert "PARAMETER temperature 0.7" in warmer.text and "PARAMETER temperature 0\n" not in warmer.text


def test_values_ollama_would_misread_are_refused(tokenizers):
    with pytest.raises(ValueError, match="three double quotes"):
        build_modelfile(tokenizers["chatml"], from_path="m.gguf", system='Say """hi"""')
    with pytest.raises(ValueError, match="double quote"):
        build_modelfile(tokenizers["chatml"], from_path='m"odel.gguf')
    with pytest.raises(ValueError, match="not one Ollama accepts"):
        build_modelfile(tokenizers["chatml"], from_path="m.gguf", name="my model")


def test_missing_go_says_how_to_install_it():
    with pytest.raises(FileNotFoundError, match="apt-get install golang-go"):
        render_with_go("{{ .System }}", [], go="no-such-go-binary")


@needs_go
def test_template_errors_come_back_from_go():
    with pytest.raises(ValueError, match="Go could not render the template"):
        render_with_go("{{ if .System }}", [{"role": "user", "content": "hi"}])
