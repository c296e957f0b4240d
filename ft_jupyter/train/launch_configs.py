"""The files a multi-process run is launched with: accelerate's config and, for ZeRO, DeepSpeed's JSON.

Strategies and what each one shards across the N processes (see models/sharding.py for the memory it saves):
  ddp    nothing: every process holds the whole model, gradients are averaged (all-reduce) after each step
  zero1  optimizer states (DeepSpeed ZeRO stage 1)
  zero2  optimizer states and gradients (stage 2)
  zero3  optimizer states, gradients and the weights themselves, gathered layer by layer when used (stage 3)
  fsdp   PyTorch FSDP2 full shard: like zero3, wrapping each decoder layer as one unit
With `offload`, ZeRO keeps optimizer states (and for zero3 the weights) in CPU memory.

On a machine without CUDA the same strategies run as CPU processes on the gloo backend. Two traps found by trying:
accelerate's MULTI_CPU type (and `--cpu --num_processes 2`) silently starts ONE process, so CPU runs use MULTI_GPU
with use_cpu; and accelerate's FSDP path needs GPUs, so fsdp is refused on CPU with what to use instead.
"""

from __future__ import annotations

from typing import Any

from ft_jupyter.config import ConfigError, RunConfig

STRATEGIES = ("ddp", "zero1", "zero2", "zero3", "fsdp")
ZERO_STAGES = {"zero1": 1, "zero2": 2, "zero3": 3}


def check_launch(strategy: str, processes: int, offload: bool, *, cuda: bool) -> None:
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}.")
    if not isinstance(processes, int) or processes < 1:
        raise ConfigError(f"processes must be a whole number ≥ 1, got {processes!r}.")
    if offload and strategy not in ZERO_STAGES:
        raise ConfigError(
            f"offload moves ZeRO's optimizer states to CPU memory; it needs zero1/zero2/zero3, not {strategy}."
        )
    if strategy == "fsdp" and not cuda:
        raise ConfigError(
            "accelerate's FSDP needs CUDA GPUs (on CPU it silently runs plain DDP or fails with 'no "
            "available devices'); on this machine use --strategy ddp, zero2 or zero3."
        )
    if strategy in ZERO_STAGES:
        import importlib.util

        if importlib.util.find_spec("deepspeed") is None:
            raise ConfigError(
                f"strategy {strategy} runs on DeepSpeed, which is not installed: "
                "pip install 'ft-jupyter[deepspeed]' (or pip install deepspeed)."
            )


def mixed_precision(precision: str) -> str:
    return {"bf16": "bf16", "fp16": "fp16"}.get(precision, "no")


def deepspeed_config(strategy: str, offload: bool) -> dict[str, Any]:
    """DeepSpeed's JSON with "auto" where the Trainer fills in the run's own values (batch, accumulation,
    clipping, precision), so the file never disagrees with the config."""
    stage = ZERO_STAGES[strategy]
    zero: dict[str, Any] = {"stage": stage, "overlap_comm": False, "contiguous_gradients": True}
    if offload:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": False}
        if stage == 3:
            zero["offload_param"] = {"device": "cpu", "pin_memory": False}
    if stage == 3:
        # Saving must gather the sharded weights into whole tensors, or the adapter on disk holds empty shards.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "zero_optimization": zero,
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
    }


def accelerate_config(
    strategy: str,
    processes: int,
    *,
    cuda: bool,
    precision: str,
    deepspeed_file: str | None = None,
    wrap_class: str | None = None,
) -> dict[str, Any]:
    """accelerate's launch config for one machine with `processes` processes (GPUs, or CPU processes)."""
    common: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "machine_rank": 0,
        "num_machines": 1,
        "num_processes": processes,
        "mixed_precision": mixed_precision(precision),
        "use_cpu": not cuda,
        "main_training_function": "main",
        "rdzv_backend": "static",
        "same_network": True,
        "downcast_bf16": "no",
    }
    if strategy in ZERO_STAGES:
        # Precision lives in the DeepSpeed JSON ("auto" = the run's own); accelerate refuses a second source.
        common.pop("mixed_precision")
        return {
            **common,
            "distributed_type": "DEEPSPEED",
            "deepspeed_config": {
                "deepspeed_config_file": deepspeed_file,
                "zero3_init_flag": ZERO_STAGES[strategy] == 3,
            },
        }
    if strategy == "fsdp":
        fsdp = {
            "fsdp_version": 2,
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_transformer_layer_cls_to_wrap": wrap_class,
            "fsdp_reshard_after_forward": True,
            # Saving gathers whole tensors, so the adapter on disk loads anywhere (not one shard per rank).
            "fsdp_state_dict_type": "FULL_STATE_DICT",
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_offload_params": False,
            # The run's own gradient_checkpointing setting applies; transformers refuses both at once.
            "fsdp_activation_checkpointing": False,
        }
        # No use_orig_params: FSDP2 always keeps the original parameters, so frozen base weights and trainable LoRA
        # weights can share a unit. QLoRA's other need, 4-bit storage in the compute dtype, is set where the
        # BitsAndBytesConfig is built (translate.bnb_config under FT_JUPYTER_STRATEGY=fsdp).
        return {**common, "distributed_type": "FSDP", "fsdp_config": fsdp}
    # DDP: MULTI_GPU also on CPU (with use_cpu); MULTI_CPU would start a single process.
    return {**common, "distributed_type": "MULTI_GPU" if processes > 1 else "NO"}


def decoder_layer_class(config: RunConfig) -> str:
    """The model's own decoder-layer class (what FSDP wraps as one unit), read from its config without weights."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    from ft_jupyter.models.catalogue import resolve

    hf_config = AutoConfig.from_pretrained(
        resolve(config.model.name, revision=config.model.revision), trust_remote_code=config.model.trust_remote_code
    )
    model_class = MODEL_FOR_CAUSAL_LM_MAPPING.get(type(hf_config), None)
    layers = list(getattr(model_class, "_no_split_modules", None) or [])
    if not layers:
        raise ConfigError(
            f"{config.model.name}: cannot tell which decoder-layer class FSDP should wrap (the model "
            "class lists no _no_split_modules); use ddp or zero3."
        )
    return layers[0]
