"""General-text mixing: the share asked for, seeded, training rows only."""

import pytest

from ft_jupyter.config import ConfigError, DataConfig
from ft_jupyter.data.mixing import general_examples_needed, mix_general_text
from ft_jupyter.data.prepare import Example


def _task(n):
    return [
        Example(({"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}), "a") for i in range(n)
    ]


def test_the_fraction_is_of_the_mixed_set():
    assert general_examples_needed(90, 0.1) == 10
    assert general_examples_needed(90, 0.0) == 0


def test_mixing_adds_general_rows_seeded_and_shuffled():
    task = _task(90)
    mixed, added = mix_general_text(task, DataConfig(mix_fraction=0.1), seed=3)
    assert added == 10 and len(mixed) == 100
    general = [e for e in mixed if e.label is None]
    assert len(general) == 10 and all(e.messages[-1]["role"] == "assistant" for e in general)
    assert mixed != task + general  # shuffled in, not appended
    assert mix_general_text(task, DataConfig(mix_fraction=0.1), seed=3)[0] == mixed
    assert mix_general_text(task, DataConfig(), seed=3) == (task, 0)


def test_a_mix_source_without_text_is_refused(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"prompt": "p", "completion": "c"}\n')
    with pytest.raises(ConfigError, match="mix_dataset"):
        mix_general_text(_task(10), DataConfig(mix_fraction=0.2, mix_dataset=str(path)), seed=0)
