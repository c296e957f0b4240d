"""method "head" (a classification head on the backbone): what the config accepts and what it refuses, and why."""

import pytest

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.config.jsonschema import run_config_schema


def test_head_is_a_method_with_help_text_in_the_schema():
    config = RunConfig.from_dict({"method": {"method": "head", "freeze_train_blocks": 1}})
    assert config.method.method == "head" and config.method.freeze_train_blocks == 1
    assert not config.method.uses_lora
    method = run_config_schema()["properties"]["method"]["properties"]["method"]
    assert "head" in method["enum"]
    assert "AutoModelForSequenceClassification" in method["description"] and "label data" in method["description"]
    assert RunConfig.from_yaml(config.to_yaml()) == config


@pytest.mark.parametrize(
    "data, field, fix",
    [
        ({"quantization": {"mode": "4bit"}}, "quantization.mode", "set quantization.mode to 'none'"),
        ({"quantization": {"mode": "8bit"}}, "quantization.mode", "set quantization.mode to 'none'"),
        ({"training": {"packing": True}}, "training.packing", "set it to false"),
        ({"data": {"mix_fraction": 0.1}}, "data.mix_fraction", "set it to 0"),
        ({"training": {"layer_lr_decay": 0.9}}, "training.layer_lr_decay", "set it to 1"),
        ({"training": {"unfreeze_every_steps": 5}}, "training.unfreeze_every_steps", "set it to 0"),
        ({"training": {"l2_to_init": 0.01}}, "training.l2_to_init", "set it to 0"),
        ({"training": {"ewc_lambda": 0.01}}, "training.ewc_lambda", "set it to 0"),
        ({"method": {"freeze_train_head": False}}, "method.freeze_train_head", "Set freeze_train_head to true"),
    ],
)
def test_what_a_head_run_cannot_do_is_refused_naming_the_field_and_the_fix(data, field, fix):
    data = {**data, "method": {"method": "head", **data.get("method", {})}}
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(data)
    assert field in str(err.value) and fix in str(err.value)
    assert "'head'" in str(err.value)


def test_the_same_settings_stay_allowed_for_the_other_methods():
    # The refusals are about method "head" only: freeze keeps its head switch, lora keeps packing and mixing.
    assert RunConfig.from_dict({"method": {"method": "freeze", "freeze_train_head": False}}).method.method == "freeze"
    lora = RunConfig.from_dict({"training": {"packing": True, "l2_to_init": 0.01}, "data": {"mix_fraction": 0.1}})
    assert lora.training.packing and lora.data.mix_fraction == 0.1


def test_head_with_only_the_new_head_training_is_valid():
    # freeze_train_blocks = 0 trains the head alone: unlike freeze, that is never "nothing".
    config = RunConfig.from_dict({"method": {"method": "head", "freeze_train_blocks": 0}})
    assert config.method.freeze_train_blocks == 0


def test_overrides_switch_a_run_to_head_like_the_cli():
    config = RunConfig().with_overrides({"method.method": "head", "method.freeze_train_blocks": "2"})
    assert (config.method.method, config.method.freeze_train_blocks) == ("head", 2)
    with pytest.raises(ConfigError, match="training.packing"):
        config.with_overrides({"training.packing": "true"})


def test_label_data_is_required_at_data_time():
    from ft_jupyter.train.classifier import require_labels

    config = RunConfig.from_dict({"method": {"method": "head"}, "data": {"dataset": "my_chats.jsonl"}})
    with pytest.raises(ConfigError) as err:
        require_labels(config, None, "messages")
    message = str(err.value)
    assert "method.method = 'head'" in message and "my_chats.jsonl" in message and "has no labels" in message
    assert "method.method to 'lora'" in message  # what to do
    with pytest.raises(ConfigError, match="at least two labels"):
        require_labels(config, ("billing",), "classification")
    assert require_labels(config, ("billing", "question"), "classification") == ("billing", "question")
