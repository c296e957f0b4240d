"""The notebook UI in a real JupyterLab and Chromium: panel, rank change, live curve, Stop.

Screenshots land in test-artifacts/notebook-ui-*.png.
"""

import time

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.integration]

SETUP = """\
from ft_jupyter import ui
from ft_jupyter.config import preset

config = preset("tiny-smoke").with_overrides({
    "name": "notebook-ui", "runs_dir": "runs", "training.max_steps": 400, "training.learning_rate": 1e-3,
    "training.max_seq_len": 128, "data.max_rows": 120})
panel = ui.configure(config)
panel"""
TRAIN = "run = ui.train(panel.config)"


def plotted_steps(page) -> int:
    """Points of the dashboard's train-loss trace as the browser's Plotly holds them."""
    return page.evaluate("""() => {
        const plot = document.querySelector('.jp-ft-dashboard .js-plotly-plot');
        return plot && plot.data && plot.data[0].x ? plot.data[0].x.length : 0;
    }""")


def trainable(page) -> str:
    return page.locator(".jp-ft-config-panel .jp-ft-trainable").first.get_attribute("data-trainable")


def test_configure_train_watch_and_stop_in_jupyterlab(lab, page, artifacts, write_notebook, kernel_idle, run_cell):
    write_notebook(lab.root_dir / "ui_test.ipynb", [SETUP, TRAIN])
    widget_errors = []
    page.on("console", lambda m: widget_errors.append(m.text) if "Could not create a view" in m.text else None)
    page.set_default_timeout(120_000)
    page.goto(lab.url("/lab/workspaces/ui-test/tree/ui_test.ipynb?reset"))
    cells = page.locator(".jp-Notebook .jp-Cell")
    cells.nth(1).wait_for()
    kernel_idle("ui_test.ipynb")

    run_cell(page, cells.nth(0))
    page.locator(".jp-ft-config-panel").wait_for()
    page.locator(".jp-ft-config-panel .jp-ft-trainable").wait_for()
    before = trainable(page)
    page.screenshot(path=str(artifacts / "notebook-ui-1-panel.png"))

    page.locator(".jp-ft-config-panel .lm-TabBar-tab", has_text="LoRA").click()
    rank = page.locator(".jp-ft-field-method-r input")
    rank.fill("32")
    rank.press("Enter")
    page.wait_for_function(
        "before => { const e = document.querySelector('.jp-ft-config-panel .jp-ft-trainable');"
        " return e && e.dataset.trainable !== before; }",
        arg=before,
    )
    after = trainable(page)
    assert int(after) > int(before)  # rank 8 -> 32 trains more parameters
    page.screenshot(path=str(artifacts / "notebook-ui-2-rank-32.png"))

    run_cell(page, cells.nth(1))
    page.locator(".jp-ft-dashboard").wait_for()
    page.wait_for_function(
        "() => { const p = document.querySelector('.jp-ft-dashboard .js-plotly-plot');"
        " return p && p.data && p.data[0].x && p.data[0].x.length >= 3; }"
    )
    first = plotted_steps(page)
    deadline = time.monotonic() + 60
    while plotted_steps(page) <= first and time.monotonic() < deadline:
        time.sleep(0.5)
    assert plotted_steps(page) > first  # the curve grows while training runs
    page.locator(".jp-ft-dashboard").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "notebook-ui-3-training.png"))

    page.locator("button.jp-ft-dashboard-stop").click()
    page.locator(".jp-ft-dashboard-status [data-state='stopped']").wait_for()
    status = page.locator(".jp-ft-dashboard-status").inner_text()
    assert "stopped" in status and "adapter" in status
    page.screenshot(path=str(artifacts / "notebook-ui-4-stopped.png"))
    adapters = list((lab.root_dir / "runs").glob("*-notebook-ui/adapter/adapter_config.json"))
    assert len(adapters) == 1  # the sidebar test shares this lab's runs folder; count only this test's run
    assert not widget_errors and page.locator("text=Click to show javascript error").count() == 0
