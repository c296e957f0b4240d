"""The masking view on the tiny-random tokenizer: only assistant turns carry loss; "all labels -100" is caught."""

import pytest

pytest.importorskip("trl")

from ft_jupyter.data.masking import masking_view  # noqa: E402

CONVERSATION = [
    {"role": "system", "content": "Sort support email."},
    {"role": "user", "content": "Where is my parcel?"},
    {"role": "assistant", "content": "question"},
    {"role": "user", "content": "And the refund?"},
    {"role": "assistant", "content": "billing"},
]


def test_only_assistant_turns_carry_loss_in_a_multi_turn_conversation(tiny_tokenizer):
    view = masking_view(tiny_tokenizer, CONVERSATION)
    loss_text = "".join(t.text for t in view.tokens if t.loss)
    assert loss_text == "question<|im_end|>billing<|im_end|>"
    assert view.labels.count(-100) == len(view.tokens) - view.loss_tokens and view.warning == ""
    text = view.to_text()
    assert "[[question<|im_end|>]]" in text and "[[billing<|im_end|>]]" in text
    assert "Where is my parcel?" in text and "[[Where" not in text
    assert f"{view.loss_tokens} of {len(view.tokens)} tokens carry loss" in text
    html = view.to_html()
    assert html == view._repr_html_() and html.count('class="jp-ft-token"') == len(view.tokens)
    assert "&lt;|im_start|&gt;" in html and "carries loss" in html


def test_truncation_that_removes_the_answer_is_flagged(tiny_tokenizer):
    full = masking_view(tiny_tokenizer, CONVERSATION[:3])
    first_answer = next(n for n, t in enumerate(full.tokens) if t.loss)
    cut = masking_view(tiny_tokenizer, CONVERSATION[:3], max_length=first_answer)
    assert cut.loss_tokens == 0 and set(cut.labels) == {-100}
    assert "All labels are -100 after truncation" in cut.warning and "WARNING" in cut.to_text()
    partial = masking_view(tiny_tokenizer, CONVERSATION[:3], max_length=first_answer + 1)
    assert partial.loss_tokens == 1 and "cuts off part of the answer" in partial.warning
    assert " ✂ " in partial.to_text()


def test_a_template_without_markers_means_every_label_is_minus_100(tiny_tokenizer):
    plain = tiny_tokenizer.chat_template.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    view = masking_view(tiny_tokenizer, CONVERSATION, template=plain)
    assert view.loss_tokens == 0 and "no token carries loss" in view.warning


def test_without_assistant_only_loss_every_token_carries_loss(tiny_tokenizer):
    view = masking_view(tiny_tokenizer, CONVERSATION, assistant_only_loss=False)
    assert view.loss_tokens == len(view.tokens) and -100 not in view.labels
