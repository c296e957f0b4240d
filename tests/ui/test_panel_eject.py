"""The panel's "Eject to TRL" button: writes the project beside the runs folder and shows its train.py."""

from ft_jupyter.config import preset
from ft_jupyter.ui.panel import ConfigPanel


def test_eject_writes_beside_the_runs_folder_and_shows_the_script(tmp_path):
    config = preset("tiny-smoke").with_overrides(
        {"runs_dir": str(tmp_path / "runs"), "data.max_rows": 80, "training.l2_to_init": 0.1}
    )
    panel = ConfigPanel(config)
    folder = panel.eject()
    assert folder == tmp_path / "ejected-smoke" and (folder / "train.py").is_file()
    shown = panel.code.value
    assert panel.code.layout.display is None and str(folder) in shown
    assert "training.l2_to_init = 0.1" in shown and (folder / "train.py").read_text() in shown
    compile(shown, "shown", "exec")  # the header is comments: the view is a runnable script too
    assert panel.eject() == folder  # a second eject replaces the first
    panel.toggle_code("python")
    assert "RunConfig(" in panel.code.value


def test_a_config_that_cannot_be_ejected_says_why_in_the_view(tmp_path):
    config = preset("tiny-smoke").with_overrides(
        {"runs_dir": str(tmp_path / "runs"), "data.dataset": str(tmp_path / "missing.jsonl")}
    )
    panel = ConfigPanel(config)
    assert panel.eject() is None
    assert panel.code.value.startswith("# Could not eject") and "missing.jsonl" in panel.code.value
    assert not (tmp_path / "ejected-smoke").exists()
