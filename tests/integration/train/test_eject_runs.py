"""The ejected script trains for real: alone, as the kit would (same losses), and as two DDP processes on CPU."""

import json
import os
import subprocess
import sys

import pytest

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig
from ft_jupyter.train.launch import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return RunConfig(
        name="ejected",
        runs_dir=str(tmp_path_factory.mktemp("runs")),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=120),
        training=TrainingConfig(max_steps=10, batch_size=8, learning_rate=5e-3, max_seq_len=96, seed=7),
    )


@pytest.fixture(scope="module")
def folder(config, tmp_path_factory):
    from ft_jupyter.train.eject import eject

    return eject(config, tmp_path_factory.mktemp("eject") / "project").folder


def run(command: list[str], cwd) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output[-4000:]}"
    return output


def logged_losses(output_dir) -> list[float]:
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    return [entry["loss"] for entry in history if "loss" in entry]


def assert_trained(output_dir) -> list[float]:
    from safetensors.torch import load_file

    weights = load_file(output_dir / "adapter" / "adapter_model.safetensors")
    lora_b = [t for name, t in weights.items() if "lora_B" in name]
    assert lora_b and any(t.abs().max() > 0 for t in lora_b), "LoRA B starts at zero: the adapter never moved"
    losses = logged_losses(output_dir)
    assert len(losses) == 10 and losses[-1] < losses[0] - 1.0, losses
    return losses


def test_the_script_trains_alone_exactly_as_the_kit_does(config, folder):
    from ft_jupyter.train import run_training

    output = run([sys.executable, "train.py"], folder)
    assert "rank 0 of world size 1" in output
    script_losses = assert_trained(folder / "output")
    kit = run_training(config)
    assert [loss for _, loss in kit.losses] == pytest.approx(script_losses, rel=1e-3)


def test_the_script_trains_on_two_cpu_processes_with_the_ejected_ddp_config(folder):
    (folder / "output").rename(folder / "output-one-process")
    # A port of its own: other multi-process tests may hold accelerate's default one.
    output = run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            "accelerate_ddp.yaml",
            "--num_processes",
            "2",
            "--main_process_port",
            str(free_port()),
            "train.py",
        ],
        folder,
    )
    assert "rank 0 of world size 2" in output and "rank 1 of world size 2" in output
    assert_trained(folder / "output")
