import json
import math

import pytest

from ft_jupyter.config import MethodConfig, ModelConfig, QuantizationConfig, RunConfig, TrainingConfig
from ft_jupyter.models.architecture import architecture
from ft_jupyter.models.estimate import GPUS, estimate_run, gpu_fit
from ft_jupyter.models.memory import GIB, layer_elements, memory_breakdown
from ft_jupyter.models.params import count_parameters

SEQ = 12


def _saved_bytes_in_block(model, batch: int, block: str = "layers.1.") -> int:
    """Bytes autograd saves inside one decoder block during a forward pass, each storage counted once."""
    import torch

    stack, seen = [], {}
    hooks = []
    for name, module in model.named_modules():
        hooks.append(module.register_forward_pre_hook(lambda m, a, n=name: stack.append(n)))
        hooks.append(module.register_forward_hook(lambda m, a, o: stack.pop() and None))
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in weights and ptr not in seen:
            seen[ptr] = (t.untyped_storage().nbytes(), stack[-1] if stack else "")
        return t

    ids = torch.randint(0, 200, (batch, SEQ), generator=torch.Generator().manual_seed(0))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(input_ids=ids, labels=ids)
    for h in hooks:
        h.remove()
    return sum(nbytes for nbytes, where in seen.values() if block in where)


METHODS = {
    "lora-all": MethodConfig(method="lora", r=4, dropout=0.0),
    "lora-all-dropout": MethodConfig(method="lora", r=4, dropout=0.1),
    "lora-attention": MethodConfig(method="lora", r=8, dropout=0.0, target_preset="attention"),
    "full": MethodConfig(method="full"),
}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("name", ["llama-tied", "qwen2", "mistral", "gemma2", "gemma3"])
def test_activation_formula_equals_what_autograd_saves_per_token(name, method, tiny_folders):
    """Per extra token, a middle block saves exactly the values `layer_elements` lists (fp32 on CPU)."""
    import torch
    from peft import get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    from ft_jupyter.train.translate import peft_config

    torch.manual_seed(0)
    folder = str(tiny_folders[name])
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
    config = RunConfig(model=ModelConfig(name=folder), method=METHODS[method])
    if config.method.uses_lora:
        model = get_peft_model(model, peft_config(config))
    model.train()
    per_token = (_saved_bytes_in_block(model, 2) - _saved_bytes_in_block(model, 1)) / (SEQ * 4)
    formula = sum(layer_elements(architecture(folder), config, SEQ).values())
    assert per_token == formula


def _config(name="Qwen/Qwen2.5-7B-Instruct", **sections):
    base = dict(
        model=ModelConfig(name=name),
        method=MethodConfig(method="lora", r=16, alpha=32),
        training=TrainingConfig(batch_size=2, max_seq_len=512),
    )
    base.update(sections)
    return RunConfig(**base)


def test_weight_terms_follow_their_formulas():
    arch = architecture("Qwen/Qwen2.5-7B-Instruct")
    quantized = sum(lin.in_features * lin.out_features for lin in arch.linears if lin.name != "lm_head")
    rest = arch.params_total - quantized

    def weights(config):
        counts = count_parameters(arch, config.method)
        return memory_breakdown(arch, counts, config).term("weights").bytes

    assert weights(_config()) == arch.params_total * 2  # bf16 on a GPU
    assert weights(_config(model=ModelConfig(name=arch.name, dtype="float32"))) == arch.params_total * 4
    qlora = dict(method=MethodConfig(method="qlora"))
    nf4 = weights(_config(quantization=QuantizationConfig(mode="4bit", double_quant=False), **qlora))
    assert nf4 == math.ceil(quantized * (0.5 + 4 / 64)) + 4 * rest
    nf4_dq = weights(_config(quantization=QuantizationConfig(mode="4bit", double_quant=True), **qlora))
    assert nf4_dq == math.ceil(quantized * (0.5 + 1 / 64 + 4 / (64 * 256))) + 4 * rest
    assert nf4_dq < nf4
    int8 = weights(_config(quantization=QuantizationConfig(mode="8bit")))
    rows = sum(lin.out_features for lin in arch.linears if lin.name != "lm_head")
    assert int8 == quantized + 4 * rows + 4 * rest


