"""`FtTrainer`: TRL's SFTTrainer plus the few things the lessons and the speed target need.

- A compact LM head: the loss is computed from the logits of the positions that carry a label only. With
  assistant-only loss most positions are prompt, and on CPU TRL's fused head scores every position (it compacts on
  Triton devices only) and also computes entropy and top-1 accuracy for its logs. Same loss, same gradients, less work.
- Discriminative (layer-wise decayed) learning rates: one optimizer group per depth (see `layers.py`).
- An L2 penalty toward the initial weights, λ·‖θ−θ₀‖², added to the loss (so it shows in the loss curve), and its
  Fisher-weighted form, EWC (`ewc.py`).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable

import torch
import torch.nn.functional as F
from transformers.modeling_outputs import CausalLMOutputWithPast
from trl import SFTTrainer

from ft_jupyter.config import RunConfig
from ft_jupyter.models.architecture import COMPACT_HEAD_MODELS
from ft_jupyter.train.events import Event
from ft_jupyter.train.ewc import ewc_penalty, fisher_diagonal
from ft_jupyter.train.layers import GradualUnfreezing, layerwise_param_groups


def _transformers_model(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def install_compact_head(model) -> bool:
    """Teach the model's forward a `compact_lm_head=True` mode returning only the loss; False if not supported."""
    inner = _transformers_model(model)
    if inner.config.model_type not in COMPACT_HEAD_MODELS:
        return False
    previous_forward = inner.forward  # TRL's fused-head forward, which falls back to the original one

    @functools.wraps(type(inner).forward)  # generate() validates its kwargs against this signature
    def forward(self, *args, compact_lm_head=False, **kwargs):
        if not compact_lm_head:
            return previous_forward(*args, **kwargs)
        labels = kwargs.pop("labels")
        denominator = kwargs.pop("num_items_in_batch", None)
        kwargs["use_cache"] = False
        hidden = self.base_model(*args, **kwargs).last_hidden_state[:, :-1]
        targets = labels[:, 1:].to(hidden.device)
        mask = targets != -100
        logits = self.get_output_embeddings()(hidden[mask])  # only the positions that carry a label
        total = F.cross_entropy(logits.float(), targets[mask], reduction="sum")
        # Like TRL: the tokens of the whole accumulated batch when known, else this micro-batch's; never 0/0 (a
        # batch without answer tokens gives a zero loss, not NaN).
        count = (mask.sum() if denominator is None else torch.as_tensor(denominator)).clamp(min=1)
        return CausalLMOutputWithPast(loss=total / count)

    inner.forward = types.MethodType(forward, inner)
    return True


class FtTrainer(SFTTrainer):
    def __init__(
        self,
        *args,
        layer_lr_decay: float = 1.0,
        l2_to_init: float = 0.0,
        ewc_lambda: float = 0.0,
        ewc_fisher: dict[str, torch.Tensor] | None = None,
        compact_head: bool = True,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if ewc_lambda > 0 and not ewc_fisher:
            raise ValueError("ewc_lambda > 0 needs ewc_fisher: the Fisher information from train/ewc.py.")
        self.layer_lr_decay = layer_lr_decay
        self.l2_to_init = l2_to_init
        self.ewc_lambda = ewc_lambda
        self._fisher = ewc_fisher or {}
        self.compact_head = compact_head and install_compact_head(self.model)
        # θ₀ is taken before train() loads any checkpoint, so a resumed run is pulled toward the same start.
        self._initial = (
            {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}
            if l2_to_init > 0 or ewc_lambda > 0
            else {}
        )

    def create_optimizer(self, model=None):
        if self.optimizer is not None or self.layer_lr_decay == 1.0:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        groups = layerwise_param_groups(
            opt_model,
            self.args.learning_rate,
            self.layer_lr_decay,
            self.args.weight_decay,
            set(self.get_decay_parameter_names(opt_model)),
        )
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs:  # only prediction steps that want logits ask for outputs
            return super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if self.compact_head and "labels" in inputs:
            loss = model(**inputs, compact_lm_head=True, num_items_in_batch=num_items_in_batch).loss
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * (self.accelerator.num_processes // self.get_tp_size())  # DDP averages, as in TRL
        else:
            loss = super().compute_loss(model, inputs, num_items_in_batch=num_items_in_batch)
        if self._initial and model.training:
            loss = loss + self._pull_penalty() / self.current_gradient_accumulation_steps
        return loss

    def _pull_penalty(self) -> torch.Tensor:
        """λ·‖θ−θ₀‖² and/or λ_ewc·Σ F·(θ−θ₀)², whichever are on."""
        penalty = torch.zeros(())
        if self.l2_to_init > 0:
            for n, p in self.model.named_parameters():
                if p.requires_grad and n in self._initial:
                    penalty = penalty + self.l2_to_init * (p - self._initial[n]).pow(2).sum()
        if self.ewc_lambda > 0:
            penalty = penalty + self.ewc_lambda * ewc_penalty(self.model, self._initial, self._fisher)
        return penalty


def _has_labels(row) -> bool:
    return any(label != -100 for label in row["labels"])


def _dataset(examples):
    from datasets import Dataset

    return Dataset.from_list([{"messages": list(e.messages)} for e in examples])


def build_trainer(
    config: RunConfig,
    model,
    tokenizer,
    args,
    train: list,
    validation: list,
    callbacks: list,
    emit: Callable[[Event], None],
) -> FtTrainer:
    """The trainer for one run: our callbacks in, the console printer out, gradual unfreezing when asked."""
    from transformers import PrinterCallback

    t = config.training
    fisher = None
    if t.ewc_lambda > 0:  # weighed on the model as it starts, before any checkpoint is loaded
        from ft_jupyter.data.mixing import fisher_texts

        texts = fisher_texts(config.data, t.ewc_texts, t.seed)
        fisher = fisher_diagonal(model, tokenizer, texts, t.max_seq_len)
    trainer = FtTrainer(
        model=model,
        args=args,
        train_dataset=_dataset(train),
        eval_dataset=_dataset(validation) if validation else None,
        processing_class=tokenizer,
        callbacks=callbacks,
        layer_lr_decay=t.layer_lr_decay,
        l2_to_init=t.l2_to_init,
        ewc_lambda=t.ewc_lambda,
        ewc_fisher=fisher,
    )
    if args.packing:
        # Unpacked, TRL drops the rows whose answer max_length cut off entirely; packed it keeps them, each one filling
        # a sequence alone (it is cut to max_length), so dropping label-less sequences drops exactly those rows.
        trainer.train_dataset = trainer.train_dataset.filter(_has_labels)
    trainer.remove_callback(PrinterCallback)  # our observers report progress; raw log dicts are noise
    if t.unfreeze_every_steps:
        trainer.add_callback(GradualUnfreezing(trainer.model, t.unfreeze_every_steps, emit))
    return trainer
