"""Configure a run from the sidebar: the config's JSON Schema, the models known offline, the pre-flight estimate,
and the notebook cell / YAML that rebuild a config.

Every config the browser sends goes through `RunConfig.from_dict`, so the sidebar obeys the same rules as YAML files
and the CLI; a config mistake is a 400 carrying ConfigError's message (field, value, what is allowed).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tornado.web
from tornado.ioloop import IOLoop

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.config.jsonschema import run_config_schema
from ft_jupyter.server.base import FtHandler
from ft_jupyter.server.paths import PathRefused, server_relative

TRAIN_LINES = (
    "\n# Training runs in the background with a live dashboard; the sidebar's Runs list shows it and can stop it.\n"
    "from ft_jupyter import ui\n\nrun = ui.train(config)\n"
)


def config_from(payload: Any, where: str = "config") -> RunConfig:
    """A RunConfig from a browser's JSON value, or a 400 with the config error's message."""
    if not isinstance(payload, dict):
        raise tornado.web.HTTPError(
            400, f'Expected {{"{where}": {{...sections...}}}}, got {type(payload).__name__} for {where!r}.'
        )
    try:
        return RunConfig.from_dict(payload)
    except ConfigError as error:
        raise tornado.web.HTTPError(400, str(error)) from error


class SchemaHandler(FtHandler):
    """The RunConfig schema with what the form needs besides (`x-ft-…`), model and dataset suggestions included."""

    @tornado.web.authenticated
    def get(self) -> None:
        from ft_jupyter.models.suggestions import form_suggestions

        self.reply(run_config_schema(form_suggestions()))


class CatalogueHandler(FtHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        from ft_jupyter.models.catalogue import CATALOGUE
        from ft_jupyter.models.shapes import SHAPES

        offline = [
            {
                "name": e.name,
                "description": e.description,
                "architecture": e.architecture,
                "parameters": e.parameters,
                "license": e.license,
                "offline": e.offline,
            }
            for e in CATALOGUE.values()
        ]
        # Hub models whose shapes are known here: estimates work for them offline, training needs a download.
        shapes = [
            {
                "name": s.repo_id,
                "license": s.license,
                "params": s.params,
                "aliases": list(s.aliases),
                "model_type": s.fields.get("model_type"),
                "layers": s.fields.get("num_hidden_layers"),
                "hidden_size": s.fields.get("hidden_size"),
                "vocab_size": s.fields.get("vocab_size"),
            }
            for s in SHAPES
        ]
        self.reply({"offline": offline, "shapes": shapes})


# One estimate at a time, off the event loop: the first imports transformers, whose lazy module is not safe to
# import from two threads at once (a second import saw "cannot import name AutoModelForCausalLM"), and a sidebar
# typing fast must not pile estimates onto a 2-core machine.
_ESTIMATES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ft-jupyter-estimate")


def _split_from(body: dict[str, Any]) -> dict[str, Any]:
    """The optional multi-GPU fields of an estimate request, checked: {"gpus", "strategy", "offload"}."""
    from ft_jupyter.models.sharding import check_strategy

    split = {
        "gpus": body.get("gpus", 1),
        "strategy": body.get("strategy", "ddp"),
        "offload": body.get("offload", False),
    }
    try:
        check_strategy(**split)
    except ConfigError as error:
        raise tornado.web.HTTPError(400, str(error)) from error
    return split


def _estimate(config: RunConfig, split: dict[str, Any]) -> dict[str, Any]:
    """The estimate, with a nominal forecast on the smallest listed GPU it fits (or why there is none)."""
    from ft_jupyter.evaluate.forecast import forecast_run
    from ft_jupyter.evaluate.throughput import fitting_gpu
    from ft_jupyter.models.estimate import estimate_run

    estimate = estimate_run(config, **split).to_json()
    try:
        forecast = forecast_run(config, gpu=fitting_gpu(estimate["gpu_fit"]), gpus=split["gpus"])
        estimate.update(forecast=forecast.to_json(), forecast_error=None)
    except ConfigError as error:  # e.g. the data file is not on this machine: the estimate still stands
        estimate.update(forecast=None, forecast_error=str(error))
    return estimate


class EstimateHandler(FtHandler):
    """`{"config", "gpus"?, "strategy"?, "offload"?}` → the estimate per GPU, with a `forecast` of time and cost."""

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        config = config_from(body.get("config"))
        split = _split_from(body)
        try:
            estimate = await IOLoop.current().run_in_executor(_ESTIMATES, _estimate, config, split)
        except ConfigError as error:
            raise tornado.web.HTTPError(400, str(error)) from error
        except (ImportError, OSError) as error:
            self.log.exception("ft-jupyter: estimate failed")
            raise tornado.web.HTTPError(500, f"Could not estimate this config: {error}") from error
        self.reply(estimate)


class RenderHandler(FtHandler):
    """`{"config", "notebook"?, "train"?}` → the notebook cell (Python) and the YAML that rebuild this config."""

    @tornado.web.authenticated
    def post(self) -> None:
        from ft_jupyter.config.codegen import config_to_code

        body = self.json_body()
        config = config_from(body.get("config"))
        cell_config = config
        if body.get("notebook") is not None:
            # The kernel runs in the notebook's folder: point runs_dir at the runs root the sidebar watches.
            cell_config = config.replace(runs_dir=self._runs_dir_for(body["notebook"]))
        code = config_to_code(cell_config)
        if body.get("train") is True:
            code += TRAIN_LINES
        self.reply({"code": code, "yaml": config.to_yaml(), "runs_dir": cell_config.runs_dir})

    def _runs_dir_for(self, notebook: Any) -> str:
        try:
            folder = server_relative(self.server_root, notebook).parent
        except PathRefused as error:
            raise tornado.web.HTTPError(400, f"notebook: {error}") from error
        return os.path.relpath(self.runs_root, folder).replace(os.sep, "/")
