"""The text of an ejected `train.py`: the kit's own Hugging Face objects written back out as constructor calls.

Arguments are read from the objects `translate.py` builds (never from the config's text) and written with `repr`,
so the script trains as the kit does and a value with quotes or newlines cannot break it. Only the arguments that
differ from the class's defaults are written, and only as many as it takes to rebuild an equal object: aliases and
values derived from others are left out, and a rebuild check proves the rest is enough.
"""

from __future__ import annotations

import ast
import enum
import inspect
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

from ft_jupyter.config import RunConfig

# Arguments the script decides when it runs, from the hardware it finds there (mirroring choose_precision).
SFT_AT_RUN_TIME = {
    "output_dir": "str(OUTPUT_DIR)",
    "bf16": 'PRECISION == "bf16"',
    "fp16": 'PRECISION == "fp16"',
    "use_cpu": 'DEVICE == "cpu"',
}
# Written even at their default values: the settings a reader looks for first.
SFT_SHOWN = (
    "max_steps",
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "seed",
)
LORA_SHOWN = ("r", "lora_alpha", "lora_dropout", "target_modules")
# What every ejected script lacks whatever the config: these watch and report on a run rather than change it.
ALWAYS_LEFT_OUT = (
    "the run folder (events.jsonl, status.json) that the live dashboard and the JupyterLab sidebar follow",
    "health checks (NaN or exploding loss and gradients, a flat or rising curve, overfitting), each with advice",
    "Stop from the panel or sidebar (the STOP file) and a graceful first Ctrl-C that saves the adapter",
    "the compact LM head on Llama-family models: the same loss and gradients, scored on the answer tokens only",
)


@dataclass(frozen=True)
class ScriptPlan:
    """Everything `train.py` is rendered from; each `*_args` is [(name, Python source)] for one constructor."""

    config: RunConfig
    model_source: str  # what from_pretrained loads: a folder or a hub id
    sft_args: list[tuple[str, str]]
    lora_args: list[tuple[str, str]] | None
    bnb_args: list[tuple[str, str]] | None
    has_validation: bool
    template_file: str | None  # chat template written beside the script, or None to keep the tokenizer's
    template_note: str
    extras: list[str]


def _plain(value):
    """The value as a literal Python can read back: enums by value, sets as sorted lists, paths as text."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    return value


def _source(name: str, value) -> str:
    import torch

    if isinstance(value, torch.dtype):
        return str(value)  # "torch.bfloat16": the script imports torch
    text = repr(value)
    try:
        readable = ast.literal_eval(text) == value
    except (ValueError, SyntaxError):
        readable = False
    if not readable:
        raise ValueError(
            f"eject cannot write {name} = {value!r} ({type(value).__name__}) as Python source; this is "
            "a bug in ft_jupyter/train/eject_script.py: teach _plain() that type."
        )
    return text


def _parameters(cls) -> list[str]:
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [n for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self" and p.kind not in skip]


def _rebuilds(cls, kwargs: dict, made, names: list[str]) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # trial builds warn about aliases and odd combinations
            built = cls(**kwargs)
    except Exception:  # a trial without a needed argument may be refused outright: then it is needed
        return False
    return all(getattr(built, n) == getattr(made, n) for n in names)


def constructor_arguments(
    made, at_run_time: dict[str, str] | None = None, shown: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """[(name, source)] that rebuild `made` (a config object) with its own class, in signature order.

    `at_run_time` maps arguments the script computes when it runs to their source text; for the comparison they take
    `made`'s values. `shown` are written even when they equal the default, for the reader."""
    cls, at_run_time = type(made), at_run_time or {}
    names = _parameters(cls)
    fixed = {n: getattr(made, n) for n in at_run_time}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class's own defaults may trip its deprecation warnings
        baseline = cls(**fixed)
    wanted = {
        n: _plain(getattr(made, n))
        for n in names
        if n not in at_run_time and (n in shown or getattr(made, n) != getattr(baseline, n))
    }
    for name in reversed(list(wanted)):  # later fields are the aliases and the derived ones: drop those first
        if name in shown:
            continue
        trial = {k: v for k, v in wanted.items() if k != name}
        if _rebuilds(cls, {**fixed, **trial}, made, names):
            del wanted[name]
    if not _rebuilds(cls, {**fixed, **wanted}, made, names):
        raise RuntimeError(
            f"eject could not rebuild the kit's {cls.__name__} from {sorted(wanted)}; this is a bug in "
            "ft_jupyter/train/eject_script.py."
        )
    return [
        (n, at_run_time[n] if n in at_run_time else _source(n, wanted[n]))
        for n in names
        if n in at_run_time or n in wanted
    ]


def _comment(text: str, first: str = "") -> list[str]:
    """`text` as comment lines; newlines inside it become spaces, so no text can end the comment early."""
    return textwrap.wrap(
        text, 116, initial_indent="# " + first, subsequent_indent="#   " if first else "# ", replace_whitespace=True
    ) or ["#"]


