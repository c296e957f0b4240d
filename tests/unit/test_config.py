import dataclasses

import pytest

from ft_jupyter.config import (
    PRESETS,
    SECTIONS,
    ConfigError,
    MethodConfig,
    RunConfig,
    TrainingConfig,
    field_help,
    preset,
)
from ft_jupyter.config.run import parse_overrides


def test_defaults_round_trip_through_yaml_exactly():
    config = RunConfig()
    assert RunConfig.from_yaml(config.to_yaml()) == config


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid_and_round_trips(name):
    config = preset(name)
    assert RunConfig.from_yaml(config.to_yaml()) == config


def test_round_trip_keeps_non_default_values_and_custom_targets(tmp_path):
    config = RunConfig(
        name="exp-1",
        method=MethodConfig(r=8, alpha=16, target_preset="custom", target_modules=("q_proj", "v_proj"), use_dora=True),
        training=TrainingConfig(learning_rate=1e-5, scheduler="wsd", decay_ratio=0.3, max_steps=7),
    )
    path = config.save(tmp_path / "run.yaml")
    again = RunConfig.load(path)
    assert again == config
    assert again.method.target_modules == ("q_proj", "v_proj")


def test_every_field_has_help_text():
    helps = field_help()
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            assert helps[section][f.name].strip(), f"{section}.{f.name} has no help text"


@pytest.mark.parametrize(
    "data, field, fragment",
    [
        ({"method": {"r": 0}}, "method.r", "≥ 1"),
        ({"method": {"dropout": 1.5}}, "method.dropout", "≤ 0.9"),
        ({"training": {"learning_rate": -1}}, "training.learning_rate", "> 0"),
        ({"training": {"scheduler": "cosin"}}, "training.scheduler", "Did you mean 'cosine'"),
        ({"training": {"batch_size": "eight"}}, "training.batch_size", "an integer"),
        ({"training": {"max_steps": 0}}, "training.max_steps", "-1"),
        ({"quantization": {"mode": "3bit"}}, "quantization.mode", "'none', '8bit', '4bit'"),
        ({"model": {"name": "  "}}, "model.name", "catalogue name"),
    ],
)
def test_bad_values_name_the_field_the_value_and_what_is_allowed(data, field, fragment):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(data)
    message = str(err.value)
    assert field in message
    assert fragment in message


def test_unknown_keys_suggest_the_closest_known_key():
    with pytest.raises(ConfigError, match="Did you mean 'learning_rate'"):
        RunConfig.from_dict({"training": {"learning_rat": 1e-4}})
    with pytest.raises(ConfigError, match="Did you mean 'training'"):
        RunConfig.from_dict({"trainig": {}})


def test_yaml_errors_point_at_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  learning_rate: [1,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+"):
        RunConfig.load(path)
    path.write_text("training:\n  epoch: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: Unknown setting 'training.epoch'. Did you mean 'epochs'"):
        RunConfig.load(path)


def test_missing_config_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        RunConfig.load(tmp_path / "nope.yaml")


def test_exponent_without_dot_is_read_as_a_number():
    # YAML 1.1 reads 2e-4 as a string; a person means the number.
    config = RunConfig.from_yaml("training:\n  learning_rate: 2e-4\n")
    assert config.training.learning_rate == pytest.approx(2e-4)
    assert isinstance(config.training.learning_rate, float)


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"method": {"method": "qlora"}}, "needs quantization.mode = '4bit'"),
        ({"quantization": {"mode": "4bit"}}, "is QLoRA"),
        ({"method": {"method": "full"}, "quantization": {"mode": "8bit"}}, "cannot be updated while quantized"),
        ({"method": {"method": "freeze", "freeze_train_blocks": 0, "freeze_train_head": False}}, "trains nothing"),
        ({"method": {"target_preset": "custom"}}, "target_modules is empty"),
        ({"data": {"validation_fraction": 0.5, "test_fraction": 0.45}}, "leaves almost nothing"),
    ],
)
def test_impossible_combinations_are_refused(data, fragment):
    with pytest.raises(ConfigError, match=fragment):
        RunConfig.from_dict(data)


def test_valid_combinations_are_accepted():
    qlora = RunConfig.from_dict({"method": {"method": "qlora"}, "quantization": {"mode": "4bit"}})
    assert qlora.method.uses_lora
    eight_bit = RunConfig.from_dict({"quantization": {"mode": "8bit"}})
    assert eight_bit.method.method == "lora"


def test_overrides_parse_strings_like_the_cli_gives_them():
    config = RunConfig().with_overrides(
        {"method.r": "8", "training.learning_rate": "1e-4", "training.gradient_checkpointing": "true", "name": "try-2"}
    )
    assert config.method.r == 8
    assert config.training.learning_rate == pytest.approx(1e-4)
    assert config.training.gradient_checkpointing is True
    assert config.name == "try-2"
    with pytest.raises(ConfigError, match="Did you mean 'r'"):
        RunConfig().with_overrides({"method.rr": "8"})


def test_set_arguments_split_at_the_first_equals_sign():
    pairs = parse_overrides([" training.learning_rate =1e-4", "data.instruction=Answer: a=b"])
    assert pairs == {"training.learning_rate": "1e-4", "data.instruction": "Answer: a=b"}
    for bad in ("training.learning_rate", "=1e-4"):
        with pytest.raises(ConfigError, match=f"--set '{bad}' must look like section.field=value"):
            parse_overrides([bad])


def test_override_text_with_a_colon_stays_text():
    instruction = "Classify the email into one of: billing, bug_report, question."
    config = RunConfig().with_overrides({"data.instruction": instruction, "data.system_prompt": "Note: be brief."})
    assert config.data.instruction == instruction and config.data.system_prompt == "Note: be brief."
    assert RunConfig().with_overrides(
        {"method.target_modules": "[q_proj, v_proj]", "method.target_preset": "custom"}
    ).method.target_modules == ("q_proj", "v_proj")


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunConfig().training.learning_rate = 1.0


def test_effective_batch():
    assert TrainingConfig(batch_size=4, grad_accum=4).effective_batch == 16


def test_bad_run_name_is_refused():
    with pytest.raises(ConfigError, match="name = '../x'"):
        RunConfig(name="../x")
