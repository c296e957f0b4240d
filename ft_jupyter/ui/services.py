"""What the panel asks of the rest of ft_jupyter (model layers, steps, token lengths, estimates, data), cached.

Every answer comes from the core packages' own functions, so the panel shows what training will do; the cache keys
are the config parts each answer depends on, so editing the learning rate never re-reads the data.
"""

from __future__ import annotations

from typing import Any

from ft_jupyter.config import DataConfig, RunConfig


class PanelServices:
    def __init__(self):
        self._modules: dict[str, list[str]] = {}
        self._data: dict[tuple[DataConfig, int], Any] = {}
        self._lengths: dict[tuple, list[int]] = {}
        self._estimates: dict[RunConfig, Any] = {}

    def suggestions(self) -> dict[str, list[str]]:
        from ft_jupyter.data.bundled import BUNDLED
        from ft_jupyter.models.catalogue import CATALOGUE

        return {"model.name": list(CATALOGUE), "data.dataset": list(BUNDLED)}

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

            self._data[key] = prepare(config.data, seed=config.training.seed)
        return self._data[key]

    def total_steps(self, config: RunConfig) -> int:
        from ft_jupyter.train.translate import total_steps

        if config.training.max_steps > 0:
            return config.training.max_steps
        return total_steps(config, len(self.prepared(config).train))

    def token_lengths(self, config: RunConfig) -> list[int]:
        key = (config.model.name, config.data, config.training.seed)
        if key not in self._lengths:
            from ft_jupyter.data.lengths import token_lengths

            self._lengths[key] = token_lengths(config.model.name, self.prepared(config).train)
        return self._lengths[key]

    def estimate(self, config: RunConfig):
        if config not in self._estimates:
            from ft_jupyter.models.estimate import estimate_run

            self._estimates[config] = estimate_run(config)
        return self._estimates[config]

    def report_html(self, config: RunConfig) -> str:
        from ft_jupyter.data.report import report_html

        return report_html(config.data)

    def masking_html(self, config: RunConfig, index: int) -> str:
        from ft_jupyter.data.masking import masking_html

        return masking_html(config.model.name, self.prepared(config).train[index])
