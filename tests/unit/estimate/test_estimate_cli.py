import json

from ft_jupyter.cli import main


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
