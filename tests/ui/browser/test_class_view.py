"""A class's shared runs root in a real JupyterLab and Chromium: the Runs section shows my runs and, on request, the
class's (another participant's live run without Stop), and the Leaderboard section ranks the finished runs scored on
the same rows and opens an entry's curves in a notebook.

Screenshots land in test-artifacts/class-*.png.
"""

from __future__ import annotations

import json

import pytest

from ft_jupyter.config import DataConfig, RunConfig, TrainingConfig
from ft_jupyter.train.events import Finished, RunStarted, Step
from ft_jupyter.train.store import RunStore, current_user

pytestmark = [pytest.mark.ui, pytest.mark.integration]

SIDEBAR = "#ft-jupyter-sidebar"


def _class_run(root, name: str, owner: str, accuracy: float | None, lr: float, state: str = "finished"):
    config = RunConfig(
        name=name, data=DataConfig(dataset="support-emails"), training=TrainingConfig(learning_rate=lr, max_steps=20)
    )
    run = RunStore(root).create(config)
    run.set_status(state, state, owner=owner)
    run.append_event(
        RunStarted(
            run_id=run.run_id,
            config=config.to_dict(),
            device="cpu",
            precision="fp32",
            precision_reason="",
            params_total=10,
            params_trainable=1,
            train_rows=80,
            eval_rows=10,
            max_steps=20,
            split_fingerprints={"test": "feedc0ffee00"},
        ).to_json()
    )
    for step in range(1, 21):
        run.append_event(
            Step(
                step=step,
                max_steps=20,
                epoch=0.1,
                loss=3.0 - step * lr * 50,
                learning_rate=lr,
                grad_norm=1.0,
                tokens_seen=step,
                tokens_per_second=1.0,
                memory_mb=None,
                elapsed_s=float(step),
                eta_s=float(20 - step),
            ).to_json()
        )
    if state == "finished":
        run.append_event(Finished(step=20, train_loss=1.0, elapsed_s=20.0, artifact_path="adapter").to_json())
        (run.path / "adapter").mkdir()
    if accuracy is not None:
        (run.path / "evaluation").mkdir()
        (run.path / "evaluation" / "comparison.json").write_text(
            json.dumps(
                {
                    "metric": "accuracy",
                    "task": "classification",
                    "n": 20,
                    "scores": {"finetuned": {"accuracy": accuracy, "macro_f1": accuracy}},
                    "data": {
                        "dataset": "support-emails",
                        "split_seed": 42,
                        "split": "test",
                        "fingerprint": "feedc0ffee00",
                        "rows": 20,
                    },
                }
            )
        )
    return run


def test_class_runs_and_the_leaderboard_in_the_sidebar(lab, page, artifacts, kernel_idle, run_cell):
    root = lab.root_dir / "runs"
    mine = _class_run(root, "class-mine", current_user(), 0.60, 1e-3)
    bobs = _class_run(root, "class-bob", "bob", 0.85, 2e-3)
    cys_live = _class_run(root, "class-cy-live", "cy", None, 1e-3, state="running")
    page.set_default_timeout(120_000)
    page.goto(lab.url("/lab/workspaces/class-test?reset"))
    page.locator("li[data-id='ft-jupyter-sidebar']").click()

    # My runs only, until I ask for the class's.
    page.locator(f"{SIDEBAR} [data-ft-run='{mine.run_id}']").wait_for()
    assert page.locator(f"{SIDEBAR} [data-ft-run='{bobs.run_id}']").count() == 0
    page.locator(f"{SIDEBAR} [data-ft-scope='class']").click()
    live = page.locator(f"{SIDEBAR} [data-ft-run='{cys_live.run_id}']")
    live.wait_for()
    assert live.get_attribute("data-ft-owner") == "cy" and "by cy" in live.inner_text()
    assert live.get_by_role("button", name="Stop").count() == 0  # another participant's run: read, not change
    assert "step 20/20" in live.inner_text()
    bob_row = page.locator(f"{SIDEBAR} [data-ft-run='{bobs.run_id}']")
    assert bob_row.get_by_role("button", name="Export").count() == 0
    live.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "class-1-runs.png"))

    # The leaderboard: bob's 85 % above my 60 %, same rows; the live run is not ranked.
    page.locator(f"{SIDEBAR} [data-ft-section='leaderboard'] > summary").click()
    board = page.locator(f"{SIDEBAR} .jp-ft-Board-group", has_text="fingerprint feedc0ffee00")
    board.wait_for()
    entries = board.locator("[data-ft-board-run]")
    assert [entries.nth(i).get_attribute("data-ft-board-run") for i in range(entries.count())] == [
        bobs.run_id,
        mine.run_id,
    ]
    assert entries.nth(0).get_attribute("data-ft-rank") == "1" and "85.0%" in entries.nth(0).inner_text()
    assert "learning_rate=0.002" in entries.nth(0).inner_text()
    assert page.locator(f"{SIDEBAR} .jp-ft-Board-left", has_text="Not ranked").count() == 1
    board.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "class-2-leaderboard.png"))

    # Curves: a cell that draws bob's run with the dashboard ui.open_run shows, without Stop or Export.
    entries.nth(0).get_by_role("button", name="Curves").click()
    cell = page.locator(".jp-Notebook .jp-Cell").filter(has_text="ui.open_run(")
    cell.wait_for()
    assert bobs.run_id in cell.inner_text()
    kernel_idle(".ipynb")
    run_cell(page, cell)
    page.wait_for_function(
        "() => { const p = document.querySelector('.jp-ft-dashboard .js-plotly-plot');"
        " return p && p.data && p.data[0].x && p.data[0].x.length >= 20; }"
    )
    assert "by bob" in page.locator(".jp-ft-dashboard").inner_text()
    page.screenshot(path=str(artifacts / "class-3-curves.png"))