@pytest.mark.parametrize("optimizer", ["adamw", "adamw-8bit", "paged-adamw-8bit", "adafactor", "sgd"])
def test_optimizer_state_follows_its_formula(optimizer):
    arch = architecture("HuggingFaceTB/SmolLM2-360M-Instruct")
    config = _config(arch.name, training=TrainingConfig(optimizer=optimizer))
    counts = count_parameters(arch, config.method)
    mem = memory_breakdown(arch, counts, config)
    numels = [math.prod(s) for s in counts.tensors]
    expected = {
        "adamw": 2 * 4 * counts.trainable,
        "adamw-8bit": sum(2 * (n + 4 * math.ceil(n / 256)) if n >= 4096 else 8 * n for n in numels),
        "adafactor": 4 * sum(s[0] + s[-1] for s in counts.tensors),
        "sgd": 0,
    }
    expected["paged-adamw-8bit"] = expected["adamw-8bit"]
    assert mem.term("optimizer").bytes == expected[optimizer]
    assert mem.term("gradients").bytes == 4 * counts.trainable  # LoRA weights and their grads are fp32
    assert mem.total_bytes == sum(t.bytes for t in mem.terms)


def test_full_fine_tuning_costs_far_more_than_lora_and_qlora_least():
    lora = estimate_run(_config("meta-llama/Llama-3.1-8B-Instruct"), measure_data=False)
    full = estimate_run(
        _config(
            "meta-llama/Llama-3.1-8B-Instruct",
            method=MethodConfig(method="full"),
            training=TrainingConfig(batch_size=2, max_seq_len=512, learning_rate=2e-5),
        ),
        measure_data=False,
    )
    qlora = estimate_run(
        _config(
            "meta-llama/Llama-3.1-8B-Instruct",
            method=MethodConfig(method="qlora"),
            quantization=QuantizationConfig(mode="4bit"),
            training=TrainingConfig(batch_size=2, max_seq_len=512, gradient_checkpointing=True),
        ),
        measure_data=False,
    )
    assert qlora.memory.total_bytes < lora.memory.total_bytes < full.memory.total_bytes
    # Pure bf16 full fine-tuning: weights 2 B + gradients 2 B + AdamW 4 B per parameter.
    n = full.params_total
    assert [full.memory.term(k).bytes for k in ("weights", "gradients", "optimizer")] == [2 * n, 2 * n, 4 * n]
    assert {g["name"] for g in qlora.gpu_fit if g["fits"]} == {name for name, _ in GPUS}  # the T4 budget recipe
    assert {g["name"] for g in full.gpu_fit if g["fits"]} == {"A100 80 GB", "H100 80 GB"}
    longer = full.memory.seq_len * 8
    huge = estimate_run(
        _config(
            full.model,
            method=MethodConfig(method="full"),
            training=TrainingConfig(batch_size=8, max_seq_len=longer, learning_rate=2e-5),
        ),
        measure_data=False,
    )
    assert not any(g["fits"] for g in huge.gpu_fit)
    assert any("more than any single common GPU" in w for w in huge.warnings)


def test_gradient_checkpointing_keeps_only_block_inputs():
    plain = estimate_run(_config(), measure_data=False).memory.term("activations").bytes
    config = _config(training=TrainingConfig(batch_size=2, max_seq_len=512, gradient_checkpointing=True))
    checkpointed = estimate_run(config, measure_data=False)
    arch = checkpointed.architecture
    per_layer = sum(layer_elements(arch, config, 512).values())
    assert checkpointed.memory.term("activations").bytes == 2 * 512 * 2 * (
        arch.num_layers * arch.hidden_size + per_layer
    )
    assert checkpointed.memory.term("activations").bytes < plain / 5


def test_activations_scale_with_batch_times_length():
    small = estimate_run(_config(), measure_data=False).memory.term("activations").bytes
    config = _config(training=TrainingConfig(batch_size=4, max_seq_len=1024))
    assert estimate_run(config, measure_data=False).memory.term("activations").bytes == 4 * small


def test_gpu_fit_reports_headroom_for_every_common_gpu():
    fit = gpu_fit(int(21 * GIB))
    assert [g["name"] for g in fit] == [name for name, _ in GPUS]
    by_name = {g["name"]: g for g in fit}
    assert not by_name["T4 16 GB"]["fits"] and by_name["T4 16 GB"]["headroom_gib"] == -6.0
    assert by_name["L4 24 GB"]["fits"] and by_name["L4 24 GB"]["tight"]
    assert by_name["H100 80 GB"]["fits"] and not by_name["H100 80 GB"]["tight"]


