"""Training throughput: ft-jupyter's `run_training` against a plain `trl.SFTTrainer` script, side by side.

Both sides train the same model on the same rows with the same hyper-parameters, LoRA settings, chat template and
thread count, each in its own process. The two processes train in lockstep: after every optimizer step a side
reports and waits, and the referee (this script) lets the other side take its step. So exactly one side computes at
any moment, and whatever else the machine is doing lands on both alike, step by step; on a 2-core machine shared
with other jobs, timing whole runs one after the other swung by 2x between repeats, this does not.

Throughput is non-padding tokens ÷ time of each step (from "go" to the step's report: forward, backward, optimizer,
callbacks, logging and, for the engine, its events, run store and health checks), over every step but the first,
by wall clock and by process CPU time. Two ratios each: of the totals, and the median of the per-step ratios (step k
of both sides trains the same batch, so each step is a paired comparison, and the median ignores the steps another
job's burst happened to hit). Peak memory is each process's maximum resident set (CPU) or CUDA peak allocation.

    python benchmarks/bench_train.py                                  # tiny-random, 40 steps
    python benchmarks/bench_train.py --model smollm2-135m-instruct --steps 8
    python benchmarks/bench_train.py --variant engine-grouped         # the engine with length-grouped batches

Record results in benchmarks/RESULTS.md with the commit hash.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = "BENCH "


def bench_config(model: str, steps: int, runs_dir: str, grouped: bool = False):
    from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig

    return RunConfig(
        name="bench",
        runs_dir=runs_dir,
        model=ModelConfig(name=model),
        method=MethodConfig(method="lora", r=16, alpha=32, dropout=0.0, target_preset="all-linear"),
        # No validation split: a plain script would not evaluate, so neither side spends time on it.
        data=DataConfig(dataset="support-emails", validation_fraction=0.0),
        training=TrainingConfig(
            max_steps=steps,
            batch_size=8,
            learning_rate=1e-3,
            warmup_ratio=0.1,
            max_seq_len=256,
            scheduler="cosine",
            seed=7,
            group_by_length=grouped,
        ),
    )


# ---- the child side: train, and hand the turn back after every step -------------------------------------------
class Gate:
    """Report a step to the referee and wait for its "go"; times each step from its "go" to its report."""

    def __init__(self):
        self.wall = self.cpu = 0.0
        self.tokens = 0

    def _send(self, **data) -> None:
        sys.stdout.write(PREFIX + json.dumps(data) + "\n")
        sys.stdout.flush()

    def _wait(self) -> None:
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("referee went away")
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def ready(self) -> None:
        self._send(kind="ready")
        self._wait()

    def step(self, step: int, tokens_seen: int, loss: float | None) -> None:
        self._send(
            kind="step",
            step=step,
            wall_s=time.perf_counter() - self.wall,
            cpu_s=time.process_time() - self.cpu,
            tokens=tokens_seen - self.tokens,
            loss=loss,
        )
        self.tokens = tokens_seen
        self._wait()


def run_plain(config, gate: Gate) -> None:
    """What a careful person writes by hand with TRL: the same settings, no ft-jupyter in the training loop."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from ft_jupyter.data.preflight import preflight
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.models.catalogue import resolve

    class Lockstep(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            gate.ready()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                gate.step(state.global_step, int(state.num_input_tokens_seen), logs["loss"])

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
        output_dir=os.path.join(config.runs_dir, "plain"),
        max_steps=t.max_steps,
        learning_rate=t.learning_rate,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        lr_scheduler_type="cosine",
        warmup_steps=t.warmup_ratio,
        max_length=t.max_seq_len,
        bf16=False,
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=False,
        logging_steps=t.logging_steps,
        save_strategy="no",
        eval_strategy="no",
        seed=t.seed,
        data_seed=t.seed,
        assistant_only_loss=True,
        report_to="none",
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
    )
    lora = LoraConfig(
        r=config.method.r,
        lora_alpha=config.method.alpha,
        lora_dropout=config.method.dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    train = Dataset.from_list([{"messages": list(e.messages)} for e in data.train])
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[Lockstep()],
    )
    trainer.train()


