"""What the panel asks of the rest of ft_jupyter (model layers, steps, token lengths, estimates, data), cached.

Every answer comes from the core packages' own functions, so the panel shows what training will do; the cache keys
are the config parts each answer depends on, so editing the learning rate never re-reads the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ft_jupyter.config import DataConfig, RunConfig


@dataclass(frozen=True)
class DataCheck:
    template: str | None  # the chat template training will use (None: the tokenizer's own)
    template_note: str
    warnings: tuple[str, ...]  # what training would log as data warnings
    stats: Any  # data.lengths.LengthStats of the train split


class PanelServices:
    def __init__(self):
        self._modules: dict[str, list[str]] = {}
        self._data: dict[tuple[DataConfig, int], Any] = {}
        self._tokenizers: dict[tuple, Any] = {}
        self._checks: dict[tuple, DataCheck] = {}
        self._estimates: dict[RunConfig, Any] = {}
        self._train_rows: dict[tuple[DataConfig, int], int] = {}

    def suggestions(self) -> dict[str, list[str]]:
        """Names the free-text fields offer (the catalogue, the table of popular models, the bundled datasets)."""
        from ft_jupyter.models.suggestions import suggested_values

        return suggested_values()

    def module_names(self, model: str) -> list[str]:
        if model not in self._modules:
            from ft_jupyter.models.estimate import linear_module_names

            self._modules[model] = list(linear_module_names(model))
        return self._modules[model]

    def prepared(self, config: RunConfig):
        """The train/validation/test split training would use (data read once per data settings)."""
        key = (config.data, config.training.seed)
        if key not in self._data:
            from ft_jupyter.data.prepare import prepare

            # The panel calls this from widget callbacks, whose output has no cell to land in: no progress bars.
            self._data[key] = prepare(config.data, seed=config.training.seed, progress=False)
        return self._data[key]

    def total_steps(self, config: RunConfig) -> int:
        """Optimizer steps of the run, counted as training counts them (general-text rows mixed in included)."""
        from ft_jupyter.train.translate import total_steps

        if config.training.max_steps > 0:
            return config.training.max_steps
        key = (config.data, config.training.seed)
        if key not in self._train_rows:
            from ft_jupyter.data.mixing import mix_general_text

            rows, _ = mix_general_text(self.prepared(config).train, config.data, seed=config.training.seed)
            self._train_rows[key] = len(rows)
        return total_steps(config, self._train_rows[key])

    def tokenizer(self, config: RunConfig):
        key = (config.model.name, config.model.revision, config.model.trust_remote_code)
        if key not in self._tokenizers:
            from ft_jupyter.models.loading import load_tokenizer

            self._tokenizers[key] = load_tokenizer(config.model)
        return self._tokenizers[key]

    def data_check(self, config: RunConfig) -> DataCheck:
        """The checks training runs before its first step (`data.preflight`), plus token lengths of the train split.

        Independent of max_seq_len, so moving that slider only re-counts what it cuts."""
        key = (config.model.name, config.data, config.training.seed, config.training.assistant_only_loss)
        if key not in self._checks:
            from ft_jupyter.data.lengths import length_stats
            from ft_jupyter.data.preflight import preflight

            data, tokenizer = self.prepared(config), self.tokenizer(config)
            checked = preflight(data, tokenizer, config)
            stats = length_stats(tokenizer, {"train": data.train}, checked.template, progress=False)
            self._checks[key] = DataCheck(checked.template, checked.template_note, checked.warnings, stats)
        return self._checks[key]

    def estimate(self, config: RunConfig):
        if config not in self._estimates:
            from ft_jupyter.models.estimate import estimate_run

            if len(self._estimates) >= 64:  # a session of edits makes many configs; keep the recent ones
                self._estimates.pop(next(iter(self._estimates)))
            self._estimates[config] = estimate_run(config)
        return self._estimates[config]

    def masking_html(self, config: RunConfig, index: int) -> str:
        from ft_jupyter.data.masking import masking_view

        example = self.prepared(config).train[index]
        view = masking_view(
            self.tokenizer(config),
            example.messages,
            template=self.data_check(config).template,
            max_length=config.training.max_seq_len,
            assistant_only_loss=config.training.assistant_only_loss,
        )
        return view.to_html()
