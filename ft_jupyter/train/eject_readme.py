"""The README of an ejected project: how to run `train.py` alone, on several processes, and on a cluster."""

from __future__ import annotations

from ft_jupyter.config import RunConfig
from ft_jupyter.train.eject_script import ALWAYS_LEFT_OUT

_FILES = {
    "train.py": "the training script: plain transformers + peft + trl + datasets",
    "data/train.jsonl": "the training rows as the kit prepared them (validated, cleaned as configured, split)",
    "data/validation.jsonl": "the validation rows, evaluated during training",
    "chat_template.jinja": "the chat template the kit trains with (the model's, with generation markers)",
    "accelerate_ddp.yaml": "data parallel: one full model copy per process, GPU or CPU",
    "accelerate_zero2.yaml": "DeepSpeed ZeRO-2, with ds_zero2.json",
    "accelerate_zero3.yaml": "DeepSpeed ZeRO-3, with ds_zero3.json",
    "accelerate_fsdp.yaml": "FSDP2, GPUs only",
    "ds_zero2.json": 'DeepSpeed settings; "auto" values are filled in from train.py\'s SFTConfig',
    "ds_zero3.json": 'DeepSpeed settings; "auto" values are filled in from train.py\'s SFTConfig',
    "run_config.yaml": "the ft-jupyter run config this was ejected from (the kit reads it; train.py does not)",
    "README.md": "this file",
}


def readme(config: RunConfig, files: list[str], extras: list[str], processes: int, pins: list[str]) -> str:
    artifact = "adapter" if config.method.uses_lora else "model"
    listed = "\n".join(f"- `{name}`: {_FILES[name]}" for name in files)
    left_out = "\n".join(f"- {line}" for line in extras) or "- none: this config uses none of them."
    always = "\n".join(f"- {line}" for line in ALWAYS_LEFT_OUT)
    quantized = config.quantization.mode != "none"
    qlora_note = (
        "\nThis config loads a quantized base. Under FSDP, `train.py` stores the 4-bit weights in the "
        "compute dtype (`bnb_4bit_quant_storage`), which FSDP needs to shard them; under ZeRO-3 set the "
        "same by hand if DeepSpeed complains about mixed dtypes.\n"
        if quantized
        else ""
    )
    return f"""# Plain TRL fine-tuning: run config `{config.name}`

Ejected by `ft-jupyter eject`. `train.py` builds the same `SFTConfig`, `LoraConfig` and `BitsAndBytesConfig` that
ft-jupyter builds for this config (every value comes from the kit's own translation), trains with `trl.SFTTrainer`
and saves the result to `output/{artifact}/`. `output/trainer_state.json` keeps every logged loss (`log_history`).

## Files

{listed}

## Install

```bash
pip install {" ".join(pins)}
```

These are the versions it was generated against; newer ones usually work. Add `bitsandbytes` for a quantized base
and `deepspeed` for the ZeRO configs.

## Run

Run every command from this folder (the configs refer to their files by relative path).

```bash
python train.py                                                                   # one process
accelerate launch --config_file accelerate_ddp.yaml --num_processes {processes} train.py     # data parallel
accelerate launch --config_file accelerate_zero2.yaml --num_processes {processes} train.py   # DeepSpeed ZeRO-2
accelerate launch --config_file accelerate_zero3.yaml --num_processes {processes} train.py   # DeepSpeed ZeRO-3
accelerate launch --config_file accelerate_fsdp.yaml --num_processes {processes} train.py    # FSDP2 (GPUs)
torchrun --nproc_per_node {processes} train.py                                                 # DDP without accelerate
```

`train.py` picks the precision when it starts: bf16 on a GPU that supports it, fp16 on older GPUs, fp32 on a CPU.
Each process prints `rank R of world size N`: a world size of 1 after asking for more means the launch config
started a single process.

- **On CPU processes**: keep `use_cpu: true` and `distributed_type: MULTI_GPU` in the accelerate config.
  (`MULTI_CPU`, and `accelerate launch --cpu`, start a single process without saying so.)
- **On GPUs**: set `use_cpu: false`, and `--num_processes` to the number of GPUs.
- `per_device_train_batch_size` is per process: N processes train on N times the batch per step. Divide it (or
  `gradient_accumulation_steps`) by N in `train.py` to keep the kit's effective batch.
{qlora_note}
## On a cluster

Each machine runs the same command with its own rank; the first machine's address joins them:

```bash
accelerate launch --config_file accelerate_ddp.yaml \\
  --num_machines 2 --machine_rank $RANK_OF_THIS_MACHINE \\
  --main_process_ip $FIRST_MACHINE --main_process_port 29500 \\
  --num_processes $((2 * GPUS_PER_MACHINE)) train.py
```

`--num_processes` counts every process on every machine. Under SLURM, start one such command per node with
`srun`, taking `--machine_rank` from `$SLURM_NODEID` and `--main_process_ip` from the first host of
`scontrol show hostnames $SLURM_JOB_NODELIST`. Copy this folder (and the model folder named in `train.py`, when it is
a local path) to every machine.

## What the kit did that this script does not

This config's extras:

{left_out}

Always left out (they watch and report on a run, they do not change it):

{always}
"""
