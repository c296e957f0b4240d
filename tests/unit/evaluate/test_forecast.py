"""Time and cost forecasts: tokens from the data as the trainer draws them, nominal speed per GPU class, price."""

import json

import pytest

from ft_jupyter.cli import main
from ft_jupyter.config import ConfigError, DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig
from ft_jupyter.evaluate import forecast as forecast_module
from ft_jupyter.evaluate.forecast import (
    SCALING_EFFICIENCY,
    forecast_run,
    forecast_vs_actual,
    padding_factor,
    plan_tokens,
)
from ft_jupyter.evaluate.throughput import GPU_CLASSES, MFU, fitting_gpu, gpu_class
from ft_jupyter.models.data_tokens import DataTokens, data_tokens

SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct"  # llama: hidden 576, 30 blocks, 9 heads × 64, kv 3 × 64, tied head


def _config(**training):
    base = dict(batch_size=8, max_seq_len=128, epochs=2.0)
    base.update(training)
    return RunConfig(
        model=ModelConfig(name=SMOL),
        method=MethodConfig(method="lora", r=8, alpha=16, target_preset="attention-qv"),
        training=TrainingConfig(**base),
    )


# 64 training rows of 100 tokens, 8 validation rows of 100: no padding, so the arithmetic is exact by hand.
EVEN = DataTokens(train=(100,) * 64, answer_starts=(0,) * 64, validation=(100,) * 8, exact=True)


@pytest.fixture()
def even_data(monkeypatch):
    monkeypatch.setattr(forecast_module, "data_tokens", lambda config: EVEN)


def test_nominal_forecast_by_hand(even_data):
    f = forecast_run(_config(), gpu="T4")
    # Tokens: 2 epochs × 64 rows × 100 = 12,800 in 16 steps of 8 rows; one evaluation of 800 tokens at the end.
    assert (f.plan.steps, f.plan.rows, f.plan.tokens, f.plan.padded_tokens) == (16, 128, 12_800, 12_800)
    assert (f.plan.evaluations, f.plan.eval_tokens) == (1, 800)
    # Linear weights per block: q, o 576² + k, v 576·192 + gate, up, down 576·1536; head 49,152 × 576.
    linear = 30 * (2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536) + 49152 * 576
    adapters = 30 * 8 * ((576 + 576) + (576 + 192))  # LoRA on q and v, r = 8
    assert (linear, adapters) == (134_479_872, 460_800)
    forward = 2 * (linear + adapters) + 2 * 30 * 100 * 576  # + causal attention over 100-token rows
    train = 2 * forward + 2 * adapters  # LoRA: forward + input gradients + adapter grads
    rate = 65e12 * MFU  # T4 fp16 peak × 35 %
    assert f.train_s == pytest.approx(12_800 * train / rate, rel=1e-12)
    assert f.eval_s == pytest.approx(800 * forward / rate, rel=1e-12)
    assert f.wall_s == pytest.approx(f.train_s + f.eval_s, rel=1e-12)
    assert f.gpu_hours == pytest.approx(f.wall_s / 3600, rel=1e-12)
    assert f.tokens_per_second == pytest.approx(rate / train, rel=1e-12)
    # No price in the config: the class's typical price, said to be typical.
    assert f.price_per_hour == 0.35 and "typical" in f.price_source
    assert f.cost == pytest.approx(f.gpu_hours * 0.35, rel=1e-12)


def test_full_fine_tuning_counts_three_passes_and_checkpointing_one_more(even_data):
    lora = forecast_run(_config(), gpu="A100-80GB")
    full = forecast_run(_config().with_overrides({"method.method": "full"}), gpu="A100-80GB")
    checkpointed = forecast_run(_config(gradient_checkpointing=True), gpu="A100-80GB")
    forward = lora.eval_s / 800  # seconds per forward token: the evaluation is forward only
    assert full.train_s / 12_800 == pytest.approx(
        3 * forward * 134_479_872 / (134_479_872 + 460_800 + 30 * 100 * 576), rel=0.02
    )
    assert checkpointed.train_s - lora.train_s == pytest.approx(12_800 * forward, rel=1e-9)


def test_qlora_is_assumed_slower_than_lora(even_data):
    lora = forecast_run(_config(), gpu="L4")
    qlora = forecast_run(_config().with_overrides({"method.method": "qlora", "quantization.mode": "4bit"}), gpu="L4")
    assert qlora.train_s == pytest.approx(lora.train_s / 0.65, rel=1e-12)


