"""method "head" trains tiny-random for real on CPU: a new classification head on the frozen backbone (and the top
block when asked) learns, nothing else moves, the saved model reloads, and compare() ranks it like any run."""

import json
import statistics

import pytest

pytestmark = pytest.mark.integration

HEAD = {
    "method.method": "head",
    "method.freeze_train_blocks": 0,
    "training.learning_rate": 1e-2,
    "training.max_steps": 12,
}
LABELS = ("billing", "bug_report", "complaint", "feedback", "question")
HIDDEN = 128  # tiny-random


@pytest.fixture(scope="module")
def head_run(tiny):
    from ft_jupyter.train import run_training

    config = tiny(**HEAD)
    return config, run_training(config)


@pytest.fixture(scope="module")
def top_block_run(tiny):
    from ft_jupyter.train import run_training

    config = tiny(**{**HEAD, "method.freeze_train_blocks": 1, "name": "tiny-top"})
    return config, run_training(config)


def _fresh_base():
    from transformers import AutoModelForCausalLM

    from ft_jupyter.models.catalogue import resolve

    return dict(AutoModelForCausalLM.from_pretrained(resolve("tiny-random")).named_parameters())


def _initial_head(config):
    """The head exactly as the run started it: the same seed before the same load."""
    import torch

    from ft_jupyter.train.classifier import load_classifier
    from ft_jupyter.train.translate import choose_precision

    torch.manual_seed(config.training.seed)
    return load_classifier(config, choose_precision(config), LABELS).model.score.weight.detach().clone()


def _changed(result) -> set[str]:
    import torch

    base = _fresh_base()
    trained = dict(result.model.named_parameters())
    assert set(trained) - set(base) == {"score.weight"}  # the backbone's names are the causal model's
    return {n for n, p in trained.items() if n == "score.weight" or not torch.equal(p, base[n])}


def _test_rows(config):
    from ft_jupyter.data.prepare import prepare

    return prepare(config.data, seed=config.training.seed).test


def test_the_loss_falls_and_the_run_folder_tells_the_story(head_run, events_of):
    config, result = head_run
    losses = [loss for _, loss in result.losses]
    print(f"\nhead loss first {losses[0]:.4f} last {losses[-1]:.4f}: {[round(v, 3) for v in losses]}")
    assert result.state == "finished" and result.steps == 12 and len(losses) == 12
    assert statistics.fmean(losses[-3:]) < 0.85 * statistics.fmean(losses[:3]), losses
    events = events_of(result.run_dir)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "finished" and kinds.count("step") == 12
    started = events[0]
    print(f"params_total {started['params_total']:,} params_trainable {started['params_trainable']:,}")
    assert started["params_trainable"] == HIDDEN * len(LABELS)  # the new head alone
    assert started["config"]["method"]["method"] == "head" and "chat template" in started["template_note"]
    evaluation = next(e for e in events if e["type"] == "evaluation")
    assert evaluation["eval_loss"] > 0 and 0 <= evaluation["metrics"]["eval_accuracy"] <= 1
    assert result.run_dir.status()["state"] == "finished" and result.run_dir.config() == config


def test_the_head_learns_and_every_backbone_weight_is_bit_identical(head_run):
    import torch

    config, result = head_run
    start = _initial_head(config)
    assert torch.equal(start, _initial_head(config))  # the replay is exact, so "changed" below means trained
    assert not torch.equal(result.model.score.weight.detach(), start)
    assert _changed(result) == {"score.weight"}


def test_with_freeze_train_blocks_1_the_top_block_trains_and_the_one_below_does_not(top_block_run, events_of):
    _, result = top_block_run
    changed = _changed(result)
    top = {n for n, _ in result.model.named_parameters() if n.startswith("model.layers.3.")}
    assert changed == top | {"score.weight"}  # layer 2, the embeddings and the final norm stay as they were
    started = events_of(result.run_dir)[0]
    block = sum(p.numel() for n, p in result.model.named_parameters() if n in top)
    print(f"\ntop-block run: params_trainable {started['params_trainable']:,} (block {block:,} + head)")
    assert started["params_trainable"] == block + HIDDEN * len(LABELS)


def test_the_estimate_counts_what_the_trainer_trained(top_block_run, events_of):
    from ft_jupyter.models.estimate import estimate_run

    config, result = top_block_run
    started = events_of(result.run_dir)[0]
    estimate = estimate_run(config, device="cpu")
    assert (estimate.params_trainable, estimate.params_total) == (started["params_trainable"], started["params_total"])


def test_the_saved_model_reloads_and_predicts_the_same_labels(head_run):
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.evaluate.head import predict_labels
    from ft_jupyter.models.inference import load_classifier_for_inference

    config, result = head_run
    assert result.artifact_path.name == "model" and result.run_dir.artifact_path() == result.artifact_path
    saved = json.loads((result.artifact_path / "labels.json").read_text(encoding="utf-8"))
    assert tuple(saved["labels"]) == LABELS and saved["max_seq_len"] == config.training.max_seq_len
    rows = prepare(config.data, seed=config.training.seed)
    examples = rows.test + rows.validation
    model, tokenizer = load_classifier_for_inference(result.artifact_path)
    reloaded = predict_labels(model, tokenizer, examples, config.training.max_seq_len, batch_size=4, progress=False)
    in_memory = predict_labels(
        result.model, result.tokenizer, examples, config.training.max_seq_len, batch_size=3, progress=False
    )
    assert reloaded == in_memory and set(reloaded) <= set(LABELS)


