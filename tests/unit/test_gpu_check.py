"""The one-command GPU check on a machine without CUDA: its arguments, its configs and its record, and that it
skips cleanly (CI has no GPU; the check itself runs on a CUDA machine)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def _gpu_check():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_cuda_it_says_so_and_records_nothing(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the check would really run")
    before = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "no CUDA GPU here" in done.stdout
    assert (ROOT / "benchmarks" / "RESULTS.md").read_text() == before


@pytest.mark.parametrize(
    "argv, message",
    [(["--checks", "lora-bf16,tpu"], "unknown check 'tpu'"), (["--steps", "1"], "--steps must be at least 2")],
)
def test_impossible_arguments_are_refused(argv, message):
    done = subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr


def test_each_check_trains_what_it_names(tmp_path):
    check = _gpu_check()
    configs = {
        name: check.check_config(name, "tiny-random", 5, str(tmp_path)) for name in check.CHECKS if name != "export"
    }
    assert configs["qlora-bf16"].method.method == "qlora" and configs["qlora-bf16"].quantization.mode == "4bit"
    assert configs["full-bf16"].method.method == "full" and configs["full-bf16"].quantization.mode == "none"
    assert configs["lora-fp16"].training.precision == "fp16"
    assert all(c.training.max_steps == 5 for c in configs.values())


def test_the_record_is_a_table_row_per_check(tmp_path, monkeypatch):
    check = _gpu_check()
    monkeypatch.setattr(check, "RESULTS", tmp_path / "RESULTS.md")
    row = {
        "check": "lora-bf16",
        "precision": "bf16",
        "precision_ok": True,
        "first_loss": 3.2,
        "last_loss": 1.1,
        "loss_fell": True,
        "peak_gib": 1.5,
        "estimate_gib": 1.7,
        "tokens_per_s": 9000.0,
    }
    export = {"check": "export", "merge_ok": False, "effect_retained": 0.7, "greedy_equal": 6, "gguf_top1": 0.99}
    check.record([row, export], "NVIDIA H200", 30)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "## GPU check" in text and "NVIDIA H200" in text
    assert "| lora-bf16 | bf16 | 3.200 → 1.100 | 1.50 | 1.70 | 9000 |  | yes |" in text
    assert "effect kept 70.0 %" in text and text.rstrip().endswith("| NO |")
    assert not check.passed(export) and check.passed(row)
