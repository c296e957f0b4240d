"""`eject(config, DIR)`: a run config handed over as a plain TRL project that needs nothing from ft-jupyter.

DIR gets `train.py` (rendered by eject_script.py from the objects `translate.py` builds, so it trains as the kit
does), the prepared rows in `data/`, the chat template the kit trains with, accelerate configs for DDP, DeepSpeed
ZeRO-2/3 and FSDP, and a README. The kit's extras that the script lacks are listed in the script, the README and the
result. Everything is written into a staging folder first and renamed into place, so DIR is complete or untouched.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from ft_jupyter.config import ConfigError, RunConfig

TEMPLATE_FILE = "chat_template.jinja"
# What train.py and its launches import; the README pins the versions the script was rendered against.
PACKAGES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")
# Files every ejected folder has: overwrite replaces only a folder that holds them, never any other folder.
EJECT_MARKERS = ("train.py", "run_config.yaml")


@dataclass
class EjectResult:
    folder: Path
    files: list[Path]
    extras_not_included: list[str]  # kit features this config uses that train.py does not have, one line each


def extras_not_included(config: RunConfig) -> list[str]:
    """What the kit would do for this config that the plain script does not, each with what it did."""
    t, d = config.training, config.data
    out = []
    if d.mix_fraction > 0:
        out.append(
            f"data.mix_fraction = {d.mix_fraction:g}: the kit mixed general text from {d.mix_dataset!r} into "
            "the training rows against forgetting; data/train.jsonl holds the task rows only."
        )
    if t.layer_lr_decay < 1:
        out.append(
            f"training.layer_lr_decay = {t.layer_lr_decay:g}: the kit gave each block {t.layer_lr_decay:g}× "
            "the learning rate of the block above it; here every weight trains at one rate."
        )
    if t.unfreeze_every_steps:
        out.append(
            f"training.unfreeze_every_steps = {t.unfreeze_every_steps}: the kit trained the top layer group "
            "first and unfroze one more block every that many steps; here everything trains from step 1."
        )
    if t.l2_to_init > 0:
        out.append(
            f"training.l2_to_init = {t.l2_to_init:g}: the kit added λ·‖θ−θ₀‖² to the loss, pulling weights "
            "back toward their starting values; here the loss is TRL's alone."
        )
    if t.ewc_lambda > 0:
        out.append(
            f"training.ewc_lambda = {t.ewc_lambda:g}: the kit added λ·Σ F·(θ−θ₀)² to the loss (EWC, F the Fisher "
            f"information of {t.ewc_texts} general-text rows); here the loss is TRL's alone."
        )
    if t.early_stopping_patience:
        out.append(
            f"training.early_stopping_patience = {t.early_stopping_patience}: the kit stopped once the eval "
            "loss had not improved for that many evaluations; transformers' EarlyStoppingCallback is the "
            "nearest plain equivalent."
        )
    if t.price_per_hour > 0:
        out.append(
            f"training.price_per_hour = {t.price_per_hour:g}: the kit reported device-hours and cost as it trained."
        )
    return out


def _check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; eject writes a folder. Give a new folder path.")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise ConfigError(
            f"{out} is not empty; eject writes into a new or empty folder. Choose another folder, or "
            "replace this one and everything in it with --overwrite (overwrite=True)."
        )
    if not all((out / name).is_file() for name in EJECT_MARKERS):
        raise ConfigError(
            f"{out} is not empty and holds no earlier eject (no {' or '.join(EJECT_MARKERS)}), so "
            "--overwrite will not delete it; choose a new folder."
        )


def _yaml(comment: str, data: dict) -> str:
    import textwrap

    lines = textwrap.wrap(comment, 116, initial_indent="# ", subsequent_indent="# ")
    return "\n".join(lines) + "\n" + yaml.safe_dump(data, sort_keys=False)


def launch_configs(config: RunConfig, cuda_devices: int) -> dict[str, str]:
    """accelerate (and DeepSpeed) configs for this machine: every GPU, or 2 CPU processes where there is none. The
    same builders as `ft-jupyter launch`, with paths relative to the ejected folder."""
    from ft_jupyter.train.launch_configs import accelerate_config, decoder_layer_class, deepspeed_config

    on_cpu = cuda_devices == 0
    processes = cuda_devices or 2
    where = (
        "use_cpu is true because the machine that ejected this has no CUDA GPU; set it to false on GPUs. "
        if on_cpu
        else ""
    )
    # Precision is left to train.py, which picks it from the hardware (fp32 = no mixed precision here).
    ddp = accelerate_config("ddp", processes, cuda=not on_cpu, precision="fp32")
    zero = {
        stage: accelerate_config(
            f"zero{stage}", processes, cuda=not on_cpu, precision="fp32", deepspeed_file=f"ds_zero{stage}.json"
        )
        for stage in (2, 3)
    }
    layer = decoder_layer_class(config)
    fsdp = accelerate_config("fsdp", processes, cuda=True, precision="fp32", wrap_class=layer)
    precision = "Mixed precision is left to train.py, which picks it from the hardware. "
    return {
        "accelerate_ddp.yaml": _yaml(f"DDP: one full copy of the model per process. {where}{precision}", ddp),
        "accelerate_zero2.yaml": _yaml(
            f"DeepSpeed ZeRO-2 (optimizer states and gradients sharded; pip install "
            f"deepspeed). Launch from this folder: the JSON path is relative. {where}",
            zero[2],
        ),
        "accelerate_zero3.yaml": _yaml(
            f"DeepSpeed ZeRO-3 (weights sharded too; pip install deepspeed). Launch from "
            f"this folder: the JSON path is relative. {where}",
            zero[3],
        ),
        "accelerate_fsdp.yaml": _yaml(
            f"FSDP2 for GPUs (accelerate's FSDP needs a GPU backend): each decoder block ({layer}) is its own shard "
            "unit. use_orig_params is not set: FSDP2 always uses the original parameters, so frozen and LoRA weights "
            "can share a block. With QLoRA, train.py stores the 4-bit weights in the compute dtype, which FSDP "
            "needs.",
            fsdp,
        ),
        "ds_zero2.json": json.dumps(deepspeed_config("zero2", offload=False), indent=2) + "\n",
        "ds_zero3.json": json.dumps(deepspeed_config("zero3", offload=False), indent=2) + "\n",
    }


def _jsonl(examples) -> str:
    return "".join(json.dumps({"messages": list(e.messages)}, ensure_ascii=False) + "\n" for e in examples)


def _script_plan(config: RunConfig, data, extras: list[str]):
    """Build the kit's Hugging Face objects for `config` exactly as run_training does, and the plan to write them."""
    from ft_jupyter.data.preflight import preflight
    from ft_jupyter.models.catalogue import resolve
    from ft_jupyter.models.loading import load_tokenizer
    from ft_jupyter.train.eject_script import LORA_SHOWN, SFT_AT_RUN_TIME, SFT_SHOWN, ScriptPlan, constructor_arguments
    from ft_jupyter.train.translate import (
        Precision,
        bnb_config,
        check_run_needs,
        packed_rows,
        peft_config,
        sft_config,
        total_steps,
    )

    has_eval = bool(data.validation)
    check_run_needs(config, has_eval=has_eval)
    # The script picks precision and device when it runs; these stand-ins build objects valid on any machine, and
    # every field that depends on them is written as a run-time expression instead of a value.
    stand_in = Precision("fp32", "cpu", "placeholder: train.py decides at run time")
    source = resolve(config.model.name, revision=config.model.revision)
    tokenizer = load_tokenizer(config.model, source)
    checked = preflight(data, tokenizer, config)
    # A template file only when the kit trains with a different template from the one the model ships with.
    template = checked.template if checked.template and checked.template != tokenizer.chat_template else None
    # With packing, an epoch is counted in the sequences TRL will pack these rows into when train.py runs.
    t = config.training
    rows = packed_rows(checked.train_lengths, t.max_seq_len) if t.packing else len(data.train)
    args = sft_config(config, stand_in, Path("output"), total_steps(config, rows), has_eval=has_eval)
    lora, quant = peft_config(config), bnb_config(config, stand_in)
    auto_compute = config.quantization.mode == "4bit" and config.quantization.compute_dtype == "auto"
    return ScriptPlan(
        config=config,
        model_source=source,
        sft_args=constructor_arguments(args, SFT_AT_RUN_TIME, SFT_SHOWN),
        lora_args=constructor_arguments(lora, shown=LORA_SHOWN) if lora is not None else None,
        bnb_args=(
            constructor_arguments(quant, {"bnb_4bit_compute_dtype": "DTYPE"} if auto_compute else {})
            if quant is not None
            else None
        ),
        has_validation=has_eval,
        template_file=TEMPLATE_FILE if template else None,
        template_note=checked.template_note,
        extras=extras,
    ), template


