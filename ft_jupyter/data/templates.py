"""Chat templates fit for training: `{% generation %}` markers around assistant turns, EOS ending every turn.

TRL computes assistant-only loss from those markers. Many templates lack them; TRL patches the ones it knows. For
ChatML-style templates (SmolLM2, Qwen, many others) we build an equivalent template with markers ourselves and check
that it renders every probe conversation exactly as the original does, so training and inference see the same text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ft_jupyter.config import ConfigError

_PROBES = [
    [{"role": "user", "content": "PROBE-U1"}, {"role": "assistant", "content": "PROBE-A1"}],
    [{"role": "system", "content": "PROBE-S"}, {"role": "user", "content": "PROBE-U1"},
     {"role": "assistant", "content": "PROBE-A1"}, {"role": "user", "content": "PROBE-U2"},
     {"role": "assistant", "content": "PROBE-A2"}],
]


@dataclass(frozen=True)
class TrainingTemplate:
    template: str
    note: str  # what was done, for the run log ("as shipped", "patched by TRL", "ChatML markers added")
    changed: bool


def has_generation_markers(template: str) -> bool:
    return "generation %}" in template and "endgeneration" in template


def _render(tokenizer, template: str, messages, add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def _chatml_with_markers(default_system: str | None) -> str:
    head = ""
    if default_system is not None:
        literal = json.dumps("<|im_start|>system\n" + default_system + "<|im_end|>\n", ensure_ascii=False)
        head = "{%- if messages[0]['role'] != 'system' %}{{ " + literal + " }}{% endif %}"
    return (
        head
        + "{%- for message in messages %}"
        "{%- if message['role'] == 'assistant' %}"
        "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
        "{{ '\\n' }}"
        "{%- else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endif %}"
        "{%- endfor %}"
        "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
    )


def _try_chatml(tokenizer, original: str) -> str | None:
    first = _render(tokenizer, original, _PROBES[0])
    if "<|im_start|>user\nPROBE-U1<|im_end|>" not in first:
        return None
    default_system = None
    if first.startswith("<|im_start|>system\n"):
        default_system = first[len("<|im_start|>system\n"):first.index("<|im_end|>")]
    candidate = _chatml_with_markers(default_system)
    for probe in _PROBES:
        for gen in (False, True):
            messages = probe if not gen else probe[:-1]
            if _render(tokenizer, candidate, messages, gen) != _render(tokenizer, original, messages, gen):
                return None
    return candidate


def training_template(tokenizer) -> TrainingTemplate:
    """A template that supports assistant-only loss and renders like the model's own; ConfigError if impossible."""
    original = tokenizer.chat_template
    if isinstance(original, dict):
        original = original.get("default")
    if not original:
        raise ConfigError("The tokenizer has no chat template, so conversations cannot be rendered. Use an "
                          "instruction-tuned model, or set tokenizer.chat_template before training.")
    if has_generation_markers(original):
        return TrainingTemplate(original, "the model's chat template already marks assistant turns", False)
    from trl.chat_template_utils import get_training_chat_template

    try:
        patched = get_training_chat_template(tokenizer)
    except ValueError:
        patched = None
    if patched:
        return TrainingTemplate(patched, "TRL's training version of this model's chat template", True)
    chatml = _try_chatml(tokenizer, original)
    if chatml:
        return TrainingTemplate(chatml, "added {% generation %} markers to the ChatML template (renders identically)",
                                True)
    raise ConfigError("The model's chat template has no {% generation %} markers and is not one ft-jupyter or TRL "
                      "can patch, so the loss cannot be limited to assistant answers. Set "
                      "training.assistant_only_loss: false (the loss then covers prompts too), or give the tokenizer "
                      "a template with {% generation %}...{% endgeneration %} around assistant content.")
