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


def test_shared_prefix_is_found_only_when_long_and_most_of_each_prompt():
    from ft_jupyter.evaluate.generation import shared_prefix_length

    common = list(range(100))
    assert shared_prefix_length([common + [1, 2], common + [3], common + [1, 5, 6]]) == 100
    assert shared_prefix_length([common, common]) == 99  # one token always stays with each row
    assert shared_prefix_length([common[:20] + [1], common[:20] + [2]]) == 0  # too short to be worth it
    assert shared_prefix_length([common + list(range(500, 800)), common + [7]]) == 0  # a small part of the prompts
    assert shared_prefix_length([common + [1]]) == 0  # one prompt: nothing to share


def test_few_shot_prompts_share_their_prefix_and_answer_as_without_sharing(tiny_model, monkeypatch):
    from ft_jupyter.config import DataConfig
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.evaluate import generation
    from ft_jupyter.evaluate.prompting import default_system_prompt, few_shot_examples, with_prompt

    model, tokenizer = tiny_model
    data = prepare(DataConfig(dataset="support-emails"), seed=7)
    shots = few_shot_examples(data.train, data.test, 5, seed=7, labels=data.labels)
    prompts = [e.prompt for e in with_prompt(data.test[:16], shots, default_system_prompt(data.labels))]
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert generation.shared_prefix_length(ids) > 300  # system prompt + five worked examples
    shared = generation.generate_answers(model, tokenizer, prompts, max_new_tokens=6, batch_size=4, progress=False)
    monkeypatch.setattr(generation, "SHARED_PREFIX_MIN_TOKENS", 10**9)  # the plain batched path
    plain = generation.generate_answers(model, tokenizer, prompts, max_new_tokens=6, batch_size=4, progress=False)
    assert len(set(plain)) > 1 and shared == plain
