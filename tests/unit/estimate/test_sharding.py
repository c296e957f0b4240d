"""Per-GPU memory under DDP, ZeRO-1/2/3 and FSDP full shard, held against cases worked out by hand.

Conventions (models.memory): a full fine-tune in bf16 holds weights 2 B, gradients 2 B and AdamW moments 2 × 2 B
per parameter (pure bf16, as the Trainer runs a bf16-loaded model). DeepSpeed and accelerate's FSDP add an fp32
master copy (4 B) of each 16-bit trainable weight and keep the moments in fp32 (2 × 4 B), split N ways.
"""

import json
import math

import pytest

from ft_jupyter.cli import main
from ft_jupyter.config import ConfigError, MethodConfig, ModelConfig, QuantizationConfig, RunConfig, TrainingConfig
from ft_jupyter.models.architecture import architecture
from ft_jupyter.models.estimate import estimate_run
from ft_jupyter.models.memory import memory_breakdown
from ft_jupyter.models.params import count_parameters

QWEN7B = "Qwen/Qwen2.5-7B-Instruct"
P = 7_615_616_512  # Qwen2.5-7B parameters (model card)
H, KV, INTER, VOCAB, LAYERS = 3584, 512, 18944, 152064, 28
# One decoder block: q, o (h×h) + k, v (h×kv) with q/k/v biases, a gated MLP (3·h·i) and two norms.
BLOCK = 2 * H * H + 2 * H * KV + (H + 2 * KV) + 3 * H * INTER + 2 * H
ROOT = 2 * VOCAB * H + H  # untied embedding and head + final norm
UNCHANGED = ("activations", "loss head", "runtime")


def _full(gpus, strategy, offload=False):
    config = RunConfig(
        model=ModelConfig(name=QWEN7B),
        method=MethodConfig(method="full"),
        training=TrainingConfig(batch_size=1, max_seq_len=512, learning_rate=2e-5),
    )
    return estimate_run(config, measure_data=False, gpus=gpus, strategy=strategy, offload=offload)


def _bytes(estimate):
    return {t.name: t.bytes for t in estimate.memory.terms}


def test_the_hand_worked_model_shape():
    arch = architecture(QWEN7B)
    assert arch.params_total == P == ROOT + LAYERS * BLOCK
    assert BLOCK == 233_057_792


@pytest.fixture(scope="module")
def single():
    return _bytes(_full(1, "ddp"))


def test_a_7b_full_fine_tune_on_8_gpus_term_by_term(single):
    assert [single[k] for k in ("weights", "gradients", "optimizer")] == [2 * P, 2 * P, 4 * P]
    bucket = 500_000_000 * 2  # DeepSpeed's default reduce_bucket_size in bf16, allocated whole
    expected = {
        # DDP: everything replicated + buckets holding a second copy of every gradient.
        "ddp": {"weights": 2 * P, "gradients": 2 * P, "optimizer": 4 * P, "grad buckets": 2 * P},
        # ZeRO-1: fp32 master 4P and fp32 moments 8P split 8 ways.
        "zero1": {
            "weights": 2 * P,
            "gradients": 2 * P,
            "master copy": 4 * P // 8,
            "optimizer": 8 * P // 8,
            "comm buffers": bucket,
        },
        "zero2": {
            "weights": 2 * P,
            "gradients": 2 * P // 8,
            "master copy": 4 * P // 8,
            "optimizer": 8 * P // 8,
            "comm buffers": bucket,
        },
        # ZeRO-3: weights split too, but up to max_live_parameters (1e9 of the 7.6e9) stay gathered, in bf16.
        "zero3": {
            "weights": 2 * P // 8,
            "gradients": 2 * P // 8,
            "master copy": 4 * P // 8,
            "optimizer": 8 * P // 8,
            "gathered": 2 * 1_000_000_000,
            "comm buffers": bucket,
        },
        # FSDP: the root unit (embedding, head, final norm) stays gathered, plus the current and next block.
        "fsdp": {
            "weights": 2 * P // 8,
            "gradients": 2 * P // 8,
            "master copy": 4 * P // 8,
            "optimizer": 8 * P // 8,
            "gathered": 2 * ROOT + 2 * 2 * BLOCK,
        },
    }
    for strategy, want in expected.items():
        got = _bytes(_full(8, strategy))
        assert {k: got[k] for k in want} == want, strategy
        assert set(got) == set(want) | set(UNCHANGED), strategy
        # Activations are per GPU (batch_size is per device): sharding never shrinks them.
        assert all(got[k] == single[k] for k in UNCHANGED), strategy
    assert 2 * P // 8 == 1_903_904_128  # the "14 GB each vs /8" of weights, exactly


