"""On a CUDA GPU: precision "auto" picks bf16 (or fp16 with loss scaling) and QLoRA trains on the GPU kernels.
Skipped without CUDA (CI and the CPU dev machines)."""

import pytest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_qlora_trains_on_the_gpu_in_the_precision_the_hardware_supports(tiny, events_of):
    from ft_jupyter.train import run_training

    config = tiny(**{"method.method": "qlora", "quantization.mode": "4bit", "training.max_steps": 6})
    result = run_training(config)
    started, steps = events_of(result.run_dir)[0], [e for e in events_of(result.run_dir) if e["type"] == "step"]
    expected = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    assert started["device"] == "cuda" and started["precision"] == expected
    assert result.state == "finished" and all(s["memory_mb"] > 0 for s in steps)
    assert steps[-1]["loss"] < steps[0]["loss"]