def _call(head: str, args: list[tuple[str | None, str]]) -> list[str]:
    """`head(...)` with one argument a line when one line would be too long; a None name is positional."""
    parts = [source if name is None else f"{name}={source}" for name, source in args]
    one_line = f"{head}({', '.join(parts)})"
    if len(one_line) <= 118:
        return [one_line]
    return [f"{head}(", *(f"    {part}," for part in parts), ")"]


def _header(plan: ScriptPlan) -> list[str]:
    c = plan.config
    lines = [
        '"""Plain TRL fine-tuning, ejected from an ft-jupyter run config (README.md: GPUs, clusters).',
        "",
        "    python train.py                                                                  # one process",
        "    accelerate launch --config_file accelerate_ddp.yaml --num_processes N train.py  # N GPUs or CPU processes",
        '"""',
    ]
    lines += _comment(
        f"Run config {c.name!r}: method {c.method.method!r} on model {c.model.name!r}. Every value "
        "below comes from the kit's own translation of that config, so this trains as the kit would, "
        "minus the kit's extras. It needs transformers, peft, trl, datasets and torch, nothing from "
        "ft-jupyter."
    )
    lines += ["#", *_comment("Extras of the kit that this config uses and this script does not have:")]
    for extra in plan.extras or ["none: the config uses none of them."]:
        lines += _comment(extra, first="- ")
    lines += _comment("Always left out (they watch and report on a run, they do not change it):")
    for item in ALWAYS_LEFT_OUT:
        lines += _comment(item, first="- ")
    return lines


def _precision(config: RunConfig) -> list[str]:
    asked = config.training.precision
    device = [
        "if torch.cuda.is_available():",
        '    DEVICE = "cuda"',
        "elif torch.backends.mps.is_available():",
        '    DEVICE = "mps"',
        "else:",
        '    DEVICE = "cpu"',
    ]
    if asked == "auto":
        return (
            [
                "# training.precision is 'auto': bf16 on a GPU that supports it, fp16 with loss scaling on an older "
                "GPU, fp32",
                "# on a CPU (or Apple GPU). Decided here, on the machine that trains.",
            ]
            + device
            + [
                'if DEVICE == "cuda":',
                '    PRECISION = "bf16" if torch.cuda.is_bf16_supported() else "fp16"',
                "else:",
                '    PRECISION = "fp32"',
            ]
        )
    return device + [f"PRECISION = {asked!r}  # training.precision in the run config"]


def _weights_dtype(config: RunConfig) -> str:
    if config.model.dtype != "auto":
        return f"torch.{config.model.dtype}"
    if config.method.method in ("full", "freeze"):
        return 'torch.float32 if PRECISION == "fp16" else DTYPE'
    return "DTYPE"


def _model(plan: ScriptPlan) -> list[str]:
    c = plan.config
    extra = [
        (n, repr(v))
        for n, v in (("revision", c.model.revision), ("trust_remote_code", c.model.trust_remote_code))
        if v not in (None, False)
    ]
    lines = _call("tokenizer = AutoTokenizer.from_pretrained", [(None, "MODEL"), *extra])
    lines += [
        "if tokenizer.pad_token is None:",
        "    tokenizer.pad_token = tokenizer.eos_token  # batches need a pad token; padding is masked out of the loss",
    ]
    if plan.template_file:
        lines += _comment(
            "The chat template the kit trains with, whose {% generation %} markers show "
            f"assistant_only_loss which tokens are the answer. The kit's note: {plan.template_note}."
        )
        lines.append(f"tokenizer.chat_template = (HERE / {plan.template_file!r}).read_text(encoding='utf-8')")
    lines.append("")
    load = [(None, "MODEL"), ("dtype", _weights_dtype(c)), *extra]
    if plan.bnb_args is not None:
        lines += _call("quantization_config = BitsAndBytesConfig", plan.bnb_args)
        lines += [
            "# Each process puts the quantized weights on its own device, except under FSDP, which places them itself",
            "# (and flattens 4-bit weights with the rest of a block: they must be stored in the compute dtype).",
            'if os.environ.get("ACCELERATE_USE_FSDP") == "true":',
        ]
        if c.quantization.mode == "4bit":
            lines.append("    quantization_config.bnb_4bit_quant_storage = DTYPE")
        lines += [
            "    device_map = None",
            'elif DEVICE == "cuda":',
            '    device_map = {"": int(os.environ.get("LOCAL_RANK", "0"))}',
            "else:",
            '    device_map = {"": DEVICE}',
        ]
        load += [("quantization_config", "quantization_config"), ("device_map", "device_map")]
    if c.model.dtype == "auto" and c.method.method in ("full", "freeze"):
        lines.append(
            "# Trained weights stay fp32 under fp16 mixed precision: fp16 ones would break gradient unscaling."
        )
    lines += _call("model = AutoModelForCausalLM.from_pretrained", load)
    if c.quantization.mode == "4bit":
        lines += [
            'if DEVICE == "cpu":',
            "    # On CPUs with avx512_bf16, bitsandbytes repacks 4-bit weights for inference on first use, "
            "after which",
            "    # backward fails: keep the trainable layout.",
            "    for module in model.modules():",
            "        if isinstance(module, bnb.nn.Linear4bit):",
            "            module.support_avx512bf16_for_cpu = False",
        ]
    return lines + _method(plan)


