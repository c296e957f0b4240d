"""Where each trainable weight sits in the stack, for layer-wise learning rates and gradual unfreezing.

Depth 0 is everything below the first block (the input embeddings), depth i is block i (1-based), and the top depth
(blocks + 1) is the output head with the final norm. Lower layers hold the more general features, so the lessons' two
fundamentals tricks both act by depth: discriminative learning rates give deeper-down weights smaller steps, and
gradual unfreezing lets the top adapt before anything below it moves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from transformers import TrainerCallback

from ft_jupyter.config import ConfigError
from ft_jupyter.train.events import Event, Note


def _transformers_model(model):
    # A PeftModel wraps the transformers model; the layers live in the wrapped one (with the adapters injected).
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def parameter_depths(model) -> dict[int, int]:
    """id(parameter) → depth, for every parameter of `model` (see the module docstring for the scale)."""
    inner = _transformers_model(model)
    decoder = inner.get_decoder()
    layers = getattr(decoder, "layers", None)
    if layers is None:
        raise ConfigError(
            f"layer-wise options need a decoder with a .layers list; {type(inner).__name__} has none. "
            "Set training.layer_lr_decay: 1 and training.unfreeze_every_steps: 0."
        )
    top = len(layers) + 1
    depths: dict[int, int] = {}
    for p in inner.get_output_embeddings().parameters():
        depths[id(p)] = top  # with tied embeddings this is the input embedding too: it counts as the head
    for i, layer in enumerate(layers, start=1):
        for p in layer.parameters():
            depths.setdefault(id(p), i)
    embeddings = {id(p) for p in inner.get_input_embeddings().parameters()}
    for p in inner.parameters():
        # What is neither a block nor the head is the input embedding (bottom) or the final norm (top).
        depths.setdefault(id(p), 0 if id(p) in embeddings else top)
    return depths


def layerwise_param_groups(
    model, base_lr: float, decay: float, weight_decay: float, decay_names: set[str]
) -> list[dict]:
    """Optimizer groups with lr = base_lr × decay^(distance from the top); the top group first, so the learning rate
    the trainer reports is the peak one."""
    depths = parameter_depths(model)
    top = max(depths.values())
    groups: dict[tuple[int, bool], list] = defaultdict(list)
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups[(depths[id(p)], name in decay_names)].append(p)
    return [
        {"params": params, "lr": base_lr * decay ** (top - depth), "weight_decay": weight_decay if decayed else 0.0}
        for (depth, decayed), params in sorted(groups.items(), key=lambda kv: (-kv[0][0], not kv[0][1]))
    ]


class GradualUnfreezing(TrainerCallback):
    """Train the topmost trainable depth first and unfreeze one more depth every `every` optimizer steps.

    Every parameter that will ever train is in the optimizer from the start (the trainer builds it before
    `on_train_begin`); a parameter frozen for now simply has no gradient, and PyTorch optimizers skip those.
    """

    def __init__(self, model, every: int, emit: Callable[[Event], None]):
        self.every = every
        self.emit = emit
        depths = parameter_depths(model)
        self.by_depth: dict[int, list] = defaultdict(list)
        for p in model.parameters():
            if p.requires_grad:
                self.by_depth[depths[id(p)]].append(p)
        self.order = sorted(self.by_depth, reverse=True)  # top first
        self.top = max(depths.values())
        self.stage = 0

    def _apply(self, stage: int) -> None:
        self.stage = min(stage, len(self.order) - 1)
        allowed = set(self.order[: self.stage + 1])
        for depth, params in self.by_depth.items():
            for p in params:
                p.requires_grad_(depth in allowed)

    def _describe(self, depth: int) -> str:
        if depth == self.top:
            return "the head"
        return "the input embeddings" if depth == 0 else f"block {depth} of {self.top - 1}"

    def on_train_begin(self, args, state, control, **kwargs):
        # From the step reached so far, so a resumed run picks up at the same stage.
        self._apply(state.global_step // self.every)
        training = ", ".join(self._describe(d) for d in self.order[: self.stage + 1])
        frozen = ", ".join(self._describe(d) for d in self.order[self.stage + 1 :]) or "nothing"
        self.emit(
            Note(
                step=state.global_step,
                code="unfreezing",
                message=f"gradual unfreezing: training {training}; frozen for now: {frozen}; one more every "
                f"{self.every} steps.",
            )
        )

    def on_step_end(self, args, state, control, **kwargs):
        stage = state.global_step // self.every
        if stage > self.stage and self.stage < len(self.order) - 1:
            self._apply(stage)
            self.emit(
                Note(
                    step=state.global_step,
                    code="unfreezing",
                    message=f"step {state.global_step}: unfroze {self._describe(self.order[self.stage])}.",
                )
            )