def test_compare_scores_a_head_run_like_a_lora_run_on_the_same_rows(head_run, tiny):
    from ft_jupyter.evaluate import compare
    from ft_jupyter.evaluate.head import evaluate_head
    from ft_jupyter.train import run_training

    config, result = head_run
    head = compare(result, rungs=("finetuned",), progress=False)
    lora = compare(run_training(tiny(name="tiny-lora")), rungs=("finetuned",), progress=False)
    assert head.task == lora.task == "classification" and head.metric == lora.metric == "accuracy"
    assert head.data["fingerprint"] == lora.data["fingerprint"] and head.n == lora.n  # the same test rows
    assert head.scores["finetuned"].keys() == lora.scores["finetuned"].keys()
    assert head.scores["finetuned"]["per_class"].keys() == lora.scores["finetuned"]["per_class"].keys()
    assert head.scores["finetuned"]["invalid_rate"] == 0.0
    print(
        f"\nhead accuracy {head.scores['finetuned']['accuracy']:.3f} macro-F1 "
        f"{head.scores['finetuned']['macro_f1']:.3f}; lora accuracy {lora.scores['finetuned']['accuracy']:.3f}"
    )
    # From the run folder (the classifier reloaded) the scores are the same, and evaluate_head agrees.
    again = compare(result.run_dir, rungs=("finetuned",), progress=False, save=False)
    assert again.scores["finetuned"] == head.scores["finetuned"]
    report = evaluate_head(result.run_dir, _test_rows(config), progress=False)
    assert (report.accuracy, report.macro_f1, report.invalid_rate) == (
        head.scores["finetuned"]["accuracy"],
        head.scores["finetuned"]["macro_f1"],
        0.0,
    )


def test_the_base_rungs_of_a_head_run_use_the_causal_base_model(head_run):
    from ft_jupyter.evaluate import compare

    _, result = head_run
    comparison = compare(result, rungs=("base", "prompted"), retrieval=False, progress=False, save=False)
    assert comparison.variants == ["base", "prompted", "finetuned"]
    assert all(isinstance(answer, str) for row in comparison.rows for answer in row["answers"].values())


def test_what_needs_a_language_model_refuses_a_head_run_saying_why(head_run):
    from ft_jupyter.config import ConfigError
    from ft_jupyter.evaluate.runs import load_models
    from ft_jupyter.export.run import check_exportable

    _, result = head_run
    with pytest.raises(ConfigError, match="cannot generate text.*compare"):
        load_models(result.run_dir)  # forgetting_check, run_latency
    with pytest.raises(ConfigError, match="AutoModelForSequenceClassification"):
        check_exportable(result.run_dir)


def test_gradient_accumulation_reports_the_same_loss_as_one_big_batch(tiny):
    from ft_jupyter.train import run_training

    one = run_training(tiny(**{**HEAD, "training.max_steps": 1, "name": "ga1"}))
    two = run_training(
        tiny(**{**HEAD, "training.max_steps": 1, "training.batch_size": 4, "training.grad_accum": 2, "name": "ga2"})
    )
    assert two.first_loss == pytest.approx(one.first_loss, rel=1e-4)  # not twice it (transformers' default here)


def test_the_stop_file_stops_a_head_run_like_any_other(tiny):
    from pathlib import Path

    from ft_jupyter.train import RunDir, run_training
    from ft_jupyter.train.events import RunStarted, Step

    config = tiny(**{**HEAD, "training.max_steps": 40, "name": "tiny-stop"})
    seen = {}

    def stop_at_step_2(event):  # what the sidebar's stop button does: write the run's STOP file
        if isinstance(event, RunStarted):
            seen["run"] = RunDir(Path(config.runs_dir) / event.run_id)
        if isinstance(event, Step) and event.step == 2:
            seen["run"].request_stop("stopped from the sidebar")

    result = run_training(config, [stop_at_step_2])
    assert result.state == "stopped" and result.steps < 40 and "sidebar" in result.reason
    assert (result.artifact_path / "labels.json").is_file() and result.run_dir.status()["state"] == "stopped"


def test_data_without_labels_is_refused_before_training(tiny, tmp_path):
    from ft_jupyter.config import ConfigError
    from ft_jupyter.train import RunStore, run_training

    path = tmp_path / "chats.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Write a line about the number {i}."},
                {"role": "assistant", "content": f"The number {i} comes after {i - 1}."},
            ]
        }
        for i in range(1, 41)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    config = tiny(**{**HEAD, "data.dataset": str(path), "runs_dir": str(tmp_path / "runs")})
    with pytest.raises(ConfigError, match=r"method.method = 'head'.*has no labels"):
        run_training(config)
    (run,) = RunStore(config.runs_dir).list_runs()
    events = run.read_events(0)[0]
    assert [e["type"] for e in events] == ["failed"] and "method.method" in events[0]["error"]
    assert run.status()["state"] == "failed" and run.artifact_path() is None
