"""The masking view: a row's tokens, marked by whether they carry loss, exactly as the trainer will see them.

It is the check that catches "all labels are -100" (a template without markers, or an answer cut off by
max_seq_len) before a run trains on nothing. HTML for notebooks (`_repr_html_`), plain text for consoles.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from ft_jupyter.data.template_checks import assistant_mask

_LOSS_STYLE = "background:#c8f0c8;color:#0b3d0b;border-bottom:2px solid #2e8b57"
_NO_LOSS_STYLE = "background:#eeeeee;color:#555555"
_CUT_STYLE = "background:#f8e0e0;color:#999999;text-decoration:line-through"


@dataclass(frozen=True)
class MaskedToken:
    id: int
    text: str
    loss: bool  # carries loss (its label is the token id, not -100)
    cut: bool = False  # beyond max_length: truncated away before training


@dataclass(frozen=True)
class MaskingView:
    tokens: tuple[MaskedToken, ...]
    max_length: int | None
    warning: str = ""

    @property
    def loss_tokens(self) -> int:
        return sum(t.loss and not t.cut for t in self.tokens)

    @property
    def labels(self) -> list[int]:
        """The labels the trainer computes: the token id where it carries loss, -100 elsewhere (cut tokens dropped)."""
        return [t.id if t.loss else -100 for t in self.tokens if not t.cut]

    def summary(self) -> str:
        kept = sum(not t.cut for t in self.tokens)
        cut = len(self.tokens) - kept
        text = f"{self.loss_tokens} of {kept} tokens carry loss ({self.loss_tokens / max(kept, 1):.0%})"
        if cut:
            text += f"; {cut} tokens beyond max_length={self.max_length} are cut off"
        return text

    def to_text(self, color: bool = False) -> str:
        """Loss-carrying runs in [[...]] (or green with color=True); cut-off tokens after a ✂ mark."""
        parts, inside, cut_marked = [], False, False
        for t in self.tokens:
            if t.cut and not cut_marked:
                if inside:
                    parts.append("\x1b[0m" if color else "]]")
                    inside = False
                parts.append(" ✂ ")
                cut_marked = True
            loss = t.loss and not t.cut
            if loss != inside:
                parts.append(("\x1b[42;30m" if loss else "\x1b[0m") if color else ("[[" if loss else "]]"))
                inside = loss
            parts.append(t.text)
        if inside:
            parts.append("\x1b[0m" if color else "]]")
        legend = "green = carries loss" if color else "[[...]] = carries loss"
        lines = ["".join(parts), "", f"{legend}; {self.summary()}"]
        return "\n".join(lines + ([f"WARNING: {self.warning}"] if self.warning else []))

    def to_html(self) -> str:
        spans = []
        for t in self.tokens:
            style = _CUT_STYLE if t.cut else _LOSS_STYLE if t.loss else _NO_LOSS_STYLE
            text = html.escape(t.text).replace("\n", "↵\n") or "&#8203;"
            spans.append(
                f'<span class="jp-ft-token" style="{style};padding:0 1px;margin:0 1px 0 0;'
                f'border-radius:2px" title="id {t.id}{", loss" if t.loss else ", -100"}">{text}</span>'
            )
        warning = (
            f'<div style="color:#a00000;font-weight:bold;margin-top:4px">⚠ {html.escape(self.warning)}</div>'
            if self.warning
            else ""
        )
        legend = (
            f'<div style="margin-top:4px;font-size:90%"><span style="{_LOSS_STYLE}">carries loss</span> '
            f'<span style="{_NO_LOSS_STYLE}">masked (-100)</span> '
            f'<span style="{_CUT_STYLE}">cut off by max_length</span> — {html.escape(self.summary())}</div>'
        )
        return (
            '<div class="jp-ft-masking" style="font-family:monospace;line-height:1.9;white-space:pre-wrap">'
            + "".join(spans)
            + "</div>"
            + legend
            + warning
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self.to_text()


def masking_view(
    tokenizer, messages, *, template: str | None = None, max_length: int | None = None, assistant_only_loss: bool = True
) -> MaskingView:
    """Tokens of one conversation with their loss mask, as TRL builds it (truncation keeps the start)."""
    from ft_jupyter.data.templates import original_template, training_template

    messages = [dict(m) for m in messages]
    if assistant_only_loss:
        template = template or training_template(tokenizer).template
        ids, mask = assistant_mask(tokenizer, template, messages)
    else:
        template = template or original_template(tokenizer)
        ids = list(
            tokenizer.apply_chat_template(messages, chat_template=template, tokenize=True, return_dict=True)[
                "input_ids"
            ]
        )
        mask = [1] * len(ids)
    tokens = tuple(
        MaskedToken(i, tokenizer.decode([i]), bool(m), max_length is not None and n >= max_length)
        for n, (i, m) in enumerate(zip(ids, mask, strict=True))
    )
    return MaskingView(tokens, max_length, _warning(tokens, max_length))


def _warning(tokens: tuple[MaskedToken, ...], max_length: int | None) -> str:
    if any(t.loss and not t.cut for t in tokens):
        if any(t.loss and t.cut for t in tokens):
            return (
                f"max_length={max_length} cuts off part of the answer: the model learns a truncated answer and "
                "never its end-of-turn token. Raise training.max_seq_len."
            )
        return ""
    if any(t.loss for t in tokens):
        first = next(n for n, t in enumerate(tokens) if t.loss)
        return (
            f"All labels are -100 after truncation: the answer starts at token {first} but max_length is "
            f"{max_length}. This row teaches nothing (TRL drops it silently). Raise training.max_seq_len."
        )
    return (
        "All labels are -100: no token carries loss, so training on this row does nothing. The chat template "
        "marks no assistant tokens (missing {% generation %} markers) or the row has no assistant turn."
    )