def run_engine(config, gate: Gate) -> None:
    from ft_jupyter.train import run_training

    def lockstep(event) -> None:
        if event.type == "run_started":
            gate.ready()
        elif event.type == "step":
            gate.step(event.step, event.tokens_seen, event.loss)

    run_training(config, [lockstep])


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(side: str, model: str, steps: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as runs_dir:
        config = bench_config(model, steps, runs_dir, grouped=side == "engine-grouped")
        (run_plain if side == "plain" else run_engine)(config, Gate())
    sys.stdout.write(
        PREFIX + json.dumps({"kind": "end", "peak_mb": _peak_memory_mb(), "threads": torch.get_num_threads()}) + "\n"
    )
    sys.stdout.flush()


# ---- the referee ------------------------------------------------------------------------------------------------
class Side:
    def __init__(self, name: str, args: argparse.Namespace, log):
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            name,
            "--model",
            args.model,
            "--steps",
            str(args.steps),
            "--threads",
            str(args.threads),
        ]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": ROOT}
        self.name = name
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=ROOT
        )
        self.steps: list[dict] = []
        self.end: dict = {}

    def receive(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(PREFIX):
                return json.loads(line[len(PREFIX) :])
        raise SystemExit(f"the {self.name} side ended early (exit code {self.proc.wait()}); see its log")

    def go(self) -> dict:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self.receive()


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def referee(args: argparse.Namespace) -> dict:
    sides = ["plain", args.variant]
    with tempfile.TemporaryFile("w+") as log:
        players = [Side(name, args, log) for name in sides]
        for p in players:
            assert p.receive()["kind"] == "ready"  # both loaded before the first timed step
        for step in range(args.steps):
            # Alternate who goes first, so neither side always follows the other's cache state.
            for p in players if step % 2 == 0 else players[::-1]:
                p.steps.append(p.go())
        for p in players:
            p.end = p.go()
            p.proc.wait()
    summary = {}
    for p in players:
        timed = p.steps[1:]  # the first step carries one-time costs (allocations, lazy init)
        tokens = sum(s["tokens"] for s in timed)
        summary[p.name] = {
            "tokens": tokens,
            "wall_s": sum(s["wall_s"] for s in timed),
            "cpu_s": sum(s["cpu_s"] for s in timed),
            "peak_mb": p.end["peak_mb"],
            "final_loss": p.steps[-1]["loss"],
            "threads": p.end["threads"],
        }
        summary[p.name]["tokens_per_s"] = tokens / summary[p.name]["wall_s"]
        summary[p.name]["tokens_per_cpu_s"] = tokens / summary[p.name]["cpu_s"]
    plain, other = players
    for clock in ("wall_s", "cpu_s"):
        per_step = [
            (o["tokens"] / o[clock]) / (p["tokens"] / p[clock])
            for p, o in zip(plain.steps[1:], other.steps[1:], strict=True)
        ]
        summary[other.name][f"median_step_ratio_{clock[:-2]}"] = _median(per_step)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny-random")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variant", default="engine", choices=("engine", "engine-grouped"))
    parser.add_argument("--child", choices=("plain", "engine", "engine-grouped"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.model, args.steps, args.threads)
    summary = referee(args)
    plain, engine = summary["plain"], summary[args.variant]
    print(json.dumps(summary, indent=1))
    print(f"\n{args.model}, {args.steps} lockstep steps (first excluded), {plain['threads']} threads each:")
    for name, s in summary.items():
        print(
            f"  {name:<15} {s['tokens_per_s']:8.1f} tokens/s wall, {s['tokens_per_cpu_s']:8.1f} tokens/CPU-s, "
            f"peak {s['peak_mb']:.0f} MB, final loss {s['final_loss']:.4f}"
        )
    print(
        f"  ratio {args.variant} / plain, totals: {engine['tokens_per_s'] / plain['tokens_per_s']:.3f} (wall), "
        f"{engine['tokens_per_cpu_s'] / plain['tokens_per_cpu_s']:.3f} (CPU time); median of per-step ratios: "
        f"{engine['median_step_ratio_wall']:.3f} (wall), {engine['median_step_ratio_cpu']:.3f} (CPU time)"
    )


if __name__ == "__main__":
    main()
