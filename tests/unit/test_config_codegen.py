"""'Show as code' must rebuild the exact config, whatever text a person typed."""

import pytest

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig, preset
from ft_jupyter.config.codegen import config_to_code


def rebuild(code: str) -> RunConfig:
    namespace: dict = {}
    exec(compile(code, "<generated>", "exec"), namespace)
    return namespace["config"]


@pytest.mark.parametrize("name", ["cpu-quickstart", "qlora-t4", "full-small", "tiny-smoke"])
def test_presets_round_trip_through_generated_code(name):
    config = preset(name)
    assert rebuild(config_to_code(config)) == config


def test_text_with_quotes_newlines_and_backslashes_survives():
    tricky = 'Say "hi"\n\'quoted\' \\ back\\slash """ triple \u00e9\u4e2d {x} %s'
    config = RunConfig(
        name="odd.name-1",
        runs_dir="my runs/it's here",
        model=ModelConfig(name='/tmp/models/it\'s "mine"'),
        method=MethodConfig(target_preset="custom", target_modules=("q_proj", "v'proj")),
        data=DataConfig(instruction=tricky, system_prompt="line1\nline2\ttab"),
        training=TrainingConfig(learning_rate=3.3e-5, epochs=2.5),
    )
    code = config_to_code(config)
    assert rebuild(code) == config
    assert "__import__" not in code and tricky not in code  # the value went in as a literal, not as raw text


def test_a_default_config_needs_no_sections():
    code = config_to_code(RunConfig())
    assert rebuild(code) == RunConfig()
    assert "TrainingConfig" not in code


def test_variable_must_be_an_identifier():
    with pytest.raises(ValueError, match="identifier"):
        config_to_code(RunConfig(), variable="x = 1; import os")
