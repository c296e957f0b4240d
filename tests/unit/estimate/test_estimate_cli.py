import json

import pytest

from ft_jupyter.cli import build_parser, main
from ft_jupyter.config import RunConfig, preset
from ft_jupyter.config.semantics import METHODS
from ft_jupyter.evaluate.commands import _estimate_config


def _flags(*argv: str):
    return _estimate_config(build_parser().parse_args(["estimate", "tiny-random", *argv]))


@pytest.fixture(scope="module")
def qlora_yaml(tmp_path_factory):
    return str(preset("qlora-t4").save(tmp_path_factory.mktemp("estimate") / "qlora.yaml"))


@pytest.mark.parametrize("choice", METHODS, ids=lambda c: c.key)
@pytest.mark.parametrize("start", ["defaults", "qlora-t4"])
def test_method_flag_sets_method_and_quantization_for_every_menu_choice(choice, start, qlora_yaml):
    config, notes = _flags("--method", choice.key, *(["--config", qlora_yaml] if start == "qlora-t4" else []))
    assert (config.method.method, config.quantization.mode) == (choice.method, choice.quantization)
    assert config.model.name == "tiny-random"
    assert all(note for note in notes)


def test_lora_r_leaves_alpha_alone_unless_the_rule_is_asked_for():
    config, notes = _flags("--lora-r", "8")
    assert (config.method.r, config.method.alpha) == (8, RunConfig().method.alpha) and notes == ()
    config, notes = _flags("--lora-r", "8", "--alpha-follows-r")
    assert (config.method.r, config.method.alpha) == (8, 16)
    assert notes == ("method.alpha set to 16: keep alpha = 2 × r is on.",)
    config, _ = _flags("--alpha-follows-r")  # without --lora-r: the config's own rank
    assert config.method.alpha == 2 * config.method.r


def test_a_method_flag_says_what_else_it_changed(tmp_path, capsys):
    packed = RunConfig().with_overrides({"training.packing": True}).save(tmp_path / "packed.yaml")
    config, notes = _flags("--method", "head", "--config", str(packed))
    assert config.training.packing is False
    assert notes == (
        "training.packing set to false: the head method does not support it (each row is classified on its own).",
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["estimate", "tiny-random", "--method", "lora8"])
    assert "lora-8bit" in capsys.readouterr().err


def test_estimate_command_answers_for_a_popular_model_offline(capsys):
    code = main(
        [
            "estimate",
            "Qwen/Qwen2.5-0.5B-Instruct",
            "--method",
            "qlora",
            "--lora-r",
            "8",
            "--targets",
            "q_proj,v_proj",
            "--batch-size",
            "4",
            "--max-seq-len",
            "512",
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    # 24 blocks × (q: 8·(896+896) + v: 8·(896+128)) — the count peft reports for this configuration.
    assert data["params_trainable"] == 24 * (8 * (896 + 896) + 8 * (896 + 128))
    assert data["license"] == "apache-2.0"
    assert data["memory"]["batch_size"] == 4 and data["memory"]["seq_len"] == 512
    assert data["memory"]["terms"][0]["note"].startswith("4-bit nf4")


def test_estimate_text_and_unknown_model_error(capsys):
    assert main(["estimate", "meta-llama/Llama-3.2-1B-Instruct", "--method", "full"]) == 0
    out = capsys.readouterr().out
    assert "llama3.2" in out and "fits on:" in out and "optimizer" in out
    assert main(["estimate", "nobody/nothing"]) == 2
    assert "built-in table" in capsys.readouterr().err


def test_cost_command_reproduces_the_worked_example(capsys):
    assert main(["cost", "--training-cost", "1000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["break_even_requests"] == 105_264


def test_a_hub_id_in_the_local_cache_is_estimated_from_its_config(tmp_path, tiny_folders):
    """The cache layout huggingface_hub writes: models--owner--name/{refs/main, snapshots/<commit>/config.json}."""
    import os
    import subprocess
    import sys

    commit = "0" * 40
    repo = tmp_path / "hub" / "models--someone--tiny-qwen"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text((tiny_folders["qwen2"] / "config.json").read_text())
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-m", "ft_jupyter.cli", "estimate", "someone/tiny-qwen", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    data = json.loads(out.stdout)
    assert data["source"] == "Hugging Face cache: someone/tiny-qwen"
    assert data["architecture"]["model_type"] == "qwen2" and data["architecture"]["hidden_size"] == 64


def test_lora_on_an_8bit_base_is_estimated_from_the_command_line(capsys):
    assert main(["estimate", "Qwen/Qwen2.5-0.5B-Instruct", "--method", "lora-8bit", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["memory"]["terms"][0]["note"].startswith("LLM.int8 weights")
