"""The Fine-tune sidebar in a real JupyterLab and Chromium, from an empty workspace to a stopped run:
open the sidebar, change the rank and see the estimate change, insert the config into a new notebook and run that
one cell, watch the run appear with a growing loss sparkline, stop it from the sidebar, see "stopped" and the
adapter on disk, export it from the sidebar and open the export's report.

Screenshots land in test-artifacts/sidebar-*.png.
"""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.integration]

RUN_NAME = "sidebar-run"
SIDEBAR = "#ft-jupyter-sidebar"


def field(page, path: str):
    return page.locator(f"{SIDEBAR} [data-ft-path='{path}'] input, {SIDEBAR} [data-ft-path='{path}'] select").first


def set_field(page, path: str, value: str) -> None:
    control = field(page, path)
    if not control.is_visible():  # a "More … settings" fold: open it
        page.locator(f"{SIDEBAR} [data-ft-path='{path}']").locator("xpath=ancestor::details[1]/summary").click()
    control.fill(value)


def settled_trainable(page, other_than: int = -1) -> int:
    """Trainable parameters once the pre-flight answers the current form (tiny-random), and differ from before."""
    page.wait_for_function(
        "before => { const e = document.querySelector(\"#ft-jupyter-sidebar [data-ft-preflight='ok']\");"
        " return e && !e.classList.contains('jp-ft-mod-pending') && e.dataset.ftModel === 'tiny-random'"
        " && Number(e.querySelector('[data-ft-trainable]').dataset.ftTrainable) !== before; }",
        arg=other_than,
    )
    return int(page.locator(f"{SIDEBAR} [data-ft-trainable]").get_attribute("data-ft-trainable"))


def settled_split(page, strategy: str | None) -> dict:
    """The pre-flight's per-GPU line once it answers a split over GPUs with `strategy` (None: no split, one GPU)."""
    page.wait_for_function(
        "strategy => { const e = document.querySelector(\"#ft-jupyter-sidebar [data-ft-preflight='ok']\");"
        " if (!e || e.classList.contains('jp-ft-mod-pending')) return false;"
        " const line = e.querySelector('[data-ft-per-gpu-bytes]');"
        " return strategy === null ? line === null : line !== null && line.dataset.ftStrategy === strategy; }",
        arg=strategy,
    )
    line = page.locator(f"{SIDEBAR} [data-ft-per-gpu-bytes]")
    if strategy is None:
        return {}
    return {
        "text": line.inner_text(),
        "per_gpu": int(line.get_attribute("data-ft-per-gpu-bytes")),
        "single": int(line.get_attribute("data-ft-single-gpu-bytes")),
    }


def run_row(page):
    return page.locator(f"{SIDEBAR} [data-ft-run$='-{RUN_NAME}']")


def sparkline_points(page) -> int:
    return int(run_row(page).locator("svg.jp-ft-Sparkline").get_attribute("data-ft-points"))


