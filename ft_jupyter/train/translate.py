"""The one place a RunConfig becomes Hugging Face objects: precision, BitsAndBytesConfig, LoraConfig, SFTConfig (and
TrainingArguments for the classification-head method)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.models.loading import hardware_precision, torch_dtype

STRATEGY_ENV = "FT_JUPYTER_STRATEGY"  # set by `ft-jupyter launch` in every process it starts


@dataclass(frozen=True)
class Precision:
    name: str  # "bf16" | "fp16" | "fp32"
    device: str  # "cuda" | "cpu" | "mps"
    reason: str

    @property
    def torch_dtype(self):
        return torch_dtype(self.name)


def detect_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def choose_precision(config: RunConfig) -> Precision:
    """Pick bf16/fp16/fp32 from the hardware when precision is auto, and refuse combinations that cannot work."""
    import torch

    device = detect_device()
    asked = config.training.precision
    bf16_ok = device == "cuda" and torch.cuda.is_bf16_supported()
    if asked == "auto":
        name = hardware_precision()  # what inference picks too
        reason = {
            "bf16": "this GPU supports bfloat16: float32's range, no loss scaling needed",
            "fp16": "this GPU lacks bfloat16, so float16 with automatic loss scaling",
            "fp32": f"training on {device.upper()}: float32 is the fast and safe choice there",
        }[name]
        return Precision(name, device, reason)
    if asked == "bf16" and device == "cuda" and not bf16_ok:
        raise ConfigError(
            "training.precision = 'bf16' but this GPU does not support bfloat16 (pre-Ampere); use 'fp16' or 'auto'."
        )
    if asked == "fp16" and device != "cuda":
        raise ConfigError(
            f"training.precision = 'fp16' needs a CUDA GPU (this run is on {device}); use 'auto' or 'fp32'."
        )
    return Precision(asked, device, "set in the config")


def bnb_config(config: RunConfig, precision: Precision):
    """BitsAndBytesConfig for 8-bit/4-bit loading, or None."""
    quant = config.quantization
    if quant.mode == "none":
        return None
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        from ft_jupyter.install import install_line

        raise ConfigError(f"quantization.mode needs bitsandbytes: {install_line('bitsandbytes')}") from None
    import torch
    from transformers import BitsAndBytesConfig

    if quant.mode == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    compute = {
        "auto": precision.torch_dtype,
        "bfloat16": torch.bfloat16,
        "float16": torch.float16,
        "float32": torch.float32,
    }[quant.compute_dtype]
    # Under FSDP and ZeRO-3 the packed 4-bit weights are sharded with everything else: they must be stored in the
    # same dtype as the rest (QLoRA + FSDP / ZeRO-3), which the launcher says through FT_JUPYTER_STRATEGY.
    sharded = os.environ.get(STRATEGY_ENV) in ("fsdp", "zero3")
    storage = {"bnb_4bit_quant_storage": compute} if sharded else {}
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant.quant_type,
        bnb_4bit_use_double_quant=quant.double_quant,
        bnb_4bit_compute_dtype=compute,
        **storage,
    )


def peft_config(config: RunConfig):
    """peft.LoraConfig for lora/qlora, else None."""
    method = config.method
    if not method.uses_lora:
        return None
    from peft import LoraConfig

    targets = method.resolved_targets()
    return LoraConfig(
        r=method.r,
        lora_alpha=method.alpha,
        lora_dropout=method.dropout,
        bias=method.bias,
        target_modules="all-linear" if targets == ("all-linear",) else list(targets),
        use_rslora=method.use_rslora,
        use_dora=method.use_dora,
        task_type="CAUSAL_LM",
    )


def total_steps(config: RunConfig, train_rows: int, processes: int | None = None) -> int:
    """Optimizer steps of the run: max_steps, or `epochs` over `train_rows` when each of `processes` data-parallel
    processes takes batch_size × grad_accum of its share of the rows per step (the distributed sampler's split).
    `processes` defaults to this launch's (`launched_processes()`), so every kind of run counts the same way."""
    t = config.training
    if t.max_steps > 0:
        return t.max_steps
    processes = launched_processes() if processes is None else processes
    per_process = math.ceil(train_rows / max(1, processes))
    per_epoch = math.ceil(math.ceil(per_process / t.batch_size) / t.grad_accum)
    return max(1, math.ceil(per_epoch * t.epochs))


def launched_processes() -> int:
    """How many processes train this run together: WORLD_SIZE under torchrun / accelerate launch, else 1."""
    return int(os.environ.get("WORLD_SIZE", "1"))


# training.optimizer → transformers' optimizer names. "adamw" is transformers' own default (fused AdamW), so a run
# with defaults trains exactly like a plain SFTTrainer script.
OPTIMIZERS = {
    "adamw": "adamw_torch_fused",
    "adamw-8bit": "adamw_bnb_8bit",
    "paged-adamw-8bit": "paged_adamw_8bit",
    "adafactor": "adafactor",
    "sgd": "sgd",
}


def check_run_needs(config: RunConfig, has_eval: bool) -> None:
    """What only shows once the data is split and the libraries are known: ConfigError when the run cannot work."""
    t = config.training
    if (t.early_stopping_patience or t.load_best_at_end) and not has_eval:
        raise ConfigError(
            "training.early_stopping_patience / training.load_best_at_end watch the eval loss, but "
            "there is no validation split (data.validation_fraction is 0 or the data is too small); "
            "set data.validation_fraction, e.g. 0.1."
        )
    if t.optimizer.endswith("8bit"):
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            from ft_jupyter.install import install_line

            raise ConfigError(
                f"training.optimizer = {t.optimizer!r} needs bitsandbytes: {install_line('bitsandbytes')}"
            ) from None


def packed_rows(lengths: list[int], max_length: int) -> int:
    """How many sequences TRL's "bfd" packing makes of rows with these token counts (it depends on nothing else)."""
    from datasets import Dataset
    from trl import pack_dataset

    rows = Dataset.from_dict({"input_ids": [[0] * n for n in lengths]})
    return len(pack_dataset(rows, max_length, strategy="bfd"))


def _step_plan(config: RunConfig, steps: int, has_eval: bool) -> dict:
    """The SFTConfig arguments that follow from the number of optimizer steps: when to evaluate, save and decay."""
    t = config.training
    return {
        "max_steps": steps,
        "lr_scheduler_kwargs": {"num_decay_steps": max(1, round(steps * t.decay_ratio))}
        if t.scheduler == "wsd"
        else {},
        "eval_steps": (t.eval_steps or steps) if has_eval else None,
        **_save_plan(config, steps),
    }


def fit_steps_to_packing(config: RunConfig, args, packed: int) -> int:
    """With packing and `epochs`, count an epoch in packed sequences (`packed`, known once TRL has packed the rows)
    rather than in rows, and set the step-dependent arguments of the trainer's `args` to match; returns the steps."""
    if not config.training.packing or config.training.max_steps > 0:
        return args.max_steps
    steps = total_steps(config, packed)
    plan = _step_plan(config, steps, has_eval=args.eval_strategy != "no")
    for name in ("max_steps", "lr_scheduler_kwargs", "eval_steps", "save_steps"):  # read by train(), not before
        setattr(args, name, plan[name])
    return steps


def _save_plan(config: RunConfig, steps: int) -> dict:
    """When to save: every save_steps, or at each evaluation when the best checkpoint must be kept."""
    t = config.training
    if t.load_best_at_end:
        return {
            "save_strategy": "steps",
            "save_steps": t.save_steps or t.eval_steps,
            "load_best_model_at_end": True,
            "metric_for_best_model": "eval_loss",
            "greater_is_better": False,
        }
    return {"save_strategy": "steps" if t.save_steps else "no", "save_steps": t.save_steps or steps}


def _trainer_arguments(config: RunConfig, precision: Precision, output_dir: Path, steps: int, has_eval: bool) -> dict:
    """The transformers.TrainingArguments both trainers share: schedule, batches, precision, saving, logging."""
    t = config.training
    scheduler = {
        "cosine": "cosine",
        "linear": "linear",
        "constant": "constant_with_warmup",
        "wsd": "warmup_stable_decay",
    }[t.scheduler]
    return dict(
        output_dir=str(output_dir),
        **_step_plan(config, steps, has_eval),
        learning_rate=t.learning_rate,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        lr_scheduler_type=scheduler,
        warmup_steps=t.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=t.weight_decay,
        bf16=precision.name == "bf16",
        fp16=precision.name == "fp16",
        use_cpu=precision.device == "cpu",
        activation_checkpointing=t.gradient_checkpointing,
        eval_strategy="steps" if has_eval else "no",
        save_total_limit=t.save_total_limit,
        optim=OPTIMIZERS[t.optimizer],
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        logging_steps=t.logging_steps,
        logging_first_step=True,
        logging_nan_inf_filter=False,  # the health checks must see NaN/inf losses, not a smoothed-over average
        seed=t.seed,
        data_seed=t.seed,
        report_to="none",
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        save_only_model=False,
    )


def sft_config(config: RunConfig, precision: Precision, output_dir: Path, steps: int, has_eval: bool):
    from trl import SFTConfig

    t = config.training
    return SFTConfig(
        **_trainer_arguments(config, precision, output_dir, steps, has_eval),
        max_length=t.max_seq_len,
        assistant_only_loss=t.assistant_only_loss,
        # "bfd" packs whole rows (each cut at max_length, as without packing) and turns on TRL's padding-free
        # batches: one flat row per batch whose position_ids restart at 0 for every packed row, no attention mask.
        # transformers builds a block-diagonal causal mask from such position_ids (eager, sdpa, flex) and flash
        # attention reads the row boundaries from them, so packed rows never attend to each other; labels keep the
        # assistant-only mask row by row. "wrapped" would cut rows mid-conversation and let them attend across.
        packing=t.packing,
        packing_strategy="bfd",
        # Evaluation stays unpacked so eval loss means the same, batch for batch, with packing on or off.
        eval_packing=False if t.packing else None,
    )


def classifier_arguments(config: RunConfig, precision: Precision, output_dir: Path, steps: int, has_eval: bool):
    """transformers.TrainingArguments for method "head": the same schedule and settings as an SFT run, minus the
    language-model options (sequence length is applied when the rows are tokenized, see train.classifier)."""
    from transformers import TrainingArguments

    return TrainingArguments(**_trainer_arguments(config, precision, output_dir, steps, has_eval))
