"""One frozen dataclass per concern. Each validates itself on construction; `RunConfig` checks how they combine."""

from __future__ import annotations

from dataclasses import dataclass

from ft_jupyter.config.schema import ConfigError, opt, validate

DEFAULT_MODEL = "smollm2-135m-instruct"
# Cleaning findings a person can choose to drop (data.drop), in the order ft_jupyter.data.cleaning applies them.
CLEANING_STEPS = (
    "exact-duplicates",
    "near-duplicates",
    "contradictions",
    "empty-answers",
    "rare-labels",
    "length-outliers",
)

TARGET_PRESETS = {
    # Attention projections only: the original LoRA recipe, fewest trainable parameters.
    "attention": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "attention-qv": ("q_proj", "v_proj"),
    # Every linear layer except the output head (peft resolves the names per architecture); the QLoRA recipe.
    "all-linear": ("all-linear",),
}


class _Section:
    SECTION = ""

    def __post_init__(self) -> None:
        validate(self)
        self._check()

    def _check(self) -> None:
        """Rules that involve more than one field of this section."""


@dataclass(frozen=True)
class ModelConfig(_Section):
    SECTION = "model"
    name: str = opt(
        DEFAULT_MODEL,
        "Catalogue name (smollm2-135m-instruct, tiny-random), a Hugging Face hub id, "
        "or a local folder with config.json.",
    )
    revision: str | None = opt(None, "Hub revision (branch, tag or commit) to pin; empty means the default branch.")
    trust_remote_code: bool = opt(
        False, "Run Python code shipped with the model repo. Off unless you trust its author."
    )
    dtype: str = opt(
        "auto",
        "Precision the frozen weights are loaded in; auto picks bf16/fp16 on a GPU, fp32 on CPU.",
        choices=("auto", "float32", "bfloat16", "float16"),
    )

    def _check(self) -> None:
        if not self.name.strip():
            raise ConfigError(
                "model.name is empty; give a catalogue name such as 'smollm2-135m-instruct', "
                "a hub id such as 'Qwen/Qwen2.5-0.5B-Instruct', or a local folder."
            )


@dataclass(frozen=True)
class QuantizationConfig(_Section):
    SECTION = "quantization"
    mode: str = opt(
        "none",
        "Load the frozen base weights in 8-bit or 4-bit (bitsandbytes) to cut their memory 2-4x.",
        choices=("none", "8bit", "4bit"),
    )
    quant_type: str = opt(
        "nf4",
        "4-bit data type: nf4 suits normally distributed weights (the QLoRA default); fp4 is the plain 4-bit float.",
        choices=("nf4", "fp4"),
    )
    double_quant: bool = opt(True, "4-bit only: also quantize the quantization constants, saving ~0.4 bit per weight.")
    compute_dtype: str = opt(
        "auto",
        "Dtype the 4-bit weights are dequantized to for each matmul; auto: bf16 where the "
        "GPU supports it, else fp16 on GPU, fp32 on CPU.",
        choices=("auto", "bfloat16", "float16", "float32"),
    )


