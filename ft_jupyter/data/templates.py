"""Chat templates fit for training: `{% generation %}` markers around assistant turns, EOS ending every turn.

TRL computes assistant-only loss from those markers; most shipped templates lack them. In order, `training_template`
uses: the model's template if it has markers; TRL's training version when TRL knows the template; otherwise, for
role-delimited templates (ChatML, Llama-3-style headers, Mistral `[INST]`), a template with markers that we derive
by rendering probe conversations and only accept when it renders every probe exactly as the original does, so
training and inference see the same text. Anything else is refused with what to do instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ft_jupyter.config import ConfigError
from ft_jupyter.data.probes import A1, A2, PROBES, U1, U2, S, render
from ft_jupyter.data.template_checks import check_training_template


@dataclass(frozen=True)
class TrainingTemplate:
    template: str
    note: str  # what was done, for the run log ("as shipped", "TRL's training version", "markers added")
    changed: bool
    warnings: tuple[str, ...] = ()


def has_generation_markers(template: str) -> bool:
    return re.search(r"\{%-?\s*generation\s*-?%\}", template) is not None and "endgeneration" in template


def original_template(tokenizer) -> str:
    template = tokenizer.chat_template
    if isinstance(template, dict):
        template = template.get("default")
    if not template:
        raise ConfigError(
            "The tokenizer has no chat template, so conversations cannot be rendered. Use an "
            "instruction-tuned model, or set tokenizer.chat_template before training."
        )
    return template


def _try_render(tokenizer, template: str, messages, gen: bool = False) -> str | None:
    try:
        return render(tokenizer, template, messages, gen)
    except Exception:  # templates refuse what they do not support via raise_exception (TemplateError) or others
        return None


@dataclass(frozen=True)
class _Shape:
    """How a role-delimited template writes a conversation, learned from its output on sentinel messages."""

    start: str  # always first (often the BOS token)
    default_head: str  # written when the first message is not a system message
    system: tuple[str, str] | None  # prefix/suffix of a system turn; None: the template refuses system turns
    user: tuple[str, str]
    assistant_prefix: str  # also the generation prompt
    assistant_end: str  # end-of-turn text: inside the loss, so the model learns to stop
    assistant_after: str  # whitespace after the end-of-turn, outside the loss
    trimmed: frozenset[str]  # roles whose content the template strips


def _between(text: str, left: str, right: str) -> str | None:
    i = text.find(left)
    j = text.find(right, i + len(left)) if i >= 0 else -1
    return text[i + len(left) : j] if j >= 0 else None


def _infer_shape(tokenizer, original: str) -> _Shape | None:
    r_u, r_ug = _try_render(tokenizer, original, PROBES[0][:1]), _try_render(tokenizer, original, PROBES[0][:1], True)
    r_ua, r_uaua = _try_render(tokenizer, original, PROBES[0]), _try_render(tokenizer, original, PROBES[1])
    if None in (r_u, r_ug, r_ua, r_uaua) or r_u.count(U1) != 1 or not r_ug.startswith(r_u):
        return None
    head_u, user_suffix = r_u.split(U1)
    assistant_prefix = r_ug[len(r_u) :]
    if not r_ua.startswith(r_ug + A1) or not r_uaua.startswith(r_ua):
        return None
    tail = r_ua[len(r_ug) + len(A1) :]
    rest = r_uaua[len(r_ua) :]
    user_prefix = rest.split(U2)[0]
    if rest != user_prefix + U2 + user_suffix + assistant_prefix + A2 + tail or not head_u.endswith(user_prefix):
        return None
    pre = head_u[: len(head_u) - len(user_prefix)]
    bos = tokenizer.bos_token if "bos_token" in original and isinstance(tokenizer.bos_token, str) else ""
    system = None
    r_s = _try_render(tokenizer, original, PROBES[2])
    if r_s is not None:
        before, between = r_s.split(S)[0] if S in r_s else None, _between(r_s, S, U1)
        if before is None or between is None or not between.endswith(user_prefix):
            return None  # system text merged into a user turn (Llama-2 style): not role-delimited
        system = (before, between[: len(between) - len(user_prefix)])
    start = bos if bos and pre.startswith(bos) and (system is None or system[0].startswith(bos)) else ""
    if system is not None:
        system = (system[0][len(start) :], system[1])
    end = tail.rstrip()
    return _Shape(
        start,
        pre[len(start) :],
        system,
        (user_prefix, user_suffix),
        assistant_prefix,
        end,
        tail[len(end) :],
        _trimmed_roles(tokenizer, original),
    )


def _trimmed_roles(tokenizer, original: str) -> frozenset[str]:
    out = set()
    for probe in (PROBES[4], PROBES[5]):
        text = _try_render(tokenizer, original, probe)
        if text is None:
            continue
        for m in probe:
            if m["content"] != m["content"].strip() and m["content"] not in text and m["content"].strip() in text:
                out.add(m["role"])
    return frozenset(out)


def _lit(text: str) -> str:
    return "{{ " + json.dumps(text, ensure_ascii=False) + " }}" if text else ""


def _content(shape: _Shape, role: str) -> str:
    return "message['content'] | trim" if role in shape.trimmed else "message['content']"


def _build(shape: _Shape) -> str:
    head = _lit(shape.start)
    if shape.default_head:
        head += "{%- if messages[0]['role'] != 'system' %}" + _lit(shape.default_head) + "{%- endif %}"
    if shape.system:
        system = _lit(shape.system[0]) + "{{ " + _content(shape, "system") + " }}" + _lit(shape.system[1])
    else:
        system = "{{ raise_exception('This chat template does not support system messages.') }}"
    user = _lit(shape.user[0]) + "{{ " + _content(shape, "user") + " }}" + _lit(shape.user[1])
    assistant = (
        _lit(shape.assistant_prefix)
        + "{%- generation %}{{ "
        + _content(shape, "assistant")
        + " }}"
        + _lit(shape.assistant_end)
        + "{%- endgeneration %}"
        + _lit(shape.assistant_after)
    )
    return (
        head + "{%- for message in messages %}"
        "{%- if message['role'] == 'system' %}"
        + system
        + "{%- elif message['role'] == 'user' %}"
        + user
        + "{%- elif message['role'] == 'assistant' %}"
        + assistant
        + "{%- else %}{{ raise_exception('Unsupported role: ' + message['role']) }}{%- endif %}"
        "{%- endfor %}{%- if add_generation_prompt %}" + _lit(shape.assistant_prefix) + "{%- endif %}"
    )


def renders_identically(tokenizer, original: str, candidate: str, conversations=PROBES) -> bool:
    """True when `candidate` renders every conversation (with and without generation prompt) as `original` does."""
    for messages in conversations:
        for gen in (False, True):
            if _try_render(tokenizer, candidate, messages, gen) != _try_render(tokenizer, original, messages, gen):
                return False
    return True


def add_generation_markers(tokenizer, original: str) -> str | None:
    """A marked-up equivalent of a role-delimited template, or None when it is not one we can reproduce exactly."""
    shape = _infer_shape(tokenizer, original)
    if shape is None or not shape.assistant_end:
        return None
    candidate = _build(shape)
    return candidate if renders_identically(tokenizer, original, candidate) else None


def _trl_template(tokenizer) -> str | None:
    from trl.chat_template_utils import get_training_chat_template

    try:
        return get_training_chat_template(tokenizer)
    except ValueError:
        return None


def training_template(tokenizer, conversations=None) -> TrainingTemplate:
    """A template that supports assistant-only loss and renders like the model's own; ConfigError if impossible.

    It is then checked (`template_checks.check_training_template`): every assistant turn must end with an
    end-of-turn token inside the loss, and inference-time prompts must be prefixes of what was trained on
    (on the probes and on `conversations`, e.g. a sample of the training rows).
    """
    original = original_template(tokenizer)
    if has_generation_markers(original):
        chosen = TrainingTemplate(original, "the model's chat template already marks assistant turns", False)
    elif (patched := _trl_template(tokenizer)) is not None:
        chosen = TrainingTemplate(patched, "TRL's training version of this model's chat template", True)
    elif (marked := add_generation_markers(tokenizer, original)) is not None:
        chosen = TrainingTemplate(
            marked, "added {% generation %} markers to the model's chat template (renders identically)", True
        )
    else:
        raise ConfigError(
            "The model's chat template has no {% generation %} markers and is not one ft-jupyter or "
            "TRL can patch (ChatML, Llama-3 and Mistral [INST] styles are), so the loss cannot be "
            "limited to assistant answers. Set training.assistant_only_loss: false (the loss then "
            "covers prompts too), or give the tokenizer a template with {% generation %}..."
            "{% endgeneration %} around assistant content."
        )
    warnings = check_training_template(tokenizer, original, chosen.template, conversations)
    return TrainingTemplate(chosen.template, chosen.note, chosen.changed, tuple(warnings))
