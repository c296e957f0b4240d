"""Merge + verify, quantized copies re-measured, several adapters on one base, batched serving, and the export CLI,
on one real tiny run trained for the module."""

import json
import shutil
from pathlib import Path

import pytest

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    from ft_jupyter.train import run_training

    config = RunConfig(
        name="exporttiny",
        runs_dir=str(tmp_path_factory.mktemp("export") / "runs"),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=240),
        training=TrainingConfig(
            max_steps=40,
            batch_size=8,
            learning_rate=5e-3,
            max_seq_len=128,
            warmup_ratio=0.0,
            seed=7,
            price_per_hour=1.5,
        ),
    )
    return run_training(config).run_dir


def _variant(run_dir, name: str, transform) -> Path:
    """A copy of the run whose adapter's B matrices are transformed (a known, controlled change to its effect)."""
    from safetensors.torch import load_file, save_file

    target = run_dir.path.with_name(name)
    shutil.copytree(run_dir.path, target, ignore=shutil.ignore_patterns("export", "checkpoints", "evaluation"))
    weights = target / "adapter" / "adapter_model.safetensors"
    state = load_file(weights)
    save_file({k: (transform(v) if "lora_B" in k else v) for k, v in state.items()}, weights)
    return target


def test_merge_is_verified_and_loads_with_plain_transformers(finished):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ft_jupyter.evaluate.generation import generate_answers
    from ft_jupyter.evaluate.runs import load_models
    from ft_jupyter.export import merge_run
    from ft_jupyter.export.merge import probe_conversations

    report = merge_run(finished, dtype="float32", progress=False)
    assert report.fp32_allclose and report.fp32_max_abs_diff < 1e-3
    assert report.effect_retained > 0.999 and report.greedy_equal == report.probes == 8 and report.ok
    assert report.warnings == []
    folder = Path(report.folder)
    assert folder == finished.path / "export" / "merged-float32"
    saved = json.loads((folder.parent / "merged-float32.json").read_text())
    assert saved["ok"] and saved["probes"] == 8
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # nothing half-written left behind

    # A plain transformers load, no peft, no kit: the same answers as the adapter on the test prompts.
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert "generation %}" not in tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in model.generation_config.eos_token_id
    conversations, budget = probe_conversations(finished, 8)
    prompts = [c[:-1] for c in conversations]
    models = load_models(finished)
    expected = generate_answers(models.tuned, models.tokenizer, prompts, max_new_tokens=budget, progress=False)
    assert generate_answers(model, tokenizer, prompts, max_new_tokens=budget, progress=False) == expected
    # The chat template renders every test conversation exactly as the training template did.
    assert [tokenizer.apply_chat_template(c, tokenize=False) for c in conversations] == [
        models.tokenizer.apply_chat_template(c, tokenize=False) for c in conversations
    ]


def test_a_small_update_stored_in_bf16_is_flagged(finished):
    from ft_jupyter.export import merge_run

    # B × 0.01 makes the update ~100× smaller than what training learned: bf16's 8-bit mantissa then rounds most of
    # W + ΔW back to W (measured: 63 % kept in bf16, 96 % in fp16, 99.99 % in fp32).
    small = _variant(finished, "small-update", lambda b: b * 0.01)
    bf16 = merge_run(small, dtype="bfloat16", progress=False)
    assert bf16.effect_retained < 0.8 and not bf16.ok
    assert any("bfloat16 keeps only" in w and "float16" in w for w in bf16.warnings)
    exact = merge_run(small, dtype="float32", progress=False)
    assert exact.effect_retained > 0.999 and exact.ok