def test_totals_fall_with_each_stage_and_formulas_show_the_split(single):
    totals = {s: _full(8, s).memory.total_bytes for s in ("ddp", "zero1", "zero2", "zero3")}
    assert totals["ddp"] == sum(single.values()) + 2 * P
    assert totals["ddp"] > totals["zero1"] > totals["zero2"] > totals["zero3"]
    zero1 = _full(8, "zero1")
    formula = zero1.memory.term("optimizer").formula
    assert formula.startswith("56.74 GiB / 8 GPUs (ZeRO-1 splits optimizer state)") and "AdamW" in formula
    text = zero1.to_text()
    assert "per GPU on 8 × cuda, ZeRO-1" in text and "one GPU alone" in text
    assert zero1.to_json()["sharding"]["per_gpu_total_bytes"] == zero1.memory.total_bytes


def test_communication_per_step_ddp_and_full_shard():
    grads = 2 * P
    assert _full(8, "ddp").sharding.communication.bytes_per_step == round(2 * 7 / 8 * grads)
    zero3 = _full(8, "zero3").sharding.communication
    # all-gather the weights in forward and in backward + reduce-scatter the gradients: 1.5× DDP.
    assert zero3.bytes_per_step == round(7 / 8 * (2 * 2 * P + grads))
    assert "1.5× DDP's volume" in zero3.sentence
    assert _full(8, "fsdp").sharding.communication.bytes_per_step == zero3.bytes_per_step


def test_zero3_keeps_a_model_under_a_billion_parameters_whole():
    config = RunConfig(
        model=ModelConfig(name="Qwen/Qwen2.5-0.5B-Instruct"),
        method=MethodConfig(method="full"),
        training=TrainingConfig(batch_size=1, max_seq_len=256, learning_rate=2e-5),
    )
    zero3 = estimate_run(config, measure_data=False, gpus=4, strategy="zero3")
    whole = estimate_run(config, measure_data=False).memory.term("weights").bytes
    assert zero3.memory.term("gathered").bytes == whole == 2 * 494_032_768
    assert "max_live_parameters" in zero3.memory.term("gathered").note


def _lora(gpus, strategy, **sections):
    config = RunConfig(
        model=ModelConfig(name=QWEN7B),
        method=MethodConfig(method="lora", r=16, alpha=32, target_preset="attention-qv"),
        training=TrainingConfig(batch_size=2, max_seq_len=512),
        **sections,
    )
    return _bytes(estimate_run(config, measure_data=False, gpus=gpus, strategy=strategy))


def test_lora_splits_its_small_trainable_part_and_the_frozen_base_only_under_zero3():
    adapters = LAYERS * 16 * ((H + H) + (H + KV))  # q: r(in+out), v: r(in+out) per block
    assert adapters == 5_046_272
    one = _lora(1, "ddp")
    assert [one[k] for k in ("weights", "adapters", "gradients", "optimizer")] == [
        2 * P,
        4 * adapters,
        4 * adapters,
        8 * adapters,
    ]
    ddp = _lora(4, "ddp")
    assert ddp["grad buckets"] == 4 * adapters and ddp["weights"] == 2 * P
    zero2 = _lora(4, "zero2")
    # Adapters are fp32 already: no master copy; the frozen base stays whole under ZeRO-1/2.
    assert "master copy" not in zero2
    assert (zero2["weights"], zero2["gradients"], zero2["optimizer"]) == (2 * P, adapters, 2 * adapters)
    zero3 = _lora(4, "zero3")
    assert (zero3["weights"], zero3["adapters"], zero3["gradients"], zero3["optimizer"]) == (
        P // 2,
        adapters,
        adapters,
        2 * adapters,
    )


def test_a_4bit_base_splits_its_packed_storage_under_zero3_and_fsdp_only():
    quant = dict(
        method=MethodConfig(method="qlora", r=16, alpha=32, target_preset="attention-qv"),
        quantization=QuantizationConfig(mode="4bit"),
    )
    config = RunConfig(model=ModelConfig(name=QWEN7B), training=TrainingConfig(batch_size=2, max_seq_len=512), **quant)
    packed = estimate_run(config, measure_data=False).memory.term("weights").bytes
    zero1 = estimate_run(config, measure_data=False, gpus=4, strategy="zero1")
    assert zero1.memory.term("weights").bytes == packed
    for strategy in ("zero3", "fsdp"):
        split = estimate_run(config, measure_data=False, gpus=4, strategy=strategy)
        assert split.memory.term("weights").bytes == math.ceil(packed / 4)
        assert any("bnb_4bit_quant_storage" in note for note in split.sharding.notes)


