"""Failures leave the run folder saying what happened, with advice where there is some."""

import pytest

pytestmark = pytest.mark.integration


def test_a_bad_config_marks_the_run_failed_with_the_message(tiny, tmp_path):
    from ft_jupyter.config import ConfigError
    from ft_jupyter.train import RunStore, run_training

    bad = tiny(**{"data.dataset": str(tmp_path / "missing.jsonl"), "runs_dir": str(tmp_path / "runs")})
    with pytest.raises(ConfigError):
        run_training(bad)
    (run,) = RunStore(bad.runs_dir).list_runs()
    status = run.status()
    assert status["state"] == "failed" and "missing.jsonl" in status["message"]
    events = run.read_events(0)[0]
    assert events[-1]["type"] == "failed" and "missing.jsonl" in events[-1]["error"]


def test_out_of_memory_errors_come_with_concrete_advice(tiny):
    from ft_jupyter.train.run import _is_out_of_memory, _oom_advice

    assert _is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert _is_out_of_memory(
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate "
            "memory: you tried to allocate 123 bytes"
        )
    )
    assert not _is_out_of_memory(ValueError("shapes do not match"))
    advice = _oom_advice(tiny(**{"training.batch_size": 8, "training.grad_accum": 2}))
    assert "batch_size 4 with grad_accum 4" in advice and "gradient_checkpointing" in advice and "qlora" in advice