def test_small_models_are_said_to_run_below_the_assumed_utilisation(even_data):
    assert any("135 M-parameter model" in line for line in forecast_run(_config(), gpu="T4").throughput.lines)
    big = _config().with_overrides({"model.name": "Qwen/Qwen2.5-7B-Instruct"})
    assert not any("M-parameter" in line for line in forecast_run(big, gpu="T4").throughput.lines)


def test_cost_is_hours_times_the_configured_price(even_data):
    f = forecast_run(_config(price_per_hour=1.25), gpu="H100")
    assert f.price_per_hour == 1.25 and f.price_source == "training.price_per_hour"
    assert f.cost == pytest.approx(f.gpu_hours * 1.25, rel=1e-12)
    text = f.to_text()
    assert "× $1.25/h" in text and "tokens/s per device" in text and "989 TFLOPS" in text


def test_several_gpus_share_the_epochs_and_scale_with_stated_efficiency(even_data):
    one = forecast_run(_config(), gpu="A100-80GB")
    four = forecast_run(_config(), gpu="A100-80GB", gpus=4)
    # 2 epochs on 4 processes: each takes 16 of the 64 rows per epoch, 2 steps of 8, so 4 steps and the same tokens.
    assert (four.plan.steps, four.plan.rows, four.plan.tokens) == (4, 128, 12_800)
    assert four.train_s == pytest.approx(one.train_s, rel=1e-12)
    assert four.wall_s == pytest.approx((four.train_s + four.eval_s) / (4 * SCALING_EFFICIENCY), rel=1e-12)
    assert four.gpu_hours == pytest.approx(four.wall_s * 4 / 3600, rel=1e-12)
    assert "4 × A100-80GB" in four.headline() and not any("max_steps" in n for n in four.notes)


def test_max_steps_on_several_gpus_draws_more_rows_per_step_and_says_so(even_data):
    four = forecast_run(_config(max_steps=16), gpu="A100-80GB", gpus=4)
    assert (four.plan.steps, four.plan.rows, four.plan.tokens) == (16, 512, 51_200)
    assert any("4 GPUs draw 4× the rows per step" in n for n in four.notes)


@pytest.mark.parametrize(("rows", "processes", "steps"), [(64, 1, 16), (64, 4, 4), (65, 4, 6), (3, 4, 2)])
def test_an_epoch_is_split_across_processes_like_the_distributed_sampler(rows, processes, steps):
    from ft_jupyter.train.translate import total_steps

    # 2 epochs at 8 rows per process per step; each process gets ceil(rows / processes) rows an epoch.
    assert total_steps(_config(), rows, processes) == steps


def test_rows_without_an_answer_inside_max_seq_len_are_dropped_as_the_trainer_does():
    data = DataTokens(train=(10, 20, 30, 40, 200), answer_starts=(0, 0, 0, 0, 150), validation=(), exact=True)
    config = _config(batch_size=2, max_seq_len=100)
    plan = plan_tokens(config, data)
    # The kit counts steps over all 5 rows (ceil(5/2) × 2 epochs = 6), the trainer then draws from the 4 kept:
    # 2 steps an epoch, so 3 whole epochs of 10+20+30+40 tokens.
    assert (plan.steps, plan.rows, plan.tokens, plan.evaluations) == (6, 12, 300, 0)
    assert "1 with no answer left" in plan.text
    partial = plan_tokens(config.with_overrides({"training.max_steps": 3}), data)
    assert (partial.rows, partial.tokens) == (6, 100 + 2 * 25)  # one epoch + 2 rows at the mean of 25
    assert plan_tokens(_config(max_seq_len=40, batch_size=2), data).tokens == 3 * (10 + 20 + 30 + 40)
    with pytest.raises(ConfigError, match="max_seq_len = 8"):
        plan_tokens(_config(max_seq_len=8), DataTokens((50,), (20,), (), True))


def test_padding_factor():
    assert padding_factor([7] * 40, 8, False, seed=1) == 1.0
    assert padding_factor([1, 3], 2, False, seed=1) == 1.5  # one batch of 2 padded to 3 tokens each
    mixed = [10] * 50 + [200] * 50
    assert padding_factor(mixed, 4, True, seed=1) < padding_factor(mixed, 4, False, seed=1)