def test_configure_insert_watch_and_stop_from_the_sidebar(lab, page, artifacts, kernel_idle, run_cell):
    page.set_default_timeout(180_000)  # a loaded 2-core CI machine starts kernels slowly
    page.goto(lab.url("/lab/workspaces/sidebar-test?reset"))
    page.locator("li[data-id='ft-jupyter-sidebar']").click()
    page.locator(f"{SIDEBAR} .jp-ft-Form").wait_for()

    # Configure a tiny model and watch the pre-flight follow the rank.
    set_field(page, "model.name", "tiny-random")
    rank_16 = settled_trainable(page)
    set_field(page, "method.r", "64")
    rank_64 = settled_trainable(page, rank_16)
    assert rank_64 == 4 * rank_16  # LoRA parameters grow linearly with the rank
    page.locator(f"{SIDEBAR} .jp-ft-Preflight-summary").click()  # unfold the memory breakdown
    assert page.locator(f"{SIDEBAR} .jp-ft-MemoryBars-row").count() >= 4
    page.screenshot(path=str(artifacts / "sidebar-1-configure.png"))

    # Split over 4 GPUs: memory is per GPU, next to what one GPU alone would hold; time and cost follow the split.
    one_gpu = int(page.locator(f"{SIDEBAR} [data-ft-memory]").get_attribute("data-ft-memory"))
    page.locator(f"{SIDEBAR} [data-ft-split-gpus]").fill("4")
    page.locator(f"{SIDEBAR} [data-ft-split-strategy]").select_option("zero3")
    zero3 = settled_split(page, "zero3")
    assert zero3["single"] == one_gpu  # "one GPU alone" is the estimate from before the split
    assert zero3["text"].startswith("4 GPUs × ZeRO-3: ") and "per GPU (one GPU alone" in zero3["text"]
    assert "per GPU" in page.locator(f"{SIDEBAR} .jp-ft-Preflight-summary").inner_text()
    assert int(page.locator(f"{SIDEBAR} [data-ft-memory]").get_attribute("data-ft-memory")) == zero3["per_gpu"]
    forecast = page.locator(f"{SIDEBAR} [data-ft-forecast='ok']")
    assert forecast.inner_text().startswith("Time and cost: ") and "4 ×" in forecast.inner_text()
    page.locator(f"{SIDEBAR} .jp-ft-Preflight-dock").screenshot(path=str(artifacts / "sidebar-1b-sharded.png"))
    page.locator(f"{SIDEBAR} [data-ft-split-offload]").check()
    page.locator(f"{SIDEBAR} [data-ft-cpu-bytes]").wait_for()  # offloaded weights and optimizer: CPU RAM
    assert "ZeRO-3 + CPU offload" in settled_split(page, "zero3")["text"]
    # ZeRO-3's 5e8-value reduce bucket outweighs everything tiny-random holds, so its per-GPU figure is higher here;
    # FSDP splits parameters, gradients and optimizer state with no such bucket, so each GPU holds less.
    page.locator(f"{SIDEBAR} [data-ft-split-strategy]").select_option("fsdp")
    fsdp = settled_split(page, "fsdp")
    assert fsdp["per_gpu"] < fsdp["single"] == one_gpu
    assert "offload" not in fsdp["text"]  # the launcher offloads only under ZeRO, so neither box nor request has it
    page.locator(f"{SIDEBAR} [data-ft-split-gpus]").fill("1")
    settled_split(page, None)
    assert page.locator(f"{SIDEBAR} [data-ft-split-strategy]").count() == 0
    assert page.locator(f"{SIDEBAR} [data-ft-forecast='ok']").inner_text().startswith("Time and cost: ")

    for path, value in [
        ("name", RUN_NAME),
        ("training.max_steps", "3000"),
        ("training.learning_rate", "0.001"),
        ("training.max_seq_len", "128"),
        ("data.max_rows", "120"),
        ("method.dropout", "0"),
    ]:
        set_field(page, path, value)
    assert page.locator(f"{SIDEBAR} .jp-ft-Field-error").count() == 0
    page.get_by_role("button", name="Copy YAML").click()
    page.locator(f"{SIDEBAR} .jp-ft-Note", has_text="YAML copied").wait_for()

    # Insert: no notebook is open, so the sidebar creates one; the cell builds the config and starts training.
    page.get_by_role("button", name="Insert into notebook").click()
    cell = page.locator(".jp-Notebook .jp-Cell").filter(has_text="ui.train(config)")
    cell.wait_for()
    assert "name='tiny-random'" in cell.inner_text()
    kernel_idle(".ipynb")  # the notebook the sidebar created, whatever it is named
    run_cell(page, cell)

    # The run shows up in the sidebar with a sparkline that grows while it trains.
    run_row(page).locator("[data-ft-points]").wait_for()
    page.wait_for_function(
        "name => { const s = document.querySelector(`[data-ft-run$='-${name}'] [data-ft-points]`);"
        " return s && Number(s.dataset.ftPoints) >= 3; }",
        arg=RUN_NAME,
    )
    first = sparkline_points(page)
    page.wait_for_function(
        "([name, first]) => Number(document.querySelector(`[data-ft-run$='-${name}'] [data-ft-points]`)"
        ".dataset.ftPoints) > first",
        arg=[RUN_NAME, first],
    )
    assert run_row(page).get_attribute("data-ft-state") == "running"
    assert "ETA" in run_row(page).inner_text()
    run_row(page).scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "sidebar-2-running.png"))

    # Stop from the sidebar: the trainer sees the flag, saves the adapter and reports "stopped".
    run_row(page).get_by_role("button", name="Stop").click()
    page.locator(f"{SIDEBAR} [data-ft-run$='-{RUN_NAME}'][data-ft-state='stopped']").wait_for()
    assert run_row(page).get_attribute("data-ft-artifact") == "adapter"
    assert "stopped from the JupyterLab sidebar" in run_row(page).inner_text()
    page.screenshot(path=str(artifacts / "sidebar-3-stopped.png"))
    run_id = run_row(page).get_attribute("data-ft-run")
    run_dir = lab.root_dir / "runs" / run_id
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    assert (run_dir / "STOP").is_file()

    # Export from the sidebar: a separate `ft-jupyter export` process merges, verifies, writes a GGUF and a Modelfile
    # and scores the smaller copies; the row follows it to "finished" and its report opens in a tab.
    run_row(page).get_by_role("button", name="Export").click()
    page.locator(f"{SIDEBAR} [data-ft-run$='-{RUN_NAME}'] [data-ft-export='finished']").wait_for()
    assert not run_row(page).get_by_role("button", name="Export").is_disabled()
    run_row(page).get_by_role("button", name="Report").click()
    page.locator(".lm-TabBar-tab", has_text="REPORT.md").wait_for()
    assert (run_dir / "export" / "ollama" / "Modelfile").is_file()
    assert json.loads((run_dir / "export" / "report.json").read_text())["merge"]["ok"]
    page.screenshot(path=str(artifacts / "sidebar-4-exported.png"))

    # The run's folder opens in the file browser, result included.
    run_row(page).get_by_role("button", name="Folder").click()
    page.locator(".jp-FileBrowser .jp-BreadCrumbs", has_text=run_id).wait_for()
    page.locator(".jp-FileBrowser .jp-DirListing-item", has_text="adapter").wait_for()

    # The same sidebar in the dark theme (only --jp-* colours, so it follows).
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Theme", exact=True).hover()
    page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Dark", exact=True).click()
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.screenshot(path=str(artifacts / "sidebar-5-dark.png"))
