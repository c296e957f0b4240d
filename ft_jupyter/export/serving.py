"""Serving helpers: several adapters on one loaded base, and batched throughput against one-at-a-time latency.

One base in memory serves every adapter trained on it: peft keeps each adapter's small matrices under its own name,
and a mixed batch routes each row through the adapter its request names (`adapter_names`), so a team with ten
fine-tunes of one model pays for one model's memory. Batching is what makes self-hosting cheap: one forward pass
serves a whole batch, so requests per second grow faster than latency does.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError

BASE = "__base__"  # peft's name for "no adapter" inside a mixed batch
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM accepts for --max-lora-rank


class AdapterServer:
    """Adapters of several runs on one base model, chosen per request.

    >>> server = AdapterServer.from_runs(["run-a", "run-b"])
    >>> server.generate([("run-a", messages), ("run-b", messages)])   # one batch, each row its own adapter
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        adapters: dict[str, Path],
        base_name: str,
        system_prompts: dict[str, str | None] | None = None,
    ):
        self.model, self.tokenizer, self.adapters, self.base_name = model, tokenizer, adapters, base_name
        # The system prompt each run trained with: its adapter expects to be asked the same way.
        self.system_prompts = system_prompts or {}

    def messages(self, adapter: str | None, user: str) -> list[dict[str, str]]:
        """A one-turn request as `adapter` was trained to see it (with its run's system prompt, if any)."""
        system = self.system_prompts.get(adapter) if adapter else None
        return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]

    @classmethod
    def from_runs(cls, runs: list[Any], *, runs_dir: str | Path = "runs") -> AdapterServer:
        import torch
        from peft import PeftModel

        from ft_jupyter.evaluate.runs import open_run
        from ft_jupyter.models.loading import hardware_precision, load_model, load_tokenizer

        if not runs:
            raise ConfigError("AdapterServer needs at least one run with a LoRA adapter.")
        dirs = [open_run(r, runs_dir)[0] for r in runs]
        bases = {(d.config().model.name, d.config().model.revision) for d in dirs}
        if len(bases) > 1:
            raise ConfigError(
                "Adapters can share one base only when they were trained on the same model: "
                + "; ".join(f"{d.run_id} → {d.config().model.name}" for d in dirs)
                + ". Serve each base separately."
            )
        adapters: dict[str, Path] = {}
        for d in dirs:
            artifact = d.artifact_path()
            if artifact is None or artifact.name != "adapter":
                raise ConfigError(
                    f"Run {d.run_id} has no LoRA adapter (method {d.config().method.method}); only "
                    "adapter runs can share a base. Serve a full fine-tune as its own model."
                )
            adapters[d.run_id] = artifact
        config = dirs[0].config()
        cuda = torch.cuda.is_available()
        base = load_model(config.model, hardware_precision())  # the adapters' base, computing as this machine can
        names = list(adapters)
        model = PeftModel.from_pretrained(base, str(adapters[names[0]]), adapter_name=names[0])
        for name in names[1:]:
            model.load_adapter(str(adapters[name]), adapter_name=name)
        tokenizer = load_tokenizer(config.model, adapters[names[0]])
        return cls(
            model.to("cuda" if cuda else "cpu").eval(),
            tokenizer,
            adapters,
            config.model.name,
            {d.run_id: d.config().data.system_prompt for d in dirs},
        )

    def generate(
        self, requests: list[tuple[str | None, list[dict[str, str]]]], *, max_new_tokens: int = 32
    ) -> list[str]:
        """Greedy answers for (adapter name or None for the base, messages) pairs, all in one batch."""
        import torch

        from ft_jupyter.evaluate.generation import padding_on

        for name, _ in requests:
            if name is not None and name not in self.adapters:
                raise ConfigError(
                    f"no adapter {name!r} is loaded; loaded: {', '.join(self.adapters)} (or None for the base model)."
                )
        texts = [self.tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for _, m in requests]
        with padding_on(self.tokenizer, "left"):
            enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(self.model.device)
        with torch.inference_mode():
            out = self.model.generate(
                **enc,
                adapter_names=[n or BASE for n, _ in requests],
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
            )
        return [
            t.strip()
            for t in self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        ]


