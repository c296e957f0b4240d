"""What a launch is started with, without starting one: the accelerate and DeepSpeed configs, the refusals, the
thread count per CPU process and the world-size check that catches a launcher starting the wrong number."""

import pytest

from ft_jupyter.config import ConfigError


def test_cpu_ddp_is_multi_gpu_with_use_cpu_because_multi_cpu_starts_one_process():
    from ft_jupyter.train.launch_configs import accelerate_config

    settings = accelerate_config("ddp", 2, cuda=False, precision="fp32")
    assert settings["distributed_type"] == "MULTI_GPU" and settings["use_cpu"] is True
    assert settings["num_processes"] == 2 and settings["mixed_precision"] == "no"
    assert accelerate_config("ddp", 4, cuda=True, precision="bf16")["mixed_precision"] == "bf16"


@pytest.mark.parametrize("strategy, stage", [("zero1", 1), ("zero2", 2), ("zero3", 3)])
def test_zero_configs_leave_the_run_s_own_values_to_the_trainer(strategy, stage):
    from ft_jupyter.train.launch_configs import accelerate_config, deepspeed_config

    ds = deepspeed_config(strategy, offload=True)
    assert ds["zero_optimization"]["stage"] == stage
    assert ds["train_micro_batch_size_per_gpu"] == ds["gradient_accumulation_steps"] == "auto"
    assert ds["zero_optimization"]["offload_optimizer"]["device"] == "cpu"
    assert ("offload_param" in ds["zero_optimization"]) == (stage == 3)
    assert ds["zero_optimization"].get("stage3_gather_16bit_weights_on_model_save", False) == (stage == 3)
    settings = accelerate_config(strategy, 2, cuda=False, precision="fp32", deepspeed_file="ds.json")
    # accelerate refuses a precision in its own config next to a DeepSpeed JSON.
    assert settings["distributed_type"] == "DEEPSPEED" and "mixed_precision" not in settings
    assert settings["deepspeed_config"] == {"deepspeed_config_file": "ds.json", "zero3_init_flag": stage == 3}


@pytest.mark.parametrize(
    "strategy, processes, offload, cuda, message",
    [
        ("fsdp", 2, False, False, "FSDP needs CUDA GPUs"),
        ("ddp", 2, True, False, "offload moves ZeRO's optimizer states"),
        ("zero4", 2, False, True, "not one of ddp, zero1, zero2, zero3, fsdp"),
        ("ddp", 0, False, False, "processes must be a whole number"),
    ],
)
def test_impossible_launches_are_refused(strategy, processes, offload, cuda, message):
    from ft_jupyter.train.launch_configs import check_launch

    with pytest.raises(ConfigError, match=message):
        check_launch(strategy, processes, offload, cuda=cuda)


@pytest.mark.parametrize(
    "processes, asked, cores, threads",
    [(2, "", 2, 1), (2, "2", 2, 1), (2, "1", 16, 1), (4, "", 16, 4), (3, "abc", 2, 1), (1, "", 8, 8)],
)
def test_cpu_processes_never_run_more_threads_than_cores(processes, asked, cores, threads):
    from ft_jupyter.train.launch import cpu_threads

    assert cpu_threads(processes, asked, cores) == threads


def test_a_process_that_sees_the_wrong_world_size_stops_with_the_reason(monkeypatch):
    from ft_jupyter.train.worker import EXPECTED_ENV, check_world_size

    monkeypatch.setenv(EXPECTED_ENV, "2")
    monkeypatch.setenv("WORLD_SIZE", "1")
    with pytest.raises(ConfigError, match="sees WORLD_SIZE=1.*MULTI_CPU"):
        check_world_size()
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert check_world_size() == 2


def test_root_cause_names_the_rank_torch_saw_fail_first():
    from ft_jupyter.train.launch import root_cause

    log = (
        "Failures:\n[1]:\n  rank      : 0 (local_rank: 0)\n  exitcode  : -15 (pid: 5)\n"
        "Root Cause (first observed failure):\n[0]:\n  time      : now\n  rank      : 1 (local_rank: 1)\n"
        "  exitcode  : -9 (pid: 6)  (SIGKILL)\n  error_file: <N/A>\n"
    )
    assert root_cause(log) == (1, "SIGKILL")
    assert root_cause(log.replace("  (SIGKILL)", "")) == (1, "exit code -9")
    assert root_cause("all good") is None
