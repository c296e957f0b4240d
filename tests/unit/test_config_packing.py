"""training.packing: the field, its YAML and schema, its translation into TRL's SFTConfig, and how an epoch of
packed rows is counted. No training here (tests/integration/train/test_packing.py trains)."""

import pytest

from ft_jupyter.config import RunConfig, TrainingConfig
from ft_jupyter.config.jsonschema import run_config_schema
from ft_jupyter.config.lint import lint


def _sft(config, steps=10, has_eval=True, tmp_path=None):
    from ft_jupyter.train.translate import Precision, sft_config

    return sft_config(config, Precision("fp32", "cpu", ""), tmp_path or "out", steps, has_eval=has_eval)


def test_packing_is_off_by_default_and_round_trips_through_yaml(tmp_path):
    assert TrainingConfig().packing is False
    assert "  packing: false\n" in RunConfig().to_yaml()
    on = RunConfig().with_overrides({"training.packing": "true"})  # as `--set training.packing=true` gives it
    assert on.training.packing is True and "  packing: true\n" in on.to_yaml()
    assert RunConfig.from_yaml(on.to_yaml()) == on
    assert RunConfig.load(on.save(tmp_path / "run.yaml")).training.packing is True
    with pytest.raises(ValueError, match=r"training\.packing = 'sometimes' has the wrong type; it must be true or"):
        RunConfig.from_dict({"training": {"packing": "sometimes"}})


def test_the_schema_offers_packing_as_a_boolean_with_its_help():
    prop = run_config_schema()["properties"]["training"]["properties"]["packing"]
    assert prop["type"] == "boolean" and prop["default"] is False
    assert "padding" in prop["description"] and "short rows" in prop["description"]


def test_translation_turns_on_trl_packing_of_whole_rows_and_leaves_evaluation_unpacked(tmp_path):
    on = _sft(RunConfig().with_overrides({"training.packing": True}), tmp_path=tmp_path)
    # "bfd" packing is what makes TRL use padding-free batches with per-row position_ids (SFTTrainer.__init__).
    assert (on.packing, on.packing_strategy, on.padding_free, on.eval_packing) == (True, "bfd", False, False)
    off = _sft(RunConfig(), tmp_path=tmp_path)
    assert (off.packing, off.eval_packing) == (False, None)


def test_packed_rows_counts_trls_best_fit_decreasing_bins():
    from ft_jupyter.train.translate import packed_rows

    # 200 | 100+100+56 (best fit for 56 is the bin with exactly 56 left) | 60: three sequences of 256.
    assert packed_rows([100, 100, 60, 200, 56], 256) == 3
    assert packed_rows([300, 10], 256) == 2  # a row is cut to max_length first, then fills a sequence
    assert packed_rows([50] * 10, 256) == 2  # five to a sequence


@pytest.mark.parametrize("scheduler", ["cosine", "wsd"])
def test_with_epochs_an_epoch_is_counted_in_packed_sequences(tmp_path, scheduler):
    from ft_jupyter.train.translate import fit_steps_to_packing, total_steps

    config = RunConfig().with_overrides(
        {
            "training.packing": True,
            "training.max_steps": -1,
            "training.epochs": 2,
            "training.batch_size": 4,
            "training.scheduler": scheduler,
        }
    )
    args = _sft(config, steps=total_steps(config, 100), tmp_path=tmp_path)  # 100 rows: 50 steps
    assert args.max_steps == 50
    assert fit_steps_to_packing(config, args, 26) == 14  # 26 packed sequences: 7 steps an epoch
    expected = _sft(config, steps=14, tmp_path=tmp_path)
    for name in ("max_steps", "eval_steps", "save_steps", "lr_scheduler_kwargs"):
        assert getattr(args, name) == getattr(expected, name), name
    assert args.lr_scheduler_kwargs == ({"num_decay_steps": 3} if scheduler == "wsd" else {})


@pytest.mark.parametrize("change", [{"training.packing": False}, {"training.max_steps": 30}])
def test_steps_stay_as_asked_without_packing_or_with_max_steps(tmp_path, change):
    from ft_jupyter.train.translate import fit_steps_to_packing, total_steps

    config = RunConfig().with_overrides({"training.packing": True, "training.max_steps": -1, **change})
    steps = total_steps(config, 100)
    args = _sft(config, steps=steps, tmp_path=tmp_path)
    assert fit_steps_to_packing(config, args, 26) == steps == args.max_steps


def test_lint_warns_where_packing_meets_grouping_or_remote_code():
    def fields(**changes):
        return [w.field for w in lint(RunConfig().with_overrides(changes))]

    assert "training.group_by_length" in fields(**{"training.packing": True, "training.group_by_length": True})
    assert "training.group_by_length" not in fields(**{"training.group_by_length": True})
    assert "training.packing" in fields(**{"training.packing": True, "model.trust_remote_code": True})
    assert "training.packing" not in fields(**{"training.packing": True})
