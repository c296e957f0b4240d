"""What the fields of a RunConfig mean together, as plain data: when each field applies, which fields a form shows
first and in what order, the method menu (method × quantization), options a person can switch on, and what an edit
implies (couplings).

`config/form.py` interprets this data for the Python front-ends (the panel, the CLI); `config/jsonschema.py` exports
it as `x-ft-…` keywords, so the lab sidebar's form interprets the very same data instead of a copy. Paths are dotted
(`method.r`); top-level fields have no dot. Values are compared as JSON values: `False` is not `0`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def same(a: Any, b: Any) -> bool:
    """JSON equality: booleans equal only booleans (Python's True == 1 would make `[0]` match False)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def shown(value: Any) -> str:
    """A value as a note or a message shows it: JSON's true/false, numbers without a trailing .0, lists joined."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(shown(v) for v in value)
    return str(value)


def get_path(config: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a config dict (`RunConfig.to_dict()`'s shape)."""
    section, dot, name = path.partition(".")
    return config[section][name] if dot else config[section]


@dataclass(frozen=True)
class Condition:
    """True of a config when the value at `path` is one of `values` (with `negate`: none of them)."""

    path: str
    values: tuple[Any, ...]
    negate: bool = False
    why: str = ""  # as an applies-when condition: what a form says while it does not hold

    def holds(self, config: Mapping[str, Any]) -> bool:
        found = any(same(get_path(config, self.path), v) for v in self.values)
        return found != self.negate

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "not_in" if self.negate else "in": list(self.values)}
        return {**out, "why": self.why} if self.why else out


def is_(path: str, *values: Any, why: str = "") -> Condition:
    return Condition(path, values, why=why)


def not_(path: str, *values: Any, why: str = "") -> Condition:
    return Condition(path, values, negate=True, why=why)


@dataclass(frozen=True)
class Coupling:
    """When `on` is edited and every `when` holds of the edited config, set `set` to `value` (or to `times` × the
    value at `from_path`) and say `note`; with `option`, only while that option is switched on. `{value}` in the note
    is the value set, `{<path>}` the value at a path before it was set."""

    on: str
    when: tuple[Condition, ...]
    set: str
    note: str
    value: Any = None
    from_path: str | None = None
    times: float = 1
    option: str | None = None

    def target(self, config: Mapping[str, Any]) -> Any:
        if self.from_path is None:
            return self.value
        result = get_path(config, self.from_path) * self.times
        return int(result) if float(result).is_integer() else result

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"on": self.on, "when": [c.to_json() for c in self.when], "set": self.set}
        if self.from_path is None:
            out["value"] = self.value
        else:
            out["value_from"] = {"path": self.from_path, "times": self.times}
        out["note"] = self.note
        return {**out, "option": self.option} if self.option else out


@dataclass(frozen=True)
class MethodChoice:
    """One entry of the method menu: a method on a base loaded in one quantization mode."""

    key: str
    label: str
    method: str
    quantization: str

    @property
    def values(self) -> dict[str, str]:
        return {"method.method": self.method, "quantization.mode": self.quantization}

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "values": self.values}


@dataclass(frozen=True)
class Option:
    """A rule a person switches on (never applied silently); shown as a checkbox beside `field`."""

    name: str
    label: str
    help: str
    field: str

    @property
    def flag(self) -> str:
        """The command-line flag that switches it on."""
        return "--" + self.name.replace("_", "-")

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "help": self.help, "field": self.field, "flag": self.flag}


# ---- the method menu: every method × quantization mode RunConfig accepts -------------------------------------------
METHODS: tuple[MethodChoice, ...] = (
    MethodChoice("lora", "LoRA", "lora", "none"),
    MethodChoice("qlora", "QLoRA (4-bit base)", "qlora", "4bit"),
    MethodChoice("lora-8bit", "LoRA on an 8-bit base", "lora", "8bit"),
    MethodChoice("full", "Full fine-tuning", "full", "none"),
    MethodChoice("freeze", "Freeze: train the top blocks / head", "freeze", "none"),
    MethodChoice("head", "Classification head on the frozen backbone (label data)", "head", "none"),
)

# ---- where a form shows each field ---------------------------------------------------------------------------------
SECTION_ORDER = ("model", "method", "quantization", "training", "data", "run")  # "run": the top-level fields
# The settings a learner reaches for first, in the order a form shows them; every other field is "advanced".
KEY_FIELDS = (
    "model.name",
    "method.method",
    "quantization.mode",
    "quantization.quant_type",
    "quantization.double_quant",
    "quantization.compute_dtype",
    "model.dtype",
    "method.r",
    "method.alpha",
    "method.dropout",
    "method.target_preset",
    "method.target_modules",
    "method.freeze_train_blocks",
    "method.freeze_train_head",
    "training.learning_rate",
    "training.epochs",
    "training.max_steps",
    "training.batch_size",
    "training.grad_accum",
    "training.scheduler",
    "training.warmup_ratio",
    "training.decay_ratio",
    "training.max_seq_len",
    "training.gradient_checkpointing",
    "data.dataset",
    "data.format",
    "data.max_rows",
    "data.validation_fraction",
    "data.test_fraction",
    "data.instruction",
    "data.system_prompt",
    "name",
)

