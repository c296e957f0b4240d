"""The pre-flight strip: its own GPU-count / split / forecast controls redraw it; the split line shows only when the
run is spread over several GPUs; the forecast line carries time and cost."""

import html

import pytest

from ft_jupyter.config import RunConfig
from ft_jupyter.models.estimate import estimate_run
from ft_jupyter.ui.preflight import PreflightStrip, preflight_html


@pytest.fixture()
def config(ui_runs_dir, tiny_run_config) -> RunConfig:
    return tiny_run_config(ui_runs_dir).with_overrides({"training.price_per_hour": 0.5})


def test_one_gpu_shows_no_split_line_and_a_forecast(config):
    strip = PreflightStrip(estimate_run)
    strip.update(config)
    value = strip.html.value
    assert "jp-ft-preflight-split" not in value and "GPUs ×" not in value
    forecast = strip.estimate["forecast"]
    assert forecast["gpu"] == "T4" and forecast["steps"] == 12 and forecast["price_per_hour"] == 0.5
    assert f"time and cost {html.escape(forecast['headline'])}" in value and "on T4 (nominal)" in value
    assert strip.offload.disabled  # DDP has nothing to offload


def test_several_gpus_show_the_split_per_gpu_and_follow_the_controls(config):
    strip = PreflightStrip(estimate_run)
    strip.update(config)
    one_gpu = strip.estimate["memory"]["total_bytes"]
    strip.strategy.value = "zero3"
    strip.gpus.value = 4
    assert "4 GPUs × ZeRO-3" in strip.html.value and "memory on each GPU" in strip.html.value
    assert strip.estimate["sharding"]["single_gpu_total_bytes"] == one_gpu
    assert strip.estimate["memory"]["total_bytes"] == strip.estimate["sharding"]["per_gpu_total_bytes"]
    assert strip.estimate["forecast"]["gpus"] == 4 and "4 × T4" in strip.html.value
    strip.offload.value = True
    assert not strip.offload.disabled and "CPU RAM" in strip.html.value
    strip.gpu.value = "H100"
    assert strip.estimate["forecast"]["gpu"] == "H100"
    strip.strategy.value = "ddp"  # offload no longer applies: the strip drops it rather than failing
    assert strip.offload.disabled and "4 GPUs × DDP" in strip.html.value


def test_html_from_a_server_reply_without_a_forecast():
    reply = estimate_run(RunConfig(), measure_data=False).to_json()
    reply.update(forecast=None, forecast_error="data.dataset 'x.jsonl' is not here")
    shown = preflight_html(reply)
    assert "no forecast: data.dataset" in shown and "GPUs ×" not in shown
