import json
import statistics

import pytest

pytestmark = pytest.mark.integration


def _mean(values):
    return statistics.fmean(values)


def test_lora_on_tiny_model_learns_and_saves_a_reloadable_adapter(tiny_config):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from ft_jupyter.models.catalogue import resolve
    from ft_jupyter.train import run_training

    seen = []
    result = run_training(tiny_config, observers=[seen.append])

    assert result.state == "finished" and result.steps == 30
    losses = [loss for _, loss in result.losses]
    assert _mean(losses[-5:]) < 0.7 * _mean(losses[:5]), f"loss did not fall: {losses}"

    # LoRA's B matrices start at zero: any non-zero value means the adapter learned something.
    lora_b = {n: p for n, p in result.model.named_parameters() if "lora_B" in n}
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b.values())
    base_frozen = [p for n, p in result.model.named_parameters() if "lora_" not in n]
    assert not any(p.requires_grad for p in base_frozen)

    # The saved adapter reloads with plain peft and reproduces the trained model's output.
    base = AutoModelForCausalLM.from_pretrained(resolve("tiny-random"))
    reloaded = PeftModel.from_pretrained(base, str(result.artifact_path)).eval()
    ids = result.tokenizer("My parcel never arrived.", return_tensors="pt")["input_ids"]
    result.model.eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(ids).logits, result.model(ids).logits, atol=1e-4)

    # The run folder tells the whole story.
    run = result.run_dir
    assert run.status()["state"] == "finished"
    lines = run.events_path.read_text().splitlines()
    events = [json.loads(line) for line in lines]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "finished"
    assert kinds.count("step") == 30
    assert [e.type for e in seen] == kinds
    assert run.config() == tiny_config


def test_stop_file_ends_the_run_gracefully_with_a_saved_adapter(tiny_config):
    from ft_jupyter.train import run_training

    def stop_after_three(event):
        if event.type == "step" and event.step == 3:
            run_dir.request_stop("stopped from a test")

    from ft_jupyter.train.store import RunStore

    run_dir = RunStore(tiny_config.runs_dir).create(tiny_config)
    result = run_training(tiny_config, observers=[stop_after_three], run=run_dir)
    assert result.state == "stopped"
    assert 3 <= result.steps < 30
    assert (result.artifact_path / "adapter_model.safetensors").is_file()
    status = run_dir.status()
    assert status["state"] == "stopped" and "stopped from a test" in status["message"]


def test_a_bad_config_marks_the_run_failed_with_the_message(tiny_config, tmp_path):
    from ft_jupyter.config import ConfigError
    from ft_jupyter.train import RunStore, run_training

    bad = tiny_config.with_overrides({"data.dataset": str(tmp_path / "missing.jsonl")})
    with pytest.raises(ConfigError):
        run_training(bad)
    (run,) = RunStore(bad.runs_dir).list_runs()
    assert run.status()["state"] == "failed"
    assert "missing.jsonl" in run.status()["message"]
