"""The dashboard's Export section on a real finished tiny run: the ticks become the export request, the button
runs the checked export and shows the report and the quantized-copies chart, and refusals are shown, not raised."""

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def finished(ui_runs_dir, tiny_run_config):
    from ft_jupyter.train import run_training

    return run_training(tiny_run_config(ui_runs_dir / "export", max_steps=12)).run_dir


def test_the_ticks_are_the_request(finished):
    from ft_jupyter.ui.export import ExportPanel

    panel = ExportPanel(lambda: finished)
    assert panel.options() == {
        "dtype": "auto",
        "gguf": ("q8_0",),
        "ollama": True,
        "lora_gguf": False,
        "quantized": ("merged", "8bit", "4bit", "q8_0"),
        "throughput": (),
    }
    panel.gguf_q8.value = False
    # Without a GGUF there is nothing for a Modelfile to point at, and no q8_0 copy to score.
    assert panel.options()["ollama"] is False and "q8_0" not in panel.options()["quantized"]


def test_export_button_runs_the_export_and_shows_the_result(finished):
    from ft_jupyter.ui.export import ExportPanel

    panel = ExportPanel(lambda: finished)
    panel.dtype.value = "float32"
    panel.gguf_q8.value = False
    panel.button.click()
    assert panel.report is not None and panel.report.merge.ok
    assert "verified" in panel.message.value and not panel.button.disabled
    report, chart = panel.result.children
    assert "fine-tune effect retained" in report.value and "4-bit" in report.value
    assert [r.copy for r in panel.report.quantized.rows] == ["merged", "8bit", "4bit"]
    bars = chart.data[0]
    assert list(bars.y) == [100 * r.score for r in panel.report.quantized.rows]
    assert all("MB" in text for text in bars.text)


def test_a_refusal_is_a_message_not_a_traceback(finished, tmp_path):
    import shutil

    from ft_jupyter.train.store import RunDir
    from ft_jupyter.ui.export import ExportPanel

    copy = tmp_path / finished.run_id
    shutil.copytree(finished.path, copy, ignore=shutil.ignore_patterns("export"))
    (RunDir(copy)).set_status("running", "still training")
    panel = ExportPanel(lambda: RunDir(copy))
    assert panel.run() is None
    assert "once it has finished" in panel.message.value and not panel.button.disabled
    assert not (copy / "export").exists()


def test_the_dashboard_has_an_export_section(finished):
    from ft_jupyter.ui.training import open_run

    dashboard = open_run(finished.path, display="widgets")
    assert dashboard.export is not None
    section = dashboard.widget.children[-1]
    assert section.get_title(0).startswith("Export") and section.selected_index is None
    dashboard.follower.close()