def _readme(config: RunConfig, files: list[str], extras: list[str], processes: int) -> str:
    from importlib.metadata import PackageNotFoundError, version

    from ft_jupyter.train.eject_readme import readme

    pins = []
    for package in PACKAGES:
        try:
            pins.append(f"{package}=={version(package).split('+')[0]}")  # a local tag (+cpu) is no index version
        except PackageNotFoundError:
            pins.append(package)
    return readme(config, files, extras, processes, pins)


def eject(config: RunConfig, out_dir: str | Path, *, overwrite: bool = False) -> EjectResult:
    """Write the plain TRL project for `config` into `out_dir` (new or empty, or any folder with overwrite=True)."""
    import torch

    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.train.eject_script import render_script

    if config.method.method == "head":
        raise ConfigError(
            "eject writes a plain TRL SFTTrainer script, and method.method = 'head' trains a "
            "classification head with a transformers Trainer instead, which eject cannot render yet; "
            "train it with ft-jupyter (run_training or `ft-jupyter train`), or eject a freeze run."
        )
    out = Path(out_dir).expanduser().resolve()
    _check_target(out, overwrite)
    extras = extras_not_included(config)
    data = prepare(config.data, seed=config.training.seed, progress=False)
    plan, template = _script_plan(config, data, extras)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    files = {"train.py": render_script(plan), "data/train.jsonl": _jsonl(data.train)}
    if data.validation:
        files["data/validation.jsonl"] = _jsonl(data.validation)
    if template:
        files[TEMPLATE_FILE] = template
    files.update(launch_configs(config, gpus))
    files["run_config.yaml"] = config.to_yaml()
    files["README.md"] = _readme(config, [*files, "README.md"], extras, gpus or 2)
    _write_atomically(out, files, overwrite)
    return EjectResult(out, [out / name for name in files], extras)


def _write_atomically(out: Path, files: dict[str, str], overwrite: bool) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.eject-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    old = staging.with_name(staging.name + ".old")
    try:
        for name, text in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if out.is_dir() and any(out.iterdir()):
            _check_target(out, overwrite)  # it may have filled up while the files were prepared
            out.rename(old)
        staging.replace(out)  # an empty folder is replaced in one step
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not out.exists():
            old.rename(out)  # put back what was there
        raise
    shutil.rmtree(old, ignore_errors=True)
