"""Batched generation runs prompts longest first (less padding) yet answers exactly as one-by-one generation, in the
order the prompts were given."""

import pytest

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_model():
    from ft_jupyter.models.inference import load_for_inference

    model, tokenizer = load_for_inference("tiny-random")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


@pytest.fixture(scope="module")
def prompts():
    from ft_jupyter.config import DataConfig
    from ft_jupyter.data.prepare import prepare

    return [e.prompt for e in prepare(DataConfig(dataset="support-emails"), seed=7).test[:12]]


def _padding(lengths, batches):
    return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)


def test_length_batches_pad_less_than_the_given_order(tiny_model, prompts):
    from ft_jupyter.evaluate.generation import length_batches

    _, tokenizer = tiny_model
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    batches = length_batches(tokenizer, texts, 4)
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))  # every prompt exactly once
    assert [lengths[b[0]] for b in batches] == sorted((lengths[b[0]] for b in batches), reverse=True)
    given = [list(range(s, min(s + 4, len(texts)))) for s in range(0, len(texts), 4)]
    assert _padding(lengths, batches) < _padding(lengths, given)


def test_sorted_batches_answer_like_one_by_one_in_the_given_order(tiny_model, prompts, capsys, monkeypatch):
    from ft_jupyter.evaluate.generation import generate_answers, length_batches

    monkeypatch.delenv("FT_JUPYTER_PROGRESS", raising=False)
    model, tokenizer = tiny_model
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    assert [i for b in length_batches(tokenizer, texts, 4) for i in b] != list(range(len(texts)))  # it reorders
    one_by_one = generate_answers(model, tokenizer, prompts, max_new_tokens=6, batch_size=1, progress=False)
    batched = generate_answers(model, tokenizer, prompts, max_new_tokens=6, batch_size=4, desc="Generating: test")
    assert len(set(one_by_one)) > 1  # distinct answers, so a mix-up of the order would show
    assert batched == one_by_one
    captured = capsys.readouterr()
    assert "Generating: test" in captured.err and "12/12 rows" in captured.err and captured.out == ""