# ---- method "head": language-model options it cannot use, the value each must keep, and why ------------------------
# RunConfig refuses any other value, choosing head sets them, and forms grey them out while head is chosen.
HEAD_FIXED: dict[str, tuple[Any, str]] = {
    "training.packing": (False, "each row is classified on its own"),
    "data.mix_fraction": (0.0, "general text has no labels"),
    "training.layer_lr_decay": (1.0, ""),
    "training.unfreeze_every_steps": (0, ""),
    "training.l2_to_init": (0.0, ""),
    "training.ewc_lambda": (0.0, ""),
}

# ---- when a field does anything ------------------------------------------------------------------------------------
_LORA = is_("method.method", "lora", "qlora", why="used by LoRA and QLoRA only")
_FOUR_BIT = is_("quantization.mode", "4bit", why="used with 4-bit quantization only")
_NOT_HEAD = not_("method.method", "head", why="not used by the head method (a classifier on label ids)")
APPLIES_WHEN: dict[str, tuple[Condition, ...]] = {
    **{
        f"method.{name}": (_LORA,)
        for name in ("r", "alpha", "dropout", "target_preset", "bias", "use_rslora", "use_dora")
    },
    "method.target_modules": (_LORA, is_("method.target_preset", "custom", why="used when target_preset is custom")),
    "method.freeze_train_blocks": (
        is_("method.method", "freeze", "head", why="used by the freeze and head methods only"),
    ),
    "method.freeze_train_head": (is_("method.method", "freeze", why="used by the freeze method only"),),
    **{f"quantization.{name}": (_FOUR_BIT,) for name in ("quant_type", "double_quant", "compute_dtype")},
    "training.decay_ratio": (is_("training.scheduler", "wsd", why="used by the wsd scheduler only"),),
    **dict.fromkeys(HEAD_FIXED, (_NOT_HEAD,)),
    "training.ewc_texts": (_NOT_HEAD, not_("training.ewc_lambda", 0, why="used when ewc_lambda is above 0")),
}

# ---- options ---------------------------------------------------------------------------------------------------------
OPTIONS: dict[str, Option] = {
    "alpha_follows_r": Option(
        "alpha_follows_r",
        "keep alpha = 2 × r",
        "A common starting point, not a rule: alpha/r scales the update, and alpha = 2×r keeps that scale at 2 "
        "whatever the rank. Off: set alpha freely.",
        "method.alpha",
    ),
}


# ---- what an edit implies --------------------------------------------------------------------------------------------
def _method_couplings() -> tuple[Coupling, ...]:
    base_weights = ("full", "freeze", "head")
    return (
        Coupling(
            "method.method",
            (is_("method.method", "qlora"), not_("quantization.mode", "4bit")),
            "quantization.mode",
            "quantization.mode set to 4bit: QLoRA trains adapters on a 4-bit base.",
            value="4bit",
        ),
        Coupling(
            "method.method",
            (is_("method.method", "lora"), is_("quantization.mode", "4bit")),
            "quantization.mode",
            "quantization.mode set to none: LoRA on a 4-bit base is QLoRA (choose qlora to keep the 4-bit base).",
            value="none",
        ),
        Coupling(
            "method.method",
            (is_("method.method", *base_weights), not_("quantization.mode", "none")),
            "quantization.mode",
            "quantization.mode set to none: {method.method} updates base weights, which cannot be quantized.",
            value="none",
        ),
        Coupling(
            "quantization.mode",
            (is_("quantization.mode", "4bit"), not_("method.method", "qlora")),
            "method.method",
            "method.method set to qlora: adapters on a 4-bit base are QLoRA.",
            value="qlora",
        ),
        Coupling(
            "quantization.mode",
            (not_("quantization.mode", "4bit"), is_("method.method", "qlora")),
            "method.method",
            "method.method set to lora: QLoRA needs a 4-bit base.",
            value="lora",
        ),
        Coupling(
            "quantization.mode",
            (is_("quantization.mode", "8bit"), is_("method.method", *base_weights)),
            "method.method",
            "method.method set to lora: {method.method} updates base weights, which cannot be quantized; LoRA "
            "trains adapters on the 8-bit base.",
            value="lora",
        ),
    )


def _head_couplings() -> tuple[Coupling, ...]:
    fixed = tuple(
        Coupling(
            "method.method",
            (is_("method.method", "head"), not_(path, value)),
            path,
            f"{path} set to {{value}}: the head method does not support it" + (f" ({why})." if why else "."),
            value=value,
        )
        for path, (value, why) in HEAD_FIXED.items()
    )
    head_trains = Coupling(
        "method.method",
        (is_("method.method", "head"), is_("method.freeze_train_head", False)),
        "method.freeze_train_head",
        "method.freeze_train_head set to true: the head method's new classification head always trains.",
        value=True,
    )
    freeze_trains = Coupling(
        "method.method",
        (is_("method.method", "freeze"), is_("method.freeze_train_blocks", 0), is_("method.freeze_train_head", False)),
        "method.freeze_train_head",
        "method.freeze_train_head set to true: freeze with no block and no head training would train nothing.",
        value=True,
    )
    return (*fixed, head_trains, freeze_trains)


COUPLINGS: tuple[Coupling, ...] = (
    *_method_couplings(),
    *_head_couplings(),
    Coupling(
        "method.target_preset",
        (not_("method.target_preset", "custom"), not_("method.target_modules", [])),
        "method.target_modules",
        "method.target_modules cleared: they are used only with target_preset custom.",
        value=[],
    ),
    Coupling(
        "method.r",
        (),
        "method.alpha",
        "method.alpha set to {value}: keep alpha = 2 × r is on.",
        from_path="method.r",
        times=2,
        option="alpha_follows_r",
    ),
)