def _method(plan: ScriptPlan) -> list[str]:
    c = plan.config
    checkpointing = c.training.gradient_checkpointing
    if plan.lora_args is not None:
        lines = _call("lora_config = LoraConfig", plan.lora_args)
        if c.quantization.mode != "none":
            lines.append(
                f"model = prepare_model_for_kbit_training(model, use_gradient_checkpointing={checkpointing!r})"
            )
        elif checkpointing:
            lines.append("model.enable_input_require_grads()  # checkpointed blocks need inputs that carry gradients")
        return lines + ["model = get_peft_model(model, lora_config)", "model.print_trainable_parameters()"]
    if c.method.method == "full":
        lines = ["for parameter in model.parameters():", "    parameter.requires_grad_(True)"]
    else:
        m = c.method
        lines = [
            f"# method 'freeze': only the top {m.freeze_train_blocks} blocks"
            f"{' and the output head' if m.freeze_train_head else ''} train.",
            "for parameter in model.parameters():",
            "    parameter.requires_grad_(False)",
            "layers = model.get_decoder().layers",
            f"for layer in layers[len(layers) - {m.freeze_train_blocks}:]:",
            "    for parameter in layer.parameters():",
            "        parameter.requires_grad_(True)",
        ]
        if m.freeze_train_head:
            lines += [
                "for parameter in model.get_output_embeddings().parameters():",
                "    parameter.requires_grad_(True)",
            ]
    if checkpointing:
        lines.append("model.enable_input_require_grads()  # checkpointed blocks need inputs that carry gradients")
    return lines


def _imports(plan: ScriptPlan) -> list[str]:
    c = plan.config
    lora = plan.lora_args is not None
    peft = [
        n
        for n, used in (
            ("LoraConfig", lora),
            ("get_peft_model", lora),
            ("prepare_model_for_kbit_training", lora and c.quantization.mode != "none"),
        )
        if used
    ]
    transformers = ["AutoModelForCausalLM", "AutoTokenizer"] + (["BitsAndBytesConfig"] if plan.bnb_args else [])
    lines = (["import os"] if plan.bnb_args is not None else []) + ["from pathlib import Path", ""]
    lines += ["import bitsandbytes as bnb"] if c.quantization.mode == "4bit" else []
    lines += ["import torch", "import torch.distributed as dist", "from datasets import load_dataset"]
    lines += [f"from peft import {', '.join(peft)}"] if peft else []
    return lines + [f"from transformers import {', '.join(transformers)}", "from trl import SFTConfig, SFTTrainer"]


def _model_comment(config: RunConfig, source: str) -> list[str]:
    name = config.model.name
    if name == source:
        return ["# model.name in the run config."]
    return _comment(
        f"model.name {name!r} is ft-jupyter's name for a model, which the kit builds or converts locally; "
        "this is its folder on the machine that ejected this script. Copy the folder along to train the "
        "same weights elsewhere."
    )


def render_script(plan: ScriptPlan) -> str:
    c = plan.config
    splits = ["train", "validation"] if plan.has_validation else ["train"]
    data_files = [f'    "{split}": str(HERE / "data" / "{split}.jsonl"),' for split in splits]
    lines = [
        *_header(plan),
        "",
        *_imports(plan),
        "",
        "HERE = Path(__file__).resolve().parent",
        *_model_comment(c, plan.model_source),
        f"MODEL = {plan.model_source!r}",
        'OUTPUT_DIR = HERE / "output"',
        "",
        *_precision(c),
        'DTYPE = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[PRECISION]',
        "",
        f"torch.manual_seed({c.training.seed!r})  # training.seed: the adapter starts from the kit's initial weights",
        "",
        *_model(plan),
        "",
        "# The kit's prepared rows (after its validation, cleaning and split), one conversation per line.",
        'data = load_dataset("json", data_files={',
        *data_files,
        "})",
        "",
        *_call("args = SFTConfig", plan.sft_args),
        "",
        *_call(
            "trainer = SFTTrainer",
            [
                ("model", "model"),
                ("args", "args"),
                ("train_dataset", 'data["train"]'),
                ("eval_dataset", 'data["validation"]' if plan.has_validation else "None"),
                ("processing_class", "tokenizer"),
            ],
        ),
        "# Some launch configs start one process where several were asked for (MULTI_CPU does), without a word:",
        "# this line shows how many really train.",
        'print(f"rank {trainer.accelerator.process_index} of world size {trainer.accelerator.num_processes}", '
        "flush=True)",
        "trainer.train()",
        "# Every process takes part (sharded weights are gathered first); the main one writes.",
        f"trainer.save_model(str(OUTPUT_DIR / {'adapter' if c.method.uses_lora else 'model'!r}))",
        "trainer.save_state()  # output/trainer_state.json: log_history holds every logged loss",
        "",
        "if dist.is_initialized():",
        "    # Leave together and close the process group: one multi-process run died at exit without this.",
        "    dist.barrier()",
        "    dist.destroy_process_group()",
    ]
    return "\n".join(lines) + "\n"
