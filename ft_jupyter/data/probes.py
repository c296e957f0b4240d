"""Probe conversations, and rendering a conversation with a chat template: what deriving a training template
(templates.py) and checking one (template_checks.py) both do.

Every message text is a sentinel no template changes (no spaces, no case to fold), so where each lands in the
rendered text shows the template's shape; padded copies show whether a template trims message content.
"""

from __future__ import annotations

_TAG = "q7x"
S, U1, A1, U2, A2 = (f"{name}-{_TAG}" for name in ("SYS", "USR1", "AST1", "USR2", "AST2"))
_PAD = "  {} \n"


def _msgs(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in pairs]


PROBES = [
    _msgs(("user", U1), ("assistant", A1)),
    _msgs(("user", U1), ("assistant", A1), ("user", U2), ("assistant", A2)),
    _msgs(("system", S), ("user", U1), ("assistant", A1)),
    _msgs(("system", S), ("user", U1), ("assistant", A1), ("user", U2), ("assistant", A2)),
    _msgs(("system", _PAD.format(S)), ("user", _PAD.format(U1)), ("assistant", _PAD.format(A1))),
    _msgs(("user", _PAD.format(U1)), ("assistant", _PAD.format(A1)), ("user", U2), ("assistant", A2)),
    _msgs(("user", "")),
]


def render(tokenizer, template: str, messages, add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(
        messages, chat_template=template, tokenize=False, add_generation_prompt=add_generation_prompt
    )