def test_quantized_copies_are_scored_on_the_test_split(finished):
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.evaluate.classification import evaluate_classification
    from ft_jupyter.evaluate.runs import load_models
    from ft_jupyter.export import merge_run, quantized_copies

    merged = merge_run(finished, dtype="float32", progress=False)
    report = quantized_copies(finished, copies=("merged", "8bit", "4bit", "q8_0"), merged=merged.folder, progress=False)
    data = prepare(finished.config().data, seed=7)
    assert report.n == len(data.test) and report.metric == "accuracy"
    assert [r.copy for r in report.rows] == ["merged", "8bit", "4bit"]
    assert "q8_0" in report.skipped and "--gguf q8_0" in report.skipped["q8_0"]
    merged_row, int8, nf4 = report.rows
    assert [r.bits_per_weight for r in report.rows] == [32, 8, 4]
    assert merged_row.bytes > int8.bytes > nf4.bytes
    # The fp32 merge is the adapter: its score is the fine-tune's own on the same rows.
    models = load_models(finished)
    tuned = evaluate_classification(models.tuned, models.tokenizer, data.test, data.labels, progress=False)
    assert merged_row.score == pytest.approx(tuned.accuracy)
    saved = json.loads((finished.path / "export" / "quantized.json").read_text())
    assert [r["score"] for r in saved["rows"]] == [r.score for r in report.rows]
    assert "accuracy" in str(report) and "NF4" in str(report)


def test_two_adapters_served_from_one_base(finished):
    from ft_jupyter.config import ConfigError
    from ft_jupyter.export import AdapterServer

    # The opposite update: certain to answer differently from the trained adapter.
    other = _variant(finished, "opposite", lambda b: -b)
    server = AdapterServer.from_runs([finished.path, other])
    names = list(server.adapters)
    assert names == [finished.run_id, "opposite"]
    prompts = [
        [{"role": "user", "content": text}]
        for text in ("I was charged twice this month.", "The app crashes when I upload a photo.")
    ]
    alone = {name: [server.generate([(name, p)])[0] for p in prompts] for name in [*names, None]}
    assert alone[names[0]] != alone["opposite"] and alone[names[0]] != alone[None]
    # One mixed batch: each row answered by its own adapter (or the bare base), as if served alone.
    requests = [(name, p) for p in prompts for name in [*names, None]]
    mixed = server.generate(requests)
    assert mixed == [alone[name][prompts.index(p)] for name, p in requests]
    with pytest.raises(ConfigError, match="no adapter 'nope'"):
        server.generate([("nope", prompts[0])])


def test_adapters_of_different_bases_are_refused(finished):
    from ft_jupyter.config import ConfigError, RunConfig
    from ft_jupyter.export import AdapterServer

    elsewhere = _variant(finished, "other-base", lambda b: b)
    config = RunConfig.load(elsewhere / "config.yaml")
    config.with_overrides({"model.name": "smollm2-135m-instruct"}).save(elsewhere / "config.yaml")
    with pytest.raises(ConfigError, match="same model"):
        AdapterServer.from_runs([finished.path, elsewhere])


def test_batched_throughput_and_cost(finished):
    from ft_jupyter.evaluate.runs import load_models
    from ft_jupyter.export import batch_throughput

    models = load_models(finished)
    prompts = [[{"role": "user", "content": "Where is my refund?"}], [{"role": "user", "content": "Great app!"}]]
    rows = batch_throughput(
        models.tuned,
        models.tokenizer,
        prompts,
        batch_sizes=(1, 4),
        requests=8,
        max_new_tokens=8,
        price_per_hour=3.6,
        progress=False,
    )
    assert [(r.batch_size, r.requests) for r in rows] == [(1, 8), (4, 8)]
    for r in rows:
        assert r.requests_per_s > 0 and r.tokens_per_s > 0 and r.p95_s >= r.p50_s > 0
        # $3.6/h is $0.001/s: 1,000 requests cost one second of machine time per request served.
        assert r.cost_per_1k == pytest.approx(1000 / r.requests_per_s * 0.001, rel=1e-6)


