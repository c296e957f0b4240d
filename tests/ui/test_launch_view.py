"""A notebook cell launches a 2-process run: the same live dashboard follows it, its Stop button ends every rank,
and the adapter is found where a single-process run leaves it."""

import time

import pytest

pytestmark = pytest.mark.integration


def test_a_launched_run_is_watched_and_stopped_from_the_dashboard(ui_runs_dir, tiny_run_config):
    from ft_jupyter import ui

    config = tiny_run_config(ui_runs_dir / "launch", max_steps=3000, eval_steps=0)
    handle = ui.launch(config, processes=2, strategy="ddp", display="widgets")
    dashboard = handle.dashboard
    assert dashboard is not None and "2 processes, ddp" in dashboard.title.value
    deadline = time.monotonic() + 180
    while len(dashboard.curves.loss) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(dashboard.curves.loss) >= 3, (handle.run_dir.path / "launch" / "launch.log").read_text()[-2000:]
    dashboard.stop_button.click()
    status = handle.wait(300)
    assert status["state"] == "stopped"
    assert (handle.run_dir.path / "adapter" / "adapter_model.safetensors").is_file()
    deadline = time.monotonic() + 10
    while dashboard.curves.end is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dashboard.curves.end is not None and "stopped" in dashboard.status.value
    assert dashboard.export is not None  # the finished launch exports like any run
    dashboard.follower.close()
