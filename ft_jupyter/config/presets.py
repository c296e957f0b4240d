"""Named starting points. Each is an ordinary RunConfig; change any field afterwards."""

from __future__ import annotations

from ft_jupyter.config.run import RunConfig
from ft_jupyter.config.schema import ConfigError
from ft_jupyter.config.sections import DataConfig, MethodConfig, ModelConfig, QuantizationConfig, TrainingConfig


def _cpu_quickstart() -> RunConfig:
    """LoRA on SmolLM2-135M and the bundled emails, sized to train in ~5 minutes on a 2-core CPU."""
    # Sized for a 2-core CPU: about 5 minutes from the command to three accuracies on the bundled emails
    # (benchmarks/RESULTS.md has the accuracy-against-time table behind each choice).
    # - group_by_length and a short system prompt (without one SmolLM2's template adds a 20-token default to every
    #   row): an epoch costs ~41k tokens instead of ~69k.
    # - warmup-stable-decay holds the peak rate, and alpha = 4 × r scales the update up: accuracy jumps from ~65 % to
    #   over 90 % once the model separates complaint, feedback and question, and both move that jump earlier.
    return RunConfig(
        name="quickstart",
        model=ModelConfig(name="smollm2-135m-instruct"),
        method=MethodConfig(method="lora", r=16, alpha=64, target_preset="all-linear"),
        data=DataConfig(dataset="support-emails", system_prompt="You sort customer emails."),
        # 224: the longest support email is 221 SmolLM2 tokens; 160 cut off (and so dropped) 10 training answers.
        training=TrainingConfig(
            max_steps=48,
            batch_size=8,
            learning_rate=1e-3,
            warmup_ratio=0.1,
            max_seq_len=224,
            scheduler="wsd",
            decay_ratio=0.2,
            group_by_length=True,
        ),
    )


def _tiny_smoke() -> RunConfig:
    """A seconds-long run of the tiny random model: checks the whole pipeline, learns nothing useful."""
    return RunConfig(
        name="smoke",
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=200),
        # tiny-random's 1k-token vocabulary needs ~1.4x SmolLM2's tokens: 320 fits every support email.
        training=TrainingConfig(max_steps=10, batch_size=8, learning_rate=5e-3, max_seq_len=320),
    )


def _qlora_t4() -> RunConfig:
    """QLoRA on a 7B model within a 16 GB T4: 4-bit base, adapters on every linear layer."""
    # A budget recipe for a 16 GB T4: 4-bit base, LoRA on every linear layer, small batch with accumulation, one epoch.
    return RunConfig(
        name="qlora-t4",
        model=ModelConfig(name="Qwen/Qwen2.5-7B-Instruct"),
        quantization=QuantizationConfig(mode="4bit", quant_type="nf4", double_quant=True),
        method=MethodConfig(method="qlora", r=16, alpha=32, target_preset="all-linear"),
        training=TrainingConfig(
            epochs=1,
            batch_size=2,
            grad_accum=8,
            learning_rate=2e-4,
            max_seq_len=1024,
            gradient_checkpointing=True,
            save_total_limit=1,
        ),
    )


def _full_small() -> RunConfig:
    """Full fine-tuning of SmolLM2-135M: every weight trains, at a learning rate 10x below LoRA's."""
    # Full fine-tuning wants a learning rate ~10x below LoRA's and some weight decay.
    return RunConfig(
        name="full",
        model=ModelConfig(name="smollm2-135m-instruct"),
        method=MethodConfig(method="full"),
        training=TrainingConfig(
            epochs=3,
            batch_size=8,
            grad_accum=2,
            learning_rate=2e-5,
            weight_decay=0.01,
            warmup_ratio=0.1,
            max_seq_len=256,
        ),
    )


PRESETS = {
    "cpu-quickstart": _cpu_quickstart,
    "tiny-smoke": _tiny_smoke,
    "qlora-t4": _qlora_t4,
    "full-small": _full_small,
}


# One line per preset, for the "start from" menus.
PRESET_HELP = {name: (factory.__doc__ or "").strip() for name, factory in PRESETS.items()}


def preset(name: str) -> RunConfig:
    if name not in PRESETS:
        raise ConfigError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return PRESETS[name]()


def config_from(name: str) -> RunConfig:
    """A YAML file when one exists at `name` (or it ends in .yaml/.yml), else the preset of that name."""
    from pathlib import Path

    if Path(name).is_file() or name.endswith((".yaml", ".yml")):
        return RunConfig.load(name)
    if name in PRESETS:
        return preset(name)
    raise ConfigError(
        f"{name!r} is neither a config file nor a preset; give a YAML path or one of: {', '.join(sorted(PRESETS))}."
    )