@dataclass(frozen=True)
class MethodConfig(_Section):
    SECTION = "method"
    method: str = opt(
        "lora",
        "lora: small adapters on a frozen model; qlora: the same on a 4-bit base; full: update "
        "every weight; freeze: train only the top blocks and/or the head; head: train a new "
        "classification head (AutoModelForSequenceClassification) on the frozen backbone, with the top "
        "freeze_train_blocks blocks training too when above 0 (needs label data).",
        choices=("lora", "qlora", "full", "freeze", "head"),
    )
    r: int = opt(
        16, "LoRA rank: size of the low-rank update. 8-16 suits most tasks; 32-64 for harder ones.", low=1, high=1024
    )
    alpha: int = opt(
        32,
        "LoRA scaling numerator (update scaled by alpha/r, or alpha/sqrt(r) with rsLoRA); 2×r is a common choice.",
        low=1,
        high=4096,
    )
    dropout: float = opt(
        0.05, "Dropout on the LoRA input; 0.05-0.1 helps small datasets, 0 for speed.", low=0.0, high=0.9
    )
    target_preset: str = opt(
        "all-linear",
        "Which layers get adapters: attention (q,k,v,o), attention-qv (q,v), "
        "all-linear (every linear but the head), or custom (target_modules).",
        choices=("attention", "attention-qv", "all-linear", "custom"),
    )
    target_modules: tuple[str, ...] = opt(
        None, "Module names for target_preset: custom, e.g. q_proj, v_proj, gate_proj.", factory=tuple
    )
    bias: str = opt(
        "none",
        "Which biases train alongside LoRA: none (usual), lora_only, or all.",
        choices=("none", "lora_only", "all"),
    )
    use_rslora: bool = opt(False, "Rank-stabilised LoRA: scale by alpha/sqrt(r) so large ranks keep learning.")
    use_dora: bool = opt(False, "DoRA: learn magnitude and direction separately; a little better, ~20-40% slower.")
    freeze_train_blocks: int = opt(
        2, "freeze and head: how many of the top transformer blocks train (0 = the head only).", low=0, high=1000
    )
    freeze_train_head: bool = opt(
        True,
        "freeze: also train the output head (with tied embeddings this trains the "
        "input embeddings too). head: must stay true (a new head always trains).",
    )

    def _check(self) -> None:
        if self.target_preset == "custom" and not self.target_modules:
            raise ConfigError(
                "method.target_modules is empty but method.target_preset is 'custom'; list module names "
                "such as ['q_proj', 'v_proj'] or pick a preset (attention, all-linear)."
            )
        if self.target_preset != "custom" and self.target_modules:
            raise ConfigError(
                f"method.target_modules = {list(self.target_modules)!r} is ignored unless "
                f"method.target_preset is 'custom' (it is {self.target_preset!r}); set one or the other."
            )
        if self.method == "freeze" and self.freeze_train_blocks == 0 and not self.freeze_train_head:
            raise ConfigError(
                "method: freeze with freeze_train_blocks = 0 and freeze_train_head = false trains "
                "nothing; unfreeze at least one block or the head."
            )
        if self.method == "head" and not self.freeze_train_head:
            raise ConfigError(
                "method.freeze_train_head = false does not apply to method 'head': its classification "
                "head is new and always trains. Set freeze_train_head to true, or use method 'freeze' "
                "to keep the language-model head frozen."
            )

    @property
    def uses_lora(self) -> bool:
        return self.method in ("lora", "qlora")

    def resolved_targets(self) -> tuple[str, ...]:
        return self.target_modules if self.target_preset == "custom" else TARGET_PRESETS[self.target_preset]


@dataclass(frozen=True)
class DataConfig(_Section):
    SECTION = "data"
    dataset: str = opt(
        "support-emails", "Bundled dataset name (support-emails) or a path to a JSONL, JSON, CSV or Parquet file."
    )
    format: str = opt(
        "auto",
        "Row format; auto detects messages, alpaca, sharegpt, prompt-completion, "
        "classification (text + label) and plain text.",
        choices=("auto", "messages", "alpaca", "sharegpt", "prompt-completion", "classification", "text"),
    )
    instruction: str | None = opt(
        None, "classification rows: the instruction put before each text; empty builds 'Classify ... one of: <labels>'."
    )
    system_prompt: str | None = opt(None, "Optional system message added to every conversation that has none.")
    validation_fraction: float = opt(
        0.1, "Share of rows held out to watch eval loss during training.", low=0.0, high=0.5
    )
    test_fraction: float = opt(
        0.15, "Share of rows held out, never trained on, for the before/after comparison.", low=0.0, high=0.5
    )
    max_rows: int = opt(0, "Use at most this many rows (0 = all); handy for smoke tests.", low=0)
    train_rows: int = opt(
        0,
        "Train on at most this many rows of the training split (0 = all), picked with the seed "
        "after splitting, so validation and test rows stay the same; a larger value keeps every "
        "row a smaller one picked (what a learning curve varies).",
        low=0,
    )
    mix_fraction: float = opt(
        0.0,
        "Share of the training rows drawn from general text (mix_dataset) so the model keeps "
        "its general skills while specialising; a cheap guard against catastrophic forgetting "
        "(0.05-0.2 is typical, 0 = off).",
        low=0.0,
        high=0.5,
    )
    mix_dataset: str = opt(
        "general-text",
        "Where mixed-in general rows come from: the bundled general-text, or a JSONL file of rows with a text field.",
    )
    columns: tuple[str, ...] = opt(
        None,
        "Rename source columns to the names the formats use, as source=target pairs, e.g. body=text, category=label.",
        factory=tuple,
    )
    strict: bool = opt(
        True, "Stop at the first bad row, naming its line (true), or skip bad rows and report each one (false)."
    )
    drop: tuple[str, ...] = opt(
        None,
        "Cleaning findings to remove before splitting (nothing is removed unless "
        "listed): " + ", ".join(CLEANING_STEPS) + ".",
        factory=tuple,
    )
    max_row_chars: int = opt(
        6000,
        "Rows longer than this many characters are rejected as absurdly long (a pasted "
        "log, a merged export); raise it for long documents.",
        low=100,
    )

    def _check(self) -> None:
        if not self.dataset.strip():
            raise ConfigError("data.dataset is empty; give 'support-emails' or a path to your data file.")
        for pair in self.columns:
            src, sep, dst = pair.partition("=")
            if not sep or not src.strip() or not dst.strip():
                raise ConfigError(f"data.columns entry {pair!r} must look like source=target, e.g. body=text.")
        unknown = [step for step in self.drop if step not in CLEANING_STEPS]
        if unknown:
            raise ConfigError(
                f"data.drop = {list(self.drop)!r} names unknown steps {unknown}; use any of "
                f"{', '.join(CLEANING_STEPS)}."
            )
        if self.validation_fraction + self.test_fraction >= 0.9:
            raise ConfigError(
                f"data.validation_fraction + data.test_fraction = "
                f"{self.validation_fraction + self.test_fraction:g} leaves almost nothing to train on; "
                "keep their sum below 0.9."
            )


