"""The estimate's parameter counts for method "head" equal those of the classifier the trainer builds and freezes."""

import math

import pytest

from ft_jupyter.config import MethodConfig, ModelConfig, RunConfig
from ft_jupyter.models.architecture import architecture
from ft_jupyter.models.params import count_parameters

LABELS = 5


def _classifier(folder, num_labels):
    """A randomly initialised sequence classifier of the architecture saved in `folder` (no weights needed)."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_config(
        AutoConfig.from_pretrained(str(folder), num_labels=num_labels)
    )


@pytest.mark.parametrize("blocks", [0, 1, 2])
@pytest.mark.parametrize("name", ["llama-tied", "llama-untied-bias", "qwen2", "mistral"])
def test_head_counts_equal_the_trainer(name, blocks, tiny_folders):
    from ft_jupyter.train.classifier import freeze_backbone
    from ft_jupyter.train.loading import count_parameters as trainer_count

    method = MethodConfig(method="head", freeze_train_blocks=blocks)
    config = RunConfig(model=ModelConfig(name=str(tiny_folders[name])), method=method)
    model = _classifier(tiny_folders[name], LABELS)
    assert freeze_backbone(model, config, LABELS) == "score"
    total, trainable = trainer_count(model)
    counted = count_parameters(architecture(str(tiny_folders[name])), method, LABELS)
    assert (counted.total, counted.trainable) == (total, trainable)
    assert sum(math.prod(shape) for shape in counted.tensors) == trainable  # the optimizer sizes these
    arch = architecture(str(tiny_folders[name]))
    assert counted.trainable >= arch.hidden_size * LABELS
    assert (counted.trainable == arch.hidden_size * LABELS) == (blocks == 0)


def test_without_the_number_of_labels_the_head_is_left_out_and_the_count_says_so(tiny_folders):
    arch = architecture(str(tiny_folders["llama-tied"]))
    method = MethodConfig(method="head", freeze_train_blocks=1)
    known, unknown = count_parameters(arch, method, LABELS), count_parameters(arch, method)
    assert known.trainable - unknown.trainable == arch.hidden_size * LABELS
    assert any("not counted" in line for line in unknown.lines)
    assert any(f"{arch.hidden_size} × {LABELS}" in line for line in known.lines)


def test_too_many_blocks_is_refused_with_the_limit(tiny_folders):
    from ft_jupyter.config import ConfigError

    with pytest.raises(ConfigError, match="use at most 3"):
        count_parameters(
            architecture(str(tiny_folders["llama-tied"])), MethodConfig(method="head", freeze_train_blocks=4), 2
        )


def test_estimate_reads_the_labels_from_the_data_when_it_may():
    from ft_jupyter.models.estimate import estimate_run

    config = RunConfig(model=ModelConfig(name="tiny-random"), method=MethodConfig(method="head", freeze_train_blocks=0))
    measured = estimate_run(config, device="cpu")
    # support-emails has 5 labels and tiny-random a hidden size of 128: only the new head trains.
    assert measured.params_trainable == 128 * 5
    assert not any("not counted" in w for w in measured.warnings)
    blind = estimate_run(config, device="cpu", measure_data=False)
    assert blind.params_trainable == 0
    assert any("not counted" in w and "measure_data is off" in w for w in blind.warnings)