def test_estimate_is_plain_json_with_every_field_the_panels_read():
    est = estimate_run(_config(training=TrainingConfig(learning_rate=5e-2)), measure_data=False)
    data = json.loads(json.dumps(est.to_json()))
    for key in ("params_total", "params_trainable", "trainable_percent", "memory", "gpu_fit", "warnings", "source"):
        assert key in data
    assert data["memory"]["total_bytes"] == sum(t["bytes"] for t in data["memory"]["terms"])
    assert all(t["formula"] for t in data["memory"]["terms"])
    assert any("learning_rate" in w for w in data["warnings"])  # config lint is part of the estimate
    assert "q_proj" in est.to_text() and "GiB" in est.to_text()


def test_the_longest_training_row_sizes_the_activations():
    config = RunConfig(model=ModelConfig(name="tiny-random"), training=TrainingConfig(max_seq_len=4096))
    est = estimate_run(config, device="cpu")
    assert est.memory.seq_len < 4096 and "longest training row" in est.seq_len_note
    assert any("max_seq_len" in w and "far above" in w for w in est.warnings)
    assert estimate_run(config, device="cpu", measure_data=False).memory.seq_len == 4096


def test_cpu_allocator_cache_follows_its_formula():
    from ft_jupyter.models.memory import CPU_CACHE_FRACTION

    arch = architecture("HuggingFaceTB/SmolLM2-360M-Instruct")
    lora = _config(arch.name, training=TrainingConfig(batch_size=4, max_seq_len=256))
    counts = count_parameters(arch, lora.method)
    cpu = memory_breakdown(arch, counts, lora, device="cpu")
    values = sum(layer_elements(arch, lora, 256).values())
    working_set = 4 * 256 * arch.num_layers * values * 4  # fp32 on CPU
    assert cpu.term("allocator cache").bytes == int(CPU_CACHE_FRACTION * working_set)
    assert cpu.term("allocator cache").bytes == int(CPU_CACHE_FRACTION * cpu.term("activations").bytes)
    assert "allocator cache" not in [t.name for t in memory_breakdown(arch, counts, lora).terms]  # GPU


@pytest.mark.parametrize(
    "name, head, saves_below", [("llama-tied", True, True), ("mistral", True, False), ("llama-tied", False, False)]
)
def test_freeze_keeps_activations_below_the_top_blocks_only_when_gradients_reach_the_embedding(
    name, head, saves_below, tiny_folders
):
    """A trained tied head makes the input embedding train too, so every frozen block below passes gradients."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from ft_jupyter.models.memory import saving_blocks
    from ft_jupyter.train.loading import apply_method

    torch.manual_seed(0)
    folder = str(tiny_folders[name])
    config = RunConfig(
        model=ModelConfig(name=folder),
        method=MethodConfig(method="freeze", freeze_train_blocks=1, freeze_train_head=head),
    )
    model = apply_method(AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder)), config).train()
    per_token = (_saved_bytes_in_block(model, 2, "layers.0.") - _saved_bytes_in_block(model, 1, "layers.0.")) / (
        SEQ * 4
    )
    arch = architecture(folder)
    plan = saving_blocks(arch, config, SEQ)
    below = [parts for n, parts in plan if n == arch.num_layers - 1]
    assert per_token == (sum(below[0].values()) if saves_below else 0)
    assert sum(n for n, _ in plan) == (arch.num_layers if saves_below else 1)


def test_without_the_models_tokenizer_rows_are_sized_from_characters():
    from ft_jupyter.config import DataConfig
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.models.estimate import CHARS_PER_TOKEN, row_tokens

    config = _config(data=DataConfig(dataset="support-emails"), training=TrainingConfig(max_seq_len=2048))
    rows = row_tokens(config)
    longest_chars = max(sum(len(m["content"]) for m in e.messages) for e in prepare(config.data, seed=42).train)
    assert not rows.exact and rows.longest_row >= longest_chars / CHARS_PER_TOKEN
    est = estimate_run(config)
    assert est.memory.seq_len == rows.longest_row < 2048 and "≈" in est.seq_len_note