@dataclass(frozen=True)
class TrainingConfig(_Section):
    SECTION = "training"
    epochs: float = opt(
        1.0,
        "Passes over the training split (used when max_steps is -1). 1-3 for most SFT; 3-5 for under 1,000 rows.",
        low=0.0,
        high=1000.0,
        low_open=True,
    )
    max_steps: int = opt(-1, "Stop after this many optimizer steps; -1 means train for `epochs`.", low=-1)
    learning_rate: float = opt(
        2e-4, "Peak learning rate. ~2e-4 for LoRA/QLoRA; ~2e-5 for full fine-tuning.", low=0.0, high=1.0, low_open=True
    )
    batch_size: int = opt(
        8, "Rows per forward pass on each device; lower it first when memory runs out.", low=1, high=4096
    )
    grad_accum: int = opt(
        1, "Forward passes summed before each optimizer step; effective batch = batch_size × this.", low=1, high=4096
    )
    scheduler: str = opt(
        "cosine",
        "Learning-rate shape after warmup: cosine, linear, constant, or wsd (warmup-stable-decay).",
        choices=("cosine", "linear", "constant", "wsd"),
    )
    warmup_ratio: float = opt(
        0.06, "Share of steps spent ramping the learning rate up from 0 (6-10% is usual).", low=0.0, high=0.5
    )
    decay_ratio: float = opt(0.2, "wsd only: share of steps spent decaying at the end.", low=0.0, high=1.0)
    weight_decay: float = opt(
        0.0, "AdamW weight decay; 0.01-0.1 for full fine-tuning, usually 0 for LoRA.", low=0.0, high=1.0
    )
    max_seq_len: int = opt(
        256, "Longer rows are truncated. Cost grows with length: cap at what your data needs.", low=8, high=1_048_576
    )
    precision: str = opt(
        "auto",
        "auto: bf16 on GPUs that support it, fp16 with loss scaling on older GPUs, fp32 on CPU.",
        choices=("auto", "bf16", "fp16", "fp32"),
    )
    gradient_checkpointing: bool = opt(
        False, "Recompute activations in the backward pass: much less memory, ~20% slower."
    )
    eval_steps: int = opt(0, "Evaluate on the validation split every N steps (0 = once, at the end).", low=0)
    save_steps: int = opt(0, "Save a resumable checkpoint every N steps (0 = only the final adapter).", low=0)
    save_total_limit: int = opt(2, "Keep at most this many checkpoints; older ones are deleted.", low=1)
    logging_steps: int = opt(1, "Report loss every N steps.", low=1)
    seed: int = opt(42, "Seed for data splits, shuffling and adapter initialisation.", low=0)
    assistant_only_loss: bool = opt(True, "Compute the loss on assistant answers only, not on the prompt.")
    optimizer: str = opt(
        "adamw",
        "adamw: PyTorch AdamW; adamw-8bit: bitsandbytes AdamW with 8-bit states (~75% less "
        "optimizer memory); paged-adamw-8bit: the same, paged to CPU RAM on GPU memory spikes (the "
        "QLoRA recipe); adafactor: factored moments, least memory; sgd: plain SGD.",
        choices=("adamw", "adamw-8bit", "paged-adamw-8bit", "adafactor", "sgd"),
    )
    layer_lr_decay: float = opt(
        1.0,
        "Discriminative learning rates: each block trains at this factor times the rate of "
        "the block above it, so lower, more general layers move less (0.8-0.95 typical; 1 = "
        "one rate everywhere).",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    unfreeze_every_steps: int = opt(
        0,
        "Gradual unfreezing: train only the top trainable layer group at first and "
        "unfreeze the next block down every N steps (0 = everything trains from step 1).",
        low=0,
    )
    l2_to_init: float = opt(
        0.0,
        "Strength λ of a penalty λ·‖θ−θ₀‖² pulling trained weights back toward their starting "
        "values, against forgetting (0.01-0.1 for full fine-tuning; 0 = off).",
        low=0.0,
        high=100.0,
    )
    ewc_lambda: float = opt(
        0.0,
        "Elastic weight consolidation: strength λ of a penalty λ·Σ F·(θ−θ₀)², where F (the diagonal "
        "Fisher information, scaled to mean 1) says how much each weight matters to general text "
        "(data.mix_dataset), measured before training. Same scale as l2_to_init, but the pull falls "
        "on the weights general text needs (0 = off).",
        low=0.0,
        high=1000.0,
    )
    ewc_texts: int = opt(
        32,
        "How many general-text rows (from data.mix_dataset) estimate the Fisher information for ewc_lambda.",
        low=1,
        high=10000,
    )
    early_stopping_patience: int = opt(
        0,
        "Stop when eval loss has not improved for this many evaluations in a row (0 = never); needs eval_steps.",
        low=0,
    )
    load_best_at_end: bool = opt(
        False,
        "Keep the checkpoint with the lowest eval loss and load it at the end, so the "
        "saved result is the best one rather than the last; needs eval_steps.",
    )
    group_by_length: bool = opt(
        False,
        "Batch rows of similar length together so less compute is spent on padding "
        "(changes the batch order, not the data).",
    )
    packing: bool = opt(
        False,
        "Pack several whole rows into each max_seq_len sequence, each still attending only to "
        "itself, so many short rows cost fewer padding tokens and more useful tokens are processed "
        "per second (little gain when rows are already close to max_seq_len).",
    )
    price_per_hour: float = opt(
        0.0,
        "What one device-hour costs you (e.g. 0.35 for a rented T4); progress and the "
        "summary report hours × devices × this price.",
        low=0.0,
    )

    def _check(self) -> None:
        if self.max_steps == 0:
            raise ConfigError(
                "training.max_steps = 0 trains nothing; use -1 to train for `epochs`, or a positive number of steps."
            )
        if self.scheduler == "wsd" and self.warmup_ratio + self.decay_ratio > 1.0:
            raise ConfigError(
                f"training.warmup_ratio + training.decay_ratio = "
                f"{self.warmup_ratio + self.decay_ratio:g} exceeds 1; the stable phase would be negative."
            )
        needs_evals = [
            name
            for name, on in (
                ("early_stopping_patience", self.early_stopping_patience),
                ("load_best_at_end", self.load_best_at_end),
            )
            if on
        ]
        if needs_evals and not self.eval_steps:
            raise ConfigError(
                f"training.{needs_evals[0]} needs evaluations during training, but training.eval_steps "
                "is 0 (evaluate once, at the end); set eval_steps, e.g. 10."
            )
        if self.load_best_at_end and self.save_steps and self.save_steps % self.eval_steps:
            raise ConfigError(
                f"training.load_best_at_end compares checkpoints by eval loss, so training.save_steps "
                f"({self.save_steps}) must be a multiple of training.eval_steps ({self.eval_steps}); set "
                "save_steps to 0 (save at each evaluation) or a multiple."
            )

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.grad_accum