def test_8bit_weights_stay_whole_and_say_so():
    config = RunConfig(
        model=ModelConfig(name=QWEN7B),
        quantization=QuantizationConfig(mode="8bit"),
        training=TrainingConfig(batch_size=2, max_seq_len=512),
    )
    whole = estimate_run(config, measure_data=False).memory.term("weights").bytes
    split = estimate_run(config, measure_data=False, gpus=4, strategy="zero3")
    assert split.memory.term("weights").bytes == whole
    assert any("cannot be split" in note for note in split.sharding.notes)


def test_one_gpu_is_todays_breakdown_exactly():
    config = RunConfig(model=ModelConfig(name=QWEN7B), training=TrainingConfig(batch_size=2, max_seq_len=512))
    arch = architecture(QWEN7B)
    today = memory_breakdown(arch, count_parameters(arch, config.method), config)
    for estimate in (
        estimate_run(config, measure_data=False),
        estimate_run(config, measure_data=False, gpus=1, strategy="ddp"),
    ):
        assert estimate.memory == today and estimate.sharding is None
        assert estimate.to_json()["sharding"] is None and "GPUs" not in estimate.to_text()


def test_offload_moves_optimizer_state_to_cpu_ram():
    zero2 = _full(4, "zero2", offload=True)
    mem = _bytes(zero2)
    assert mem["optimizer"] == mem["master copy"] == 0
    cpu = {t.name: t.bytes for t in zero2.sharding.cpu_terms}
    assert cpu == {"master copy": 4 * P // 4, "optimizer": 8 * P // 4}
    assert zero2.sharding.cpu_bytes == 3 * P and zero2.to_json()["sharding"]["cpu_bytes_all_processes"] == 12 * P
    assert "CPU RAM for offloaded state" in zero2.to_text()
    zero3 = {t.name for t in _full(4, "zero3", offload=True).sharding.cpu_terms}
    assert zero3 == {"weights", "master copy", "optimizer"}
    fsdp = {t.name for t in _full(4, "fsdp", offload=True).sharding.cpu_terms}
    assert fsdp == {"weights", "gradients", "master copy", "optimizer"}
    assert _full(4, "zero2").sharding.cpu_terms == ()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"gpus": 4, "strategy": "zero4"}, ["zero4", "ddp, zero1, zero2, zero3, fsdp"]),
        ({"gpus": 0, "strategy": "ddp"}, ["gpus = 0", "≥ 1"]),
        ({"gpus": 2.5, "strategy": "ddp"}, ["gpus = 2.5", "whole number"]),
        ({"gpus": 4, "strategy": "ddp", "offload": True}, ["offload", "zero1, zero2, zero3 or fsdp"]),
    ],
)
def test_bad_split_settings_are_config_errors_that_say_what_to_do(kwargs, words):
    config = RunConfig(model=ModelConfig(name=QWEN7B))
    with pytest.raises(ConfigError) as caught:
        estimate_run(config, measure_data=False, **kwargs)
    assert isinstance(caught.value, ValueError)
    assert all(w in str(caught.value) for w in words), str(caught.value)


def test_the_cli_prints_per_gpu_totals(capsys):
    args = ["estimate", QWEN7B, "--method", "full", "--batch-size", "1", "--max-seq-len", "512"]
    assert main(args + ["--gpus", "4", "--strategy", "zero3"]) == 0
    out = capsys.readouterr().out
    expected = _full(4, "zero3").memory.total_bytes / 2**30
    assert "memory per GPU on 4 × cuda, ZeRO-3" in out
    assert f"total        {expected:8.3f} GiB   (one GPU alone" in out
    assert main(args + ["--gpus", "4", "--strategy", "fsdp", "--offload", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sharding"]["strategy"] == "fsdp" and data["sharding"]["offload"] is True
    assert data["memory"]["total_bytes"] == data["sharding"]["per_gpu_total_bytes"]
    assert main(args + ["--offload"]) == 2
    assert "needs a sharded strategy" in capsys.readouterr().err
