"""How much the data step costs a run, in units of one training step measured in the same process.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_data.py [--model smollm2-135m-instruct]

Prints the time of prepare() (load, validate, clean report, split), of the pre-run checks (chat template, token
lengths of the train split) and of `data check` on the dirty twin; with --step also one LoRA forward+backward on a
batch of 8 rows of the same data, and the ratio, which is what to record (absolute times move with the machine and
its load; on a heavily shared CPU the step alone can take minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time


def _timed(fn, repeat: int = 3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _one_step(model_name: str, data, tokenizer, template: str) -> float:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from ft_jupyter.models.catalogue import resolve

    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(resolve(model_name)),
        LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    batch = [
        tokenizer.apply_chat_template(list(e.messages), chat_template=template, tokenize=True, return_dict=True)[
            "input_ids"
        ]
        for e in data.train[:8]
    ]
    width = max(len(b) for b in batch)
    ids = torch.tensor([b + [tokenizer.pad_token_id] * (width - len(b)) for b in batch])

    def step():
        model(input_ids=ids, labels=ids).loss.backward()

    step()  # warm-up: first-call allocations
    return _timed(step, repeat=2)[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--step", action="store_true", help="also time one training step and print the ratio")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    from ft_jupyter.cli import main as cli
    from ft_jupyter.config import preset
    from ft_jupyter.data.preflight import preflight
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.models.catalogue import resolve

    config = preset("cpu-quickstart").with_overrides({"model.name": args.model})
    t_prepare, data = _timed(lambda: prepare(config.data, seed=config.training.seed))
    tokenizer = AutoTokenizer.from_pretrained(resolve(args.model))
    preflight(data, tokenizer, config)  # first call imports TRL; time the steady state
    t_preflight, checked = _timed(lambda: preflight(data, tokenizer, config))
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        t_check, _ = _timed(lambda: cli(["data", "check", "support-emails-dirty"]))
    print(f"model {args.model}; train rows {len(data.train)}; load average {os.getloadavg()[0]:.1f}")
    print(f"prepare (734 rows: load, validate, clean report, split)  {t_prepare:7.3f} s")
    print(f"preflight (template checks + train token lengths)        {t_preflight:7.3f} s")
    print(f"data check support-emails-dirty                           {t_check:7.3f} s", flush=True)
    if not args.step:
        return
    t_step = _one_step(args.model, data, tokenizer, checked.template or tokenizer.chat_template)
    print(f"one LoRA forward+backward, batch 8                        {t_step:7.3f} s")
    print(f"ratio (prepare + preflight) / one training step            {(t_prepare + t_preflight) / t_step:7.2f}")


if __name__ == "__main__":
    main()
