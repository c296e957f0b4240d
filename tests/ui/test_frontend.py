"""The one switch between widgets, a static figure and console text, and the console fallback on a real run."""

import pytest

from ft_jupyter.config import ConfigError
from ft_jupyter.frontend import ENV_VAR, display_mode


def test_outside_a_kernel_progress_is_console_text(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert display_mode() == "console"


def test_the_environment_variable_and_the_argument_override(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "static")
    assert display_mode() == "static"
    assert display_mode("console") == "console"
    monkeypatch.setenv(ENV_VAR, "fancy")
    with pytest.raises(ConfigError, match="FT_JUPYTER_UI"):
        display_mode()


@pytest.mark.integration
def test_console_fallback_prints_progress_with_eta_and_returns_when_done(tmp_path, capsys, tiny_run_config):
    from ft_jupyter import ui

    config = tiny_run_config(tmp_path, max_steps=6, eval_steps=0)
    view = ui.train(config, display="console")
    assert view.done and view.result.state == "finished"
    out = capsys.readouterr().out
    assert "step    1/6" in out and "ETA" in out and "Finished at step 6" in out