def test_tokens_come_from_the_data_with_the_models_template():
    from ft_jupyter.data.lengths import length_stats
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.models.loading import local_tokenizer

    config = RunConfig(
        model=ModelConfig(name="tiny-random"),
        data=DataConfig(dataset="support-emails", max_rows=60),
        training=TrainingConfig(max_seq_len=96, assistant_only_loss=False),
    )
    data = data_tokens(config)
    prepared = prepare(config.data, seed=config.training.seed)
    assert data.exact and len(data.train) == len(prepared.train) and len(data.validation) == len(prepared.validation)
    stats = length_stats(local_tokenizer(config.model), {"train": prepared.train}, None, progress=False)
    assert list(data.train) == stats.lengths("train") and set(data.answer_starts) == {0}
    plan = plan_tokens(config, data)
    assert plan.tokens == sum(min(n, 96) for n in data.train)  # one epoch: every row once, cut at max_seq_len


def test_gpu_names_as_people_write_them():
    assert gpu_class("A100-80GB") is gpu_class("a100 80 GB") is gpu_class("A100 80GB") is gpu_class("a10080")
    assert gpu_class("h100").peak_tflops == 989 and gpu_class("T4 16 GB").name == "T4"
    with pytest.raises(ConfigError, match="T4, L4, A10G, A100-40GB, A100-80GB, H100"):
        gpu_class("V100")
    assert all(g.source and g.price_per_hour > 0 for g in GPU_CLASSES)
    fit = [
        {"name": "T4 16 GB", "fits": False},
        {"name": "L4 24 GB", "fits": True},
        {"name": "H100 80 GB", "fits": True},
    ]
    assert fitting_gpu(fit) == "L4"
    assert fitting_gpu([{"name": "T4 16 GB", "fits": False}]) == "H100"


def test_bad_requests_are_config_errors(even_data):
    with pytest.raises(ConfigError, match="gpus = 0"):
        forecast_run(_config(), gpus=0)
    with pytest.raises(ConfigError, match="probe"):
        forecast_run(_config(), gpu="T4", probe=True)
    from ft_jupyter.evaluate.throughput import measure_throughput

    with pytest.raises(ConfigError, match="at least 2"):
        measure_throughput(_config(), steps=1)


def _finished_run(tmp_path, config, train_runtime_s, tokens_seen):
    from ft_jupyter.train.store import RunStore

    run = RunStore(tmp_path / "runs").create(config)
    run.append_event({"type": "run_started", "time": 0.0, "device": "cpu", "num_devices": 1})
    run.append_event(
        {"type": "step", "time": 1.0, "step": 16, "elapsed_s": train_runtime_s - 1, "tokens_seen": tokens_seen}
    )
    run.append_event(
        {
            "type": "finished",
            "time": 2.0,
            "step": 16,
            "elapsed_s": train_runtime_s + 3,
            "device_hours": (train_runtime_s + 3) / 3600,
            "tokens_seen": tokens_seen,
            "train_runtime_s": train_runtime_s,
        }
    )
    return run


def test_forecast_vs_actual_reads_the_run(tmp_path, even_data):
    config = _config()
    before = forecast_run(config, gpu="T4")
    run = _finished_run(tmp_path, config, train_runtime_s=2 * before.wall_s, tokens_seen=12_800)
    check = forecast_vs_actual(run.path, forecast=before)
    assert check.time_ratio == pytest.approx(2.0) and check.token_ratio == 1.0 and check.steps == 16
    assert "× 2.00" in check.to_text()
    by_id = forecast_vs_actual(run.run_id, runs_dir=tmp_path / "runs", gpu="T4")
    assert by_id.forecast.wall_s == pytest.approx(before.wall_s)
    with pytest.raises(ConfigError, match="trained on cpu"):
        forecast_vs_actual(run.path)


def test_the_forecast_command(tmp_path, capsys):
    config = RunConfig(
        model=ModelConfig(name="tiny-random"),
        data=DataConfig(dataset="support-emails", max_rows=60),
        training=TrainingConfig(max_steps=10, batch_size=4, max_seq_len=512, price_per_hour=0.5),
    )
    path = config.save(tmp_path / "run.yaml")
    assert main(["forecast", str(path), "--gpu", "L4", "--gpus", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # 45 training rows, 23 per process an epoch (6 steps of 4): 10 steps = one epoch + 4 steps × 4 rows, × 2 GPUs.
    assert (data["gpu"], data["gpus"], data["steps"], data["rows"], data["source"]) == ("L4", 2, 10, 78, "nominal")
    assert data["cost"] == pytest.approx(data["gpu_hours"] * 0.5)
    assert main(["forecast", str(path), "--gpu", "L4"]) == 0
    assert "Forecast for tiny-random (lora)" in capsys.readouterr().out
    assert main(["forecast", str(path), "--gpu", "V100"]) == 2
    assert "not in the table" in capsys.readouterr().err
    assert main(["forecast"]) == 2
    assert "Give the run config" in capsys.readouterr().err
