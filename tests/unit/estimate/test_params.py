import copy
import math

import pytest
from tiny_shapes import TINY_SHAPES

from ft_jupyter.config import MethodConfig, ModelConfig, RunConfig
from ft_jupyter.models.architecture import architecture, linear_module_names
from ft_jupyter.models.params import count_parameters
from ft_jupyter.models.shapes import SHAPES


@pytest.fixture(scope="module")
def real_models(tiny_folders):
    """One randomly initialised real model per tiny architecture."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    return {
        name: AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(folder)))
        for name, folder in tiny_folders.items()
    }


@pytest.mark.parametrize("name", sorted(TINY_SHAPES))
def test_parameter_count_and_groups_match_the_real_model(name, tiny_folders, real_models):
    model = real_models[name]
    arch = architecture(str(tiny_folders[name]))
    assert arch.params_total == sum(p.numel() for p in model.parameters())
    assert sum(arch.groups.values()) == arch.params_total
    assert arch.tied_embeddings == TINY_SHAPES[name]["tie_word_embeddings"]
    # A tied head owns no parameters of its own; an untied one is vocab × hidden.
    expected_head = 0 if arch.tied_embeddings else arch.vocab_size * arch.hidden_size
    assert arch.groups["head"] == expected_head
    assert arch.groups["embeddings"] == arch.vocab_size * arch.hidden_size
    assert arch.groups["attention"] > 0 and arch.groups["mlp"] > 0 and arch.groups["norms"] > 0


LORA_CASES = [
    dict(target_preset="all-linear"),
    dict(target_preset="attention"),
    dict(target_preset="attention-qv", r=4, bias="all"),
    dict(target_preset="custom", target_modules=("gate_proj", "down_proj"), bias="lora_only"),
    dict(target_preset="custom", target_modules=("q_proj", "v_proj", "up_proj"), bias="lora_only", use_dora=True),
    dict(target_preset="all-linear", r=2, use_dora=True, bias="all"),
]


@pytest.mark.parametrize("case", range(len(LORA_CASES)))
@pytest.mark.parametrize("name", sorted(TINY_SHAPES))
def test_lora_trainable_count_equals_what_peft_reports(name, case, tiny_folders, real_models):
    from peft import get_peft_model

    from ft_jupyter.train.translate import peft_config

    method = MethodConfig(method="lora", **LORA_CASES[case])
    config = RunConfig(model=ModelConfig(name=str(tiny_folders[name])), method=method)
    peft_model = get_peft_model(copy.deepcopy(real_models[name]), peft_config(config))
    trainable, total = peft_model.get_nb_trainable_parameters()

    counted = count_parameters(architecture(str(tiny_folders[name])), method)
    assert (counted.trainable, counted.total) == (trainable, total)
    assert sum(math.prod(shape) for shape in counted.tensors) == trainable  # the optimizer sizes these


@pytest.mark.parametrize(
    "method",
    [
        MethodConfig(method="full"),
        MethodConfig(method="freeze", freeze_train_blocks=1, freeze_train_head=True),
        MethodConfig(method="freeze", freeze_train_blocks=2, freeze_train_head=False),
        MethodConfig(method="freeze", freeze_train_blocks=0, freeze_train_head=True),
    ],
)
@pytest.mark.parametrize("name", ["llama-tied", "mistral", "gemma3"])
def test_full_and_freeze_counts_equal_the_trainer(name, method, tiny_folders, real_models):
    from ft_jupyter.train.loading import apply_method
    from ft_jupyter.train.loading import count_parameters as trainer_count

    config = RunConfig(model=ModelConfig(name=str(tiny_folders[name])), method=method)
    total, trainable = trainer_count(apply_method(copy.deepcopy(real_models[name]), config))
    counted = count_parameters(architecture(str(tiny_folders[name])), method)
    assert (counted.total, counted.trainable) == (total, trainable)


def test_targets_that_match_nothing_are_reported(tiny_folders):
    method = MethodConfig(method="lora", target_preset="custom", target_modules=("q_proj", "c_attn"))
    counted = count_parameters(architecture(str(tiny_folders["qwen2"])), method)
    assert counted.unmatched == ("c_attn",)
    assert counted.matched == ("q_proj",)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.repo_id)
def test_table_shapes_reproduce_the_model_cards_parameter_counts(shape):
    arch = architecture(shape.repo_id)
    assert arch.params_total == shape.params
    assert arch.license == shape.license
    assert arch.source.startswith("built-in table")


def test_linear_module_names_for_the_panel_checkboxes(tiny_folders):
    names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert linear_module_names("tiny-random") == names
    assert linear_module_names(str(tiny_folders["gemma3"])) == names
    assert "lm_head" not in linear_module_names("Qwen/Qwen2.5-7B-Instruct")


def test_a_config_json_path_works_like_its_folder(tiny_folders):
    folder = tiny_folders["mistral"]
    assert architecture(str(folder / "config.json")).params_total == architecture(str(folder)).params_total


def test_unknown_names_fail_with_what_works():
    from ft_jupyter.models.cache import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="Qwen/Qwen2.5-0.5B-Instruct"):
        architecture("nobody/no-such-model")