def test_export_cli(finished, capsys):
    from ft_jupyter.cli import main

    code = main(
        [
            "export",
            str(finished.path),
            "--dtype",
            "float16",
            "--quantized",
            "merged,4bit",
            "--throughput",
            "1,2",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["merge"]["dtype"] == "float16" and out["merge"]["ok"]
    assert [r["copy"] for r in out["quantized"]["rows"]] == ["merged", "4bit"]
    assert [r["batch_size"] for r in out["throughput"]] == [1, 2]
    assert (
        "vllm (adapter on the base)" in out["commands"]
        and "--enable-lora" in out["commands"]["vllm (adapter on the base)"]
    )
    assert (finished.path / "export" / "report.json").is_file() and (finished.path / "export" / "REPORT.md").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--gguf", "q4_k"], "gguf 'q4_k' is not one of"),
        (["--ollama"], "add --gguf"),
        (["--quantized", "2bit"], "quantized '2bit' is not one of"),
        (["--throughput", "1,x"], "batch sizes like 1,4,16"),
    ],
)
def test_export_cli_refuses_impossible_requests(finished, capsys, argv, message):
    from ft_jupyter.cli import main

    before = sorted(p.name for p in (finished.path / "export").iterdir()) if (finished.path / "export").exists() else []
    assert main(["export", str(finished.path), *argv]) == 2
    assert message in capsys.readouterr().err
    after = sorted(p.name for p in (finished.path / "export").iterdir()) if (finished.path / "export").exists() else []
    assert after == before  # refused before anything was written


def test_export_of_a_run_without_adapter_says_what_to_do(finished, capsys):
    from ft_jupyter.cli import main

    empty = _variant(finished, "no-adapter", lambda b: b)
    shutil.rmtree(empty / "adapter")
    assert main(["export", str(empty)]) == 2
    assert "has no adapter/ or model/ folder" in capsys.readouterr().err
    assert not (empty / "export").exists() or not any((empty / "export").iterdir())


def test_export_writes_checked_ggufs_and_ollama_modelfiles(finished, capsys):
    import shutil as sh

    from ft_jupyter.cli import main
    from ft_jupyter.export.ollama import render_with_go

    assert (
        main(
            [
                "export",
                str(finished.path),
                "--dtype",
                "float32",
                "--gguf",
                "f16,q8_0",
                "--lora-gguf",
                "--ollama",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    by_type = {g["type"]: g for g in out["gguf"]}
    assert set(by_type) == {"f16", "q8_0", "base-f16", "lora-f16"}
    # Read back through transformers: f16 within float16 rounding, q8_0 mostly the same next token.
    assert by_type["f16"]["transformers_check"]["relative_diff"] < 0.01
    assert by_type["q8_0"]["transformers_check"]["top1_agreement"] > 0.85
    ollama = finished.path / "export" / "ollama"
    merged_file, adapter_file = (ollama / "Modelfile").read_text(), (ollama / "Modelfile.adapter").read_text()
    assert "FROM ../gguf/model-q8_0.gguf" in merged_file and "ADAPTER" not in merged_file
    assert "FROM ../gguf/base-f16.gguf" in adapter_file and "ADAPTER ../gguf/adapter-f16.gguf" in adapter_file
    assert 'PARAMETER stop "<|im_end|>"' in merged_file
    assert out["commands"]["ollama"].endswith(f"ollama run {finished.run_id.lower()}")
    if sh.which("go"):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(out["merge"]["folder"])
        template = merged_file.split('TEMPLATE """', 1)[1].split('"""', 1)[0]
        chat = [
            {"role": "user", "content": "Where is my refund?"},
            {"role": "assistant", "content": "billing"},
            {"role": "user", "content": "And the invoice?"},
        ]
        assert render_with_go(template, chat) == tokenizer.apply_chat_template(
            chat, tokenize=False, add_generation_prompt=True
        )


def test_each_adapter_is_asked_the_way_its_run_trained(finished, capsys):
    from ft_jupyter.cli import main
    from ft_jupyter.config import RunConfig
    from ft_jupyter.export import AdapterServer

    prompted = _variant(finished, "with-system", lambda b: b)
    config = RunConfig.load(prompted / "config.yaml")
    config.with_overrides({"data.system_prompt": "You sort customer emails."}).save(prompted / "config.yaml")
    server = AdapterServer.from_runs([finished.path, prompted])
    assert server.messages("with-system", "Hi") == [
        {"role": "system", "content": "You sort customer emails."},
        {"role": "user", "content": "Hi"},
    ]
    assert server.messages(finished.run_id, "Hi") == server.messages(None, "Hi") == [{"role": "user", "content": "Hi"}]
    assert (
        main(
            ["adapters", str(finished.path), str(prompted), "--prompt", "Where is my refund?", "--max-new-tokens", "4"]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [finished.run_id, "with-system", "base"]
