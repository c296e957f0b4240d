"""Real tiny runs watched by the dashboard: curves grow, Stop works mid-run (also from a re-opened run folder),
the learning-rate preview matches what training used, runs compare, and the chat playground toggles the adapter."""

import numpy as np
import pytest

from ft_jupyter import ui
from ft_jupyter.ui.dashboard import EVAL, LOSS, LR, progress_fraction
from ft_jupyter.ui.schedule import lr_schedule
from ft_jupyter.ui.services import PanelServices

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def finished(ui_runs_dir, tiny_run_config):
    # Trains for one epoch with general text mixed in, so the step count is one the preview has to work out.
    config = tiny_run_config(ui_runs_dir, max_steps=-1, epochs=1.0).with_overrides({"data.mix_fraction": 0.1})
    view = ui.train(config, display="widgets")
    assert not view.done or view.result is not None  # train() returned while training went on in the background
    view.wait(timeout=300)
    return config, view


@pytest.fixture(scope="module")
def stopped(ui_runs_dir, tiny_run_config, wait_for):
    config = tiny_run_config(ui_runs_dir, max_steps=500, learning_rate=1e-3, warmup_ratio=0.0, eval_steps=0)
    view = ui.train(config, display="widgets")
    wait_for(
        lambda: view.dashboard.curves.last_step is not None and view.dashboard.curves.last_step["step"] >= 3,
        what="three training steps",
    )
    reopened = ui.open_run(view.run_dir, display="widgets")  # a second view of the live run, from its folder
    reopened.stop_button.click()  # writes the run's STOP file
    result = view.wait(timeout=120)
    wait_for(lambda: reopened.curves.end is not None, timeout=10, what="the re-opened view to see the end")
    return config, view, reopened, result


def test_dashboard_drew_the_whole_run(finished):
    config, view = finished
    board = view.dashboard
    steps = view.result.steps
    assert steps > 10
    assert list(board.fig.data[LOSS].x) == list(range(1, steps + 1))
    assert len(board.fig.data[EVAL].x) >= 1
    assert "data-state='finished'" in board.status.value
    assert progress_fraction(board.curves) == 1.0 and f"step {steps}/{steps}" in board.progress.value
    losses = board.curves.loss.y
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.3  # it learned, and the chart shows it
    assert view.result.artifact_path.is_dir()


def test_learning_rate_preview_matches_training(finished):
    config, view = finished
    steps = PanelServices().total_steps(config)  # what the panel's preview uses: epochs, rows, mixing
    assert steps == view.result.steps
    preview = lr_schedule(config, steps)
    logged = view.dashboard.curves.learning_rate
    assert list(preview.steps) == logged.x
    assert np.allclose(preview.learning_rate, logged.y, rtol=1e-9, atol=0)
    assert np.allclose(view.dashboard.fig.data[LR].y, preview.learning_rate)


def test_reopening_a_finished_run_draws_the_same_dashboard(finished):
    _, view = finished
    again = ui.open_run(view.run_dir, display="widgets")
    for live, replayed in zip(view.dashboard.fig.data, again.fig.data, strict=True):
        assert np.array_equal(np.asarray(live.y, dtype=float), np.asarray(replayed.y, dtype=float), equal_nan=True)
    assert again.status.value == view.dashboard.status.value
    assert again.stop_button.disabled


def test_static_fallback_draws_a_plain_figure_of_the_run(finished, capsys):
    _, view = finished
    curves = ui.open_run(view.run_dir, display="static")
    assert curves.loss.y == view.dashboard.curves.loss.y
    out = capsys.readouterr().out
    assert "Figure" in out and "finished:" in out  # outside a kernel display() prints the figure's repr


def test_stop_mid_run_leaves_a_saved_adapter(stopped):
    config, view, reopened, result = stopped
    assert result.state == "stopped"
    assert 3 <= result.steps < config.training.max_steps
    assert (result.artifact_path / "adapter_config.json").is_file()
    for board in (view.dashboard, reopened):
        assert "data-state='stopped'" in board.status.value


def test_comparison_shows_both_curves_and_the_settings_that_differ(finished, stopped):
    comparison = ui.compare_runs(finished[1], stopped[1])
    assert {"training.max_steps", "training.learning_rate", "training.warmup_ratio"} <= set(comparison.differences)
    assert "name" not in comparison.differences
    names = [trace.name for trace in comparison.figure.data]
    assert any(n.endswith("train") for n in names) and len([n for n in names if n.endswith("train")]) == 2
    table = comparison.table_html()
    assert "training.learning_rate" in table and "Change one variable per experiment" in table


def test_chat_playground_answers_with_and_without_the_adapter(finished):
    from ft_jupyter.evaluate.generation import generate_answers
    from ft_jupyter.models.inference import load_for_inference

    _, view = finished
    playground = ui.chat_playground(view, prompt="My invoice was charged twice, please help.")
    base, tuned = playground.generate()
    assert base.latency_s > 0 and tuned.latency_s > 0
    assert "tokens/s" in playground.base_out.value
    # The base answer comes from the same loaded model with the adapter switched off: it must equal a fresh base.
    model, tokenizer = load_for_inference("tiny-random")
    fresh = generate_answers(
        model, tokenizer, [[{"role": "user", "content": playground.prompt.value}]], max_new_tokens=64
    )[0]
    assert base.text == fresh
    assert tuned.text != base.text
