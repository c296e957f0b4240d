"""`--set` on the command line edits a config the way the panel and the sidebar do (`config.form`): every method and
quantization choice, from every preset, lands where the form puts it, with what else changed printed as notes; a
pair the person sets explicitly is kept, and an impossible pair is refused with the rule."""

import itertools

import pytest
import yaml

from ft_jupyter.cli import main
from ft_jupyter.config import RunConfig
from ft_jupyter.config.form import apply_edit
from ft_jupyter.config.presets import PRESETS, preset

METHODS = ("lora", "qlora", "full", "freeze", "head")
MODES = ("none", "4bit", "8bit")


def _config_command(capsys, preset_name, *pairs):
    argv = ["config", "--preset", preset_name] + [arg for pair in pairs for arg in ("--set", pair)]
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("start", "path", "value"),
    [(p, "method.method", m) for p in sorted(PRESETS) for m in METHODS]
    + [(p, "quantization.mode", q) for p in sorted(PRESETS) for q in MODES],
)
def test_one_choice_from_each_preset_lands_where_the_form_puts_it(capsys, start, path, value):
    expected = apply_edit(preset(start).to_dict(), path, value)
    code, out, err = _config_command(capsys, start, f"{path}={value}")
    assert code == 0, err
    assert RunConfig.from_dict(yaml.safe_load(out)) == RunConfig.from_dict(expected.config)
    assert err.splitlines() == [f"note: {note}" for note in expected.notes]


@pytest.mark.parametrize(("method", "mode"), list(itertools.product(METHODS, MODES)))
def test_both_set_explicitly_are_kept_or_refused_as_runconfig_rules(capsys, method, mode):
    code, out, err = _config_command(capsys, "cpu-quickstart", f"method.method={method}", f"quantization.mode={mode}")
    try:
        RunConfig.from_dict({"method": {"method": method}, "quantization": {"mode": mode}})
    except ValueError as rule:
        assert code == 2 and err.strip() == f"error: {rule}"
    else:
        assert code == 0, err
        got = yaml.safe_load(out)
        assert (got["method"]["method"], got["quantization"]["mode"]) == (method, mode)


def test_choosing_qlora_sets_the_4bit_base_and_says_so(capsys):
    code, out, err = _config_command(capsys, "cpu-quickstart", "method.method=qlora")
    assert code == 0 and yaml.safe_load(out)["quantization"]["mode"] == "4bit"
    assert err.startswith("note: quantization.mode set to 4bit")
