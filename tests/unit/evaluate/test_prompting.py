from ft_jupyter.config import DataConfig
from ft_jupyter.data.prepare import Example, prepare
from ft_jupyter.evaluate.prompting import default_system_prompt, few_shot_examples, prompted_messages, with_prompt


def _ex(text, label):
    return Example(({"role": "user", "content": text}, {"role": "assistant", "content": label}), label)


def test_few_shot_examples_come_from_train_and_never_from_test():
    data = prepare(DataConfig(dataset="support-emails"), seed=3)
    test_prompts = {e.prompt[-1]["content"] for e in data.test}
    for seed in range(5):
        shots = few_shot_examples(data.train, data.test, 5, seed=seed, labels=data.labels)
        assert len(shots) == 5 and all(s in data.train for s in shots)
        assert not {s.prompt[-1]["content"] for s in shots} & test_prompts
        assert sorted(s.label for s in shots) == sorted(data.labels)  # one per label


def test_a_training_row_duplicated_in_test_is_never_a_shot():
    leaked = _ex("My invoice is wrong", "billing")
    train = [leaked, _ex("App crashes on start", "bug_report"), _ex("Where is my parcel?", "question")]
    test = [_ex("My invoice is wrong", "billing")]
    shots = few_shot_examples(train, test, 3)
    assert leaked not in shots and len(shots) == 2


def test_prompted_messages_put_system_prompt_shots_then_the_question():
    shots = [_ex("Refund me twice charged", "billing")]
    example = Example(
        (
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "App crashes"},
            {"role": "assistant", "content": "bug_report"},
        ),
        "bug_report",
    )
    messages = prompted_messages(example, shots, default_system_prompt(("billing", "bug_report")))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "billing, bug_report" in messages[0]["content"] and "Be brief." in messages[0]["content"]
    assert messages[-1]["content"] == "App crashes"  # the answer itself is never in the prompt


def test_with_prompt_keeps_the_reference_so_prompted_rows_score_like_the_originals():
    shots = [_ex("Refund me twice charged", "billing"), _ex("App crashes", "bug_report")]
    rows = [_ex("Why was I billed twice?", "billing"), _ex("Login button does nothing", "bug_report")]
    prompted = with_prompt(rows, shots, default_system_prompt(("billing", "bug_report")))
    for original, row in zip(rows, prompted, strict=True):
        assert row.label == original.label and row.answer == original.answer and row.where == original.where
        assert row.prompt == prompted_messages(original, shots, default_system_prompt(("billing", "bug_report")))
        assert original.answer not in [m["content"] for m in row.prompt[-1:]]  # its own answer is never shown
