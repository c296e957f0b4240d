"""Every method trains tiny-random for real on CPU: the loss falls, exactly the right weights move, and the saved
result reloads with plain peft / transformers."""

import statistics

import pytest

pytestmark = pytest.mark.integration

METHODS = {
    "lora": {},
    "qlora": {"method.method": "qlora", "quantization.mode": "4bit", "training.optimizer": "paged-adamw-8bit"},
    "lora-8bit": {"quantization.mode": "8bit", "training.optimizer": "adamw-8bit"},
    "full": {"method.method": "full", "training.learning_rate": 1e-3},
    "freeze": {"method.method": "freeze", "method.freeze_train_blocks": 1, "training.learning_rate": 3e-3},
}


@pytest.fixture(scope="module", params=list(METHODS))
def trained(request, tiny):
    from ft_jupyter.train import run_training

    config = tiny(**METHODS[request.param])
    return request.param, config, run_training(config)


def _fresh_base():
    from transformers import AutoModelForCausalLM

    from ft_jupyter.models.catalogue import resolve

    return AutoModelForCausalLM.from_pretrained(resolve("tiny-random"))


def _logits(model, tokenizer):
    import torch

    ids = tokenizer("My parcel never arrived and nobody answers.", return_tensors="pt")["input_ids"]
    model.eval()
    with torch.no_grad():
        return model(ids).logits


def test_the_loss_falls(trained):
    _, _, result = trained
    losses = [loss for _, loss in result.losses]
    assert result.state == "finished" and result.steps == 8 and len(losses) == 8
    assert statistics.fmean(losses[-3:]) < 0.85 * statistics.fmean(losses[:3]), losses


def test_exactly_the_right_weights_move(trained):
    import torch

    name, _, result = trained
    trained_params = dict(result.model.named_parameters())
    if name in ("lora", "qlora", "lora-8bit"):
        lora_b = [p for n, p in trained_params.items() if "lora_B" in n]
        assert lora_b and all(p.abs().sum() > 0 for p in lora_b)  # B starts at zero: non-zero means it learned
        assert not any(p.requires_grad for n, p in trained_params.items() if "lora_" not in n)
        if name == "lora":  # full-precision base: its frozen weights are bit-for-bit the originals
            base = dict(_fresh_base().named_parameters())
            for n, p in trained_params.items():
                if "lora_" not in n:
                    assert torch.equal(p, base[n.replace("base_model.model.", "").replace(".base_layer", "")]), n
        return
    base = dict(_fresh_base().named_parameters())
    changed = {n for n, p in trained_params.items() if not torch.equal(p, base[n])}
    if name == "full":
        assert changed == set(base)
    else:  # freeze: the top block and the head (tied to the input embeddings) learn; nothing else moves
        assert changed == {n for n in base if n.startswith("model.layers.3.") or n == "model.embed_tokens.weight"}


def test_the_saved_result_reloads_with_plain_libraries(trained):
    import torch

    name, config, result = trained
    if name in ("full", "freeze"):
        from transformers import AutoModelForCausalLM

        assert result.artifact_path.name == "model"
        reloaded = AutoModelForCausalLM.from_pretrained(str(result.artifact_path))
        assert torch.allclose(_logits(reloaded, result.tokenizer), _logits(result.model, result.tokenizer), atol=1e-5)
        return
    from peft import PeftModel

    assert result.artifact_path.name == "adapter"
    if name == "lora":
        reloaded = PeftModel.from_pretrained(_fresh_base(), str(result.artifact_path))
        assert torch.allclose(_logits(reloaded, result.tokenizer), _logits(result.model, result.tokenizer), atol=1e-4)
        return
    from safetensors.torch import load_file

    # Quantized bases: the adapter file holds exactly the trained LoRA weights, and attaches to a fresh base.
    saved = load_file(str(result.artifact_path / "adapter_model.safetensors"))
    trained_lora = {n: p for n, p in result.model.named_parameters() if "lora_" in n}
    assert len(saved) == len(trained_lora)
    for key, value in saved.items():
        match = [p for n, p in trained_lora.items() if n.replace(".default", "") == key]
        assert match and torch.equal(match[0].detach().cpu(), value), key
    reloaded = PeftModel.from_pretrained(_fresh_base(), str(result.artifact_path))
    assert _logits(reloaded, result.tokenizer).isfinite().all()


def test_the_run_folder_tells_the_story(trained, events_of):
    name, config, result = trained
    events = events_of(result.run_dir)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "finished" and kinds.count("step") == 8
    started = events[0]
    assert started["precision"] == "fp32" and "CPU" in started["precision_reason"]
    assert 0 < started["params_trainable"] <= started["params_total"]
    assert result.run_dir.status()["state"] == "finished" and result.run_dir.config() == config