@dataclass
class ThroughputRow:
    batch_size: int
    requests: int
    requests_per_s: float
    tokens_per_s: float
    p50_s: float  # latency a request sees: the whole batch's time
    p95_s: float
    cost_per_1k: float | None  # at the price per hour, with the machine busy serving batches of this size

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def batch_throughput(
    model: Any,
    tokenizer: Any,
    prompts: list[list[dict[str, str]]],
    *,
    batch_sizes: tuple[int, ...] = (1, 4, 16),
    requests: int = 16,
    max_new_tokens: int = 32,
    price_per_hour: float = 0.0,
    progress: bool | None = None,
) -> list[ThroughputRow]:
    """Serve `requests` greedy requests at each batch size (after one untimed warm-up batch) and measure."""
    import torch

    from ft_jupyter.evaluate.generation import padding_on
    from ft_jupyter.evaluate.latency import cost_per_1k_requests, percentile
    from ft_jupyter.progress import progress_bar

    if not prompts:
        raise ConfigError("batch_throughput needs at least one prompt.")
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    rows = []
    total = sum(-(-requests // b) + 1 for b in batch_sizes)
    with (
        padding_on(tokenizer, "left"),
        progress_bar(total, "Batched throughput", unit="batches", progress=progress) as bar,
    ):
        for size in batch_sizes:
            latencies, generated, busy = [], 0, 0.0
            for i, start in enumerate([0, *range(0, requests, size)]):
                batch = [texts[(start + k) % len(texts)] for k in range(min(size, requests - start))]
                enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)
                enc = enc.to(model.device)
                began = time.perf_counter()
                with torch.inference_mode():
                    out = model.generate(
                        **enc,
                        max_new_tokens=max_new_tokens,
                        do_sample=False,
                        pad_token_id=tokenizer.pad_token_id,
                        eos_token_id=tokenizer.eos_token_id,
                    )
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                took = time.perf_counter() - began
                bar.update()
                if i == 0:
                    continue  # warm-up
                busy += took
                latencies += [took] * len(batch)
                new = out[:, enc["input_ids"].shape[1] :]
                generated += int((new != tokenizer.pad_token_id).sum())
            per_request = busy / len(latencies)
            rows.append(
                ThroughputRow(
                    size,
                    len(latencies),
                    len(latencies) / busy,
                    generated / busy,
                    percentile(latencies, 50),
                    percentile(latencies, 95),
                    cost_per_1k_requests(per_request, price_per_hour) if price_per_hour else None,
                )
            )
    return rows


def throughput_table(rows: list[ThroughputRow]) -> str:
    lines = [f"  {'batch':>5}{'requests/s':>12}{'tokens/s':>10}{'p50':>9}{'p95':>9}{'$ / 1k req':>12}"]
    for r in rows:
        cost = f"{r.cost_per_1k:.4f}" if r.cost_per_1k is not None else "-"
        lines.append(
            f"  {r.batch_size:>5}{r.requests_per_s:>12.2f}{r.tokens_per_s:>10.1f}{r.p50_s * 1000:>7.0f}ms"
            f"{r.p95_s * 1000:>7.0f}ms{cost:>12}"
        )
    return "\n".join(lines)


def serving_commands(run_dir: Any, merged: Path | None = None, modelfile: Path | None = None) -> dict[str, str]:
    """Command lines to serve this run elsewhere: vLLM with the adapter or the merged folder, and Ollama."""
    import shlex

    from ft_jupyter.models.catalogue import resolve

    config = run_dir.config()
    artifact = run_dir.artifact_path()
    out: dict[str, str] = {}
    if artifact is not None and artifact.name == "adapter":
        base = resolve(config.model.name, revision=config.model.revision)  # a catalogue name means nothing to vLLM
        rank = next((v for v in VLLM_LORA_RANKS if v >= config.method.r), config.method.r)
        out["vllm (adapter on the base)"] = (
            f"vllm serve {shlex.quote(base)} --enable-lora --lora-modules "
            f"{shlex.quote(run_dir.run_id + '=' + str(artifact))} --max-lora-rank {rank}"
        )
    if merged is not None:
        out["vllm (merged)"] = f"vllm serve {shlex.quote(str(merged))}"
    if modelfile is not None:
        from ft_jupyter.export.ollama import ollama_name

        name = ollama_name(run_dir.run_id)
        out["ollama"] = (
            f"cd {shlex.quote(str(modelfile.parent))} && ollama create {shlex.quote(name)} -f Modelfile "
            f"&& ollama run {shlex.quote(name)}"
        )
    return out
