"""Training throughput: ft-jupyter's `run_training` against a plain `trl.SFTTrainer` script, side by side.

Both sides train the same model on the same rows with the same hyper-parameters, LoRA settings, chat template and
thread count; each run is a fresh process, and the two alternate (plain, engine, plain, engine, ...) so background
load on a shared machine hits both alike. Throughput is non-padding tokens seen ÷ time inside `trainer.train()`;
peak memory is the process's maximum resident set (CPU) or CUDA peak allocation. The engine runs with events, the
run store and health checks on, exactly as a user gets it.

    python benchmarks/bench_train.py                          # tiny-random, 3 pairs
    python benchmarks/bench_train.py --model smollm2-135m-instruct --steps 6 --pairs 2
    python benchmarks/bench_train.py --grouped                # also the engine with length-grouped batches

Prints one JSON line per run and a summary; record results in benchmarks/RESULTS.md with the commit hash.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench_config(model: str, steps: int, runs_dir: str, grouped: bool = False):
    from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig

    return RunConfig(
        name="bench", runs_dir=runs_dir, model=ModelConfig(name=model),
        method=MethodConfig(method="lora", r=16, alpha=32, dropout=0.0, target_preset="all-linear"),
        # No validation split: a plain script would not evaluate, so neither side spends time on it.
        data=DataConfig(dataset="support-emails", validation_fraction=0.0),
        training=TrainingConfig(max_steps=steps, batch_size=8, learning_rate=1e-3, warmup_ratio=0.1,
                                max_seq_len=256, scheduler="cosine", seed=7, group_by_length=grouped),
    )


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_plain(config) -> dict:
    """What a careful person writes by hand with TRL: the same settings, no ft-jupyter in the training loop."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ft_jupyter.data.preflight import preflight
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.models.catalogue import resolve

    torch.manual_seed(config.training.seed)
    source = resolve(config.model.name)
    data = prepare(config.data, seed=config.training.seed)  # the same rows the engine trains on
    tokenizer = AutoTokenizer.from_pretrained(source)
    template = preflight(data, tokenizer, config).template  # the same chat template, with generation markers
    if template:
        tokenizer.chat_template = template
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    t = config.training
    args = SFTConfig(
        output_dir=os.path.join(config.runs_dir, "plain"), max_steps=t.max_steps, learning_rate=t.learning_rate,
        per_device_train_batch_size=t.batch_size, gradient_accumulation_steps=t.grad_accum,
        lr_scheduler_type="cosine", warmup_steps=t.warmup_ratio, max_length=t.max_seq_len, bf16=False,
        use_cpu=not torch.cuda.is_available(), gradient_checkpointing=False, logging_steps=t.logging_steps,
        save_strategy="no", eval_strategy="no", seed=t.seed, data_seed=t.seed, assistant_only_loss=True,
        report_to="none", disable_tqdm=True, include_num_input_tokens_seen="non_padding",
    )
    lora = LoraConfig(r=config.method.r, lora_alpha=config.method.alpha, lora_dropout=config.method.dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    train = Dataset.from_list([{"messages": list(e.messages)} for e in data.train])
    trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer, peft_config=lora)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return {"tokens": int(trainer.state.num_input_tokens_seen), "train_s": seconds,
            "final_loss": trainer.state.log_history[-2].get("loss")}


def run_engine(config) -> dict:
    from ft_jupyter.train import run_training

    result = run_training(config)
    return {"tokens": result.tokens_seen, "train_s": result.train_runtime_s, "final_loss": result.last_loss}


def child(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as runs_dir:
        config = bench_config(args.model, args.steps, runs_dir, grouped=args.side == "engine-grouped")
        out = run_plain(config) if args.side == "plain" else run_engine(config)
    out.update(side=args.side, tokens_per_s=out["tokens"] / out["train_s"], peak_mb=_peak_memory_mb(),
               threads=torch.get_num_threads(), model=args.model, steps=args.steps)
    print("RESULT " + json.dumps(out), flush=True)


def _spawn(side: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", side, "--model", args.model, "--steps",
           str(args.steps), "--threads", str(args.threads)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": ROOT}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{side} run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny-random")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--grouped", action="store_true", help="also run the engine with group_by_length")
    parser.add_argument("--child", choices=("plain", "engine", "engine-grouped"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.side = args.child
        return child(args)
    sides = ["plain", "engine"] + (["engine-grouped"] if args.grouped else [])
    results: dict[str, list[dict]] = {side: [] for side in sides}
    for _ in range(args.pairs):
        for side in sides:
            results[side].append(_spawn(side, args))
    plain = results["plain"]
    print(f"\n{args.model}, {args.steps} steps, {args.threads} threads, {args.pairs} alternating runs per side")
    for side in sides:
        tps = [r["tokens_per_s"] for r in results[side]]
        ratios = [r["tokens_per_s"] / p["tokens_per_s"] for r, p in zip(results[side], plain)]
        print(f"  {side:<15} tokens/s median {statistics.median(tps):8.1f} (runs: "
              f"{', '.join(f'{x:.1f}' for x in tps)}) | peak memory median "
              f"{statistics.median(r['peak_mb'] for r in results[side]):7.0f} MB | ratio to plain per pair: "
              f"{', '.join(f'{x:.3f}' for x in ratios)}; median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
