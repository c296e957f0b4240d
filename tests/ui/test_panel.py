"""The configuration panel without a browser: controls edit the RunConfig, errors show inline, previews follow."""

import dataclasses
import html

import numpy as np
import pytest

from ft_jupyter.config import SECTIONS, RunConfig, field_help, preset
from ft_jupyter.config.form import relevance
from ft_jupyter.config.semantics import METHODS
from ft_jupyter.ui.panel import ConfigPanel


@pytest.fixture(scope="module")
def base(ui_runs_dir):
    return preset("tiny-smoke").with_overrides({"runs_dir": str(ui_runs_dir), "training.max_seq_len": 256})


@pytest.fixture(scope="module")
def shared_panel(base):
    return ConfigPanel(base)


@pytest.fixture()
def panel(shared_panel, base):
    shared_panel.set_config(base)  # every test starts from the same config
    assert shared_panel.error is None
    return shared_panel


def set_value(panel, key, value):
    panel.controls[key].widget.value = value


def test_every_config_field_has_a_control_with_its_help_text(panel):
    special = {"method.method", "quantization.mode", "method.target_preset", "method.target_modules"}
    fields = {f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
    assert fields == set(panel.controls) | special
    helps = field_help()
    for key, control in panel.controls.items():
        section, name = key.split(".")
        assert control.help == helps[section][name] and control.help
        assert control.widget.tooltip == control.help
        label, widget, shown_help = control.row.children
        assert widget is control.widget and html.escape(control.help) in shown_help.value


def test_changing_controls_changes_the_config(panel):
    set_value(panel, "method.r", 32)
    set_value(panel, "training.learning_rate", 1e-4)
    set_value(panel, "data.system_prompt", "You sort emails.")
    panel.top["name"].value = "rank-32"
    config = panel.config
    assert (config.method.r, config.training.learning_rate, config.name) == (32, 1e-4, "rank-32")
    assert config.data.system_prompt == "You sort emails."
    set_value(panel, "data.system_prompt", "")
    assert panel.config.data.system_prompt is None  # an empty optional text means "none", as in YAML


def test_alpha_follows_two_times_r_only_while_the_rule_is_ticked(panel):
    rule = panel.options["alpha_follows_r"]
    assert rule.value  # tiny-smoke has r 8, alpha 16: the config already follows the rule
    set_value(panel, "method.r", 4)
    assert panel.config.method.alpha == 8
    assert panel.controls["method.alpha"].widget.disabled
    assert "method.alpha set to 8" in panel.notes.value  # said, never silent
    rule.value = False
    set_value(panel, "method.alpha", 5)
    set_value(panel, "method.r", 16)
    assert (panel.config.method.r, panel.config.method.alpha) == (16, 5)
    assert panel.notes.value == ""
    rule.value = True  # ticking it applies it at once
    assert panel.config.method.alpha == 32


@pytest.mark.parametrize("choice", METHODS, ids=lambda c: c.key)
def test_method_menu_sets_method_and_quantization_and_shows_only_what_applies(panel, choice):
    panel.method.value = choice.key
    assert panel.error is None
    assert (panel.config.method.method, panel.config.quantization.mode) == (choice.method, choice.quantization)
    data = panel.config.to_dict()
    for key, control in panel.controls.items():
        assert (control.row.layout.display is None) == (relevance(data, key) is None), key
    lora = choice.method in ("lora", "qlora")
    assert (panel.targets.widget.layout.display is None) == lora
    assert (panel.options["alpha_follows_r"].layout.display is None) == lora
    quant_rows = [panel.controls[f"quantization.{n}"].row for n in ("quant_type", "double_quant", "compute_dtype")]
    assert all((row.layout.display is None) == (choice.key == "qlora") for row in quant_rows)


def test_choosing_head_resets_what_it_cannot_use_and_says_so(panel):
    set_value(panel, "training.packing", True)
    panel.method.value = "head"
    assert panel.config.method.method == "head" and panel.config.training.packing is False
    assert "training.packing set to false" in panel.notes.value
    assert panel.controls["training.packing"].row.layout.display == "none"


def test_start_from_a_preset_keeps_the_runs_folder(panel, base):
    set_value(panel, "method.r", 64)
    panel.start.value = "tiny-smoke"
    assert panel.config == preset("tiny-smoke").replace(runs_dir=base.runs_dir)
    assert panel.start.value == ""  # an action, not a state: the note says which preset was taken
    assert "Started from preset 'tiny-smoke'" in html.unescape(panel.notes.value)


def test_model_name_offers_the_catalogue_and_popular_models_and_takes_any_name(panel):
    combo = panel.controls["model.name"].widget
    assert type(combo).__name__ == "Combobox" and not combo.ensure_option
    assert {"smollm2-135m-instruct", "tiny-random", "Qwen/Qwen2.5-0.5B-Instruct"} <= set(combo.options)
    set_value(panel, "model.name", "someone/own-model")
    assert panel.controls["model.name"].value == "someone/own-model"


def test_invalid_input_shows_the_error_and_keeps_the_last_valid_config(panel):
    set_value(panel, "data.validation_fraction", 0.45)
    valid = panel.config
    set_value(panel, "data.test_fraction", 0.45)  # 0.9 leaves nothing to train on
    assert panel.config == valid
    assert "validation_fraction + data.test_fraction" in panel.error
    assert "Not applied" in panel.error_box.value
    set_value(panel, "model.name", "   ")
    assert panel.config == valid
    set_value(panel, "model.name", "tiny-random")
    set_value(panel, "data.test_fraction", 0.1)
    assert panel.error is None and panel.error_box.value == ""
    assert panel.config.data.test_fraction == 0.1


def test_effective_batch_is_shown(panel):
    set_value(panel, "training.batch_size", 4)
    set_value(panel, "training.grad_accum", 8)
    assert "<b>32</b>" in panel.effective_batch.value


def test_learning_rate_preview_follows_the_scheduler(panel):
    assert panel.controls["training.decay_ratio"].row.layout.display == "none"
    set_value(panel, "training.max_steps", 100)
    set_value(panel, "training.warmup_ratio", 0.1)
    cosine = np.asarray(panel.lr_preview.fig.data[0].y)
    assert cosine[0] == 0.0 and cosine.max() == pytest.approx(panel.config.training.learning_rate)
    set_value(panel, "training.scheduler", "wsd")
    assert panel.controls["training.decay_ratio"].row.layout.display is None
    wsd = np.asarray(panel.lr_preview.fig.data[0].y)
    assert panel.lr_preview.schedule.scheduler_type == "warmup_stable_decay"
    assert not np.allclose(wsd, cosine)
    assert np.sum(np.isclose(wsd, wsd.max())) > 50  # the stable phase holds the peak


def test_length_histogram_counts_rows_a_max_seq_len_would_cut(panel):
    lengths = np.asarray(panel.lengths.fig.data[0].x)
    assert len(lengths) == len(panel.services.prepared(panel.config).train)
    set_value(panel, "training.max_seq_len", 64)
    assert panel.lengths.truncated == int((lengths > 64).sum()) > 0
    assert f">{panel.lengths.truncated}</b>" in panel.lengths.caption.value
    assert panel.lengths.fig.layout.shapes[0].x0 == 64


def test_data_tab_shows_rows_report_and_masking(panel):
    view = panel.data_view
    assert "user" in view.rows.value and "assistant" in view.rows.value
    assert "Cleaning report" in view.report.value
    assert "jp-ft-token" in view.masking.value
    set_value(panel, "data.dataset", "/no/such/file.jsonl")
    assert "does not exist" in view.summary.value or "not found" in view.summary.value.lower()


def test_show_as_code_and_yaml_rebuild_the_exact_config(panel):
    set_value(panel, "data.instruction", "Label it: \"a\", 'b'\nor c")
    panel.toggle_code("python")
    namespace: dict = {}
    exec(panel.code.value, namespace)
    assert namespace["config"] == panel.config
    panel.toggle_code("yaml")
    assert RunConfig.from_yaml(panel.code.value) == panel.config
    set_value(panel, "method.r", 64)  # the shown text follows later edits
    assert RunConfig.from_yaml(panel.code.value).method.r == 64
    panel.toggle_code("yaml")
    assert panel.code.layout.display == "none"


def test_set_config_shows_a_preset(panel):
    target = preset("qlora-t4").with_overrides({"model.name": "tiny-random"})
    panel.set_config(target)
    assert panel.method.value == "qlora"
    assert panel.controls["training.grad_accum"].widget.value == 8
    assert panel.config == target
