"""The comparison ladder on the same held-out test rows: the base model zero-shot, the base model prompted (system
prompt + k fixed examples from the training split), the base model with the k most similar training rows as its
examples (retrieval, BM25), and the fine-tuned model. One table with each rung's prompt tokens per request, the
examples that changed, the best and the worst, and a verdict: fine-tuning that does not beat the better prompted
baseline calls for data and prompt work, not a bigger model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError
from ft_jupyter.evaluate.runs import load_models, open_run, save_result

VARIANTS = {
    "base": "base, zero-shot",
    "prompted": "base + prompt",
    "retrieved": "base + retrieved examples",
    "finetuned": "fine-tuned",
}
PROMPTED = ("prompted", "retrieved")  # the cheap fixes fine-tuning has to beat
SHOWN = 3  # best and worst examples listed
MAX_NEW_TOKENS = 256


@dataclass
class Comparison:
    run_id: str
    task: str  # "classification" or "generation"
    metric: str  # the headline metric: accuracy or rouge_l
    n: int
    shots: int
    system_prompt: str
    scores: dict[str, dict[str, Any]]  # variant → metrics
    rows: list[dict[str, Any]] = field(repr=False)  # per test example: prompt, reference, answers, scores
    verdict: str = ""
    finetuned_beats_prompted: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # which rows were scored: dataset, split seed, fingerprint
    prompt_tokens: dict[str, float] = field(default_factory=dict)  # variant → mean prompt tokens per request

    @property
    def variants(self) -> list[str]:
        return [key for key in VARIANTS if key in self.scores]

    @property
    def best_prompted(self) -> str | None:
        """The stronger of the prompted baselines (the fixed few-shot prompt on a tie); None if neither was scored."""
        scored = [v for v in PROMPTED if v in self.scores]
        return max(scored, key=lambda v: (self.headline(v), v == "prompted")) if scored else None

    def headline(self, variant: str) -> float:
        return float(self.scores[variant][self.metric])

    @property
    def changed(self) -> list[dict[str, Any]]:
        """Examples whose score moved between the prompted baseline and the fine-tuned model, biggest move first."""
        ref = self.reference
        moved = [r for r in self.rows if abs(r["score"]["finetuned"] - r["score"][ref]) >= 0.5]
        return sorted(moved, key=lambda r: -abs(r["score"]["finetuned"] - r["score"][ref]))

    @property
    def reference(self) -> str:
        """The rung the examples are compared with: the fixed prompt, else what was scored besides fine-tuned."""
        return "prompted" if "prompted" in self.scores else (self.best_prompted or "finetuned")

    @property
    def best(self) -> list[dict[str, Any]]:
        ref = self.reference
        return sorted(
            self.rows, key=lambda r: (-(r["score"]["finetuned"] - r["score"][ref]), -r["score"]["finetuned"])
        )[:SHOWN]

    @property
    def worst(self) -> list[dict[str, Any]]:
        ref = self.reference
        return sorted(self.rows, key=lambda r: (r["score"]["finetuned"], r["score"]["finetuned"] - r["score"][ref]))[
            :SHOWN
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "task": self.task,
            "metric": self.metric,
            "n": self.n,
            "shots": self.shots,
            "system_prompt": self.system_prompt,
            "scores": self.scores,
            "verdict": self.verdict,
            "finetuned_beats_prompted": self.finetuned_beats_prompted,
            "rows": self.rows,
            "changed": self.changed,
            "best": self.best,
            "worst": self.worst,
            "data": self.data,
            "prompt_tokens": self.prompt_tokens,
            "best_prompted": self.best_prompted,
        }

    def table(self) -> str:
        extra = ["macro_f1", "invalid_rate"] if self.task == "classification" else ["exact_match", "token_f1"]
        cols = [self.metric, *extra]
        lines = [
            f"Comparison, run {self.run_id}: {self.n} held-out test rows ({self.task})",
            f"  {'variant':<34}" + "".join(f"{c:>14}" for c in cols) + f"{'prompt tokens':>15}",
        ]
        for key in self.variants:
            name = f"{VARIANTS[key]} ({self.shots}-shot)" if key in PROMPTED else VARIANTS[key]
            tokens = self.prompt_tokens.get(key)
            lines.append(
                f"  {name:<34}"
                + "".join(f"{_pct(self.scores[key][c]):>14}" for c in cols)
                + (f"{tokens:>15.0f}" if tokens is not None else "")
            )
        changed, ref = self.changed, self.reference
        up = sum(r["score"]["finetuned"] > r["score"][ref] for r in changed)
        lines += [
            "",
            f"Verdict: {self.verdict}",
            f"Changed vs {VARIANTS[ref]}: {up} better, {len(changed) - up} worse.",
        ]
        for title, rows in (("Best", self.best), ("Worst", self.worst)):
            lines.append(f"{title}:")
            lines += [
                f"  - {_clip(r['input'])!r}: expected {_clip(r['reference'])!r}, {VARIANTS[ref]} "
                f"{_clip(r['answers'][ref])!r}, fine-tuned {_clip(r['answers']['finetuned'])!r}"
                for r in rows
            ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the table, not the fields
        printer.text(str(self))


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def verdict(task_metric: str, prompted: float, finetuned: float, baseline: str = "base + prompt") -> tuple[str, bool]:
    """Whether fine-tuning beat the better prompted baseline (`baseline` names it), and what to do next."""
    if finetuned <= prompted:
        return (
            f"fine-tuned ({_pct(finetuned)}) does not beat the best prompted base model ({baseline}, "
            f"{_pct(prompted)}) on {task_metric}. Do not spend on a bigger model or a longer run yet: look at the "
            "worst examples, fix labels and duplicates, add examples of what fails, and improve the prompt "
            "first.",
            False,
        )
    return (
        f"fine-tuning beats the best prompted base model ({baseline}) by {100 * (finetuned - prompted):+.1f} "
        f"points of {task_metric} ({_pct(prompted)} → {_pct(finetuned)}). Next: measure latency and cost per "
        "request before serving it.",
        True,
    )


def prompt_tokens(tokenizer, prompts: list[list[dict[str, str]]]) -> float:
    """Mean tokens per request of these chat prompts as the model reads them (chat template, generation prompt)."""
    if not prompts:
        return 0.0
    counts = [
        len(tokenizer.apply_chat_template(p, tokenize=True, add_generation_prompt=True, return_dict=True)["input_ids"])
        for p in prompts
    ]
    return sum(counts) / len(counts)


def _score(task: str, data, answers: list[str], references: list[str]):
    from ft_jupyter.evaluate.metrics import classification_metrics, generation_metrics

    if task == "classification":
        metrics = classification_metrics(answers, references, data.labels)
        return metrics.to_json(), [float(c) for c in metrics.correct]
    metrics = generation_metrics(answers, references)
    return metrics.to_json(), [row["rouge_l"] for row in metrics.per_example]


def _budget(tokenizer, data, references: list[str]) -> int:
    from ft_jupyter.evaluate.classification import label_token_budget

    if data.labels:
        return label_token_budget(tokenizer, data.labels)
    longest = max(len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in references)
    return min(MAX_NEW_TOKENS, longest + 8)


def _wanted_rungs(rungs: tuple[str, ...] | None, retrieval: bool) -> set[str]:
    wanted = set(rungs or VARIANTS) | {"finetuned"}
    if not retrieval:
        wanted.discard("retrieved")
    if unknown := wanted - set(VARIANTS):
        raise ConfigError(f"rungs={sorted(unknown)} are not comparison rungs; choose from {', '.join(VARIANTS)}.")
    return wanted


def compare(
    run: Any,
    *,
    runs_dir: str | Path = "runs",
    max_rows: int | None = None,
    shots: int | None = None,
    system_prompt: str | None = None,
    batch_size: int = 8,
    save: bool = True,
    retrieval: bool = True,
    rungs: tuple[str, ...] | None = None,
    progress: bool | None = None,
) -> Comparison:
    """Compare base zero-shot, base prompted (fixed examples), base with retrieved examples and fine-tuned on the
    run's test split; printable as a table.

    run: a RunResult (its model in memory is used), a RunDir, a run folder or a run id under `runs_dir`.
    shots: few-shot examples from the training split (default: one per label for classification, else 3); the
    retrieval rung uses as many, chosen per question by BM25 (retrieval=False leaves it out).
    rungs: only these of VARIANTS (e.g. ("finetuned",) to score a run alone); "finetuned" is always included.
    A classification-head run (method "head") is scored by its predicted labels; the other rungs use its base model.
    progress: one bar per variant with its ETA (default: on unless FT_JUPYTER_PROGRESS=0).
    """
    from ft_jupyter.data.prepare import fingerprint, prepare
    from ft_jupyter.evaluate.generation import generate_answers
    from ft_jupyter.evaluate.head import predict_labels
    from ft_jupyter.evaluate.prompting import default_system_prompt, few_shot_examples, prompted_messages
    from ft_jupyter.evaluate.retrieval import ShotRetriever
    from ft_jupyter.train.classifier import require_labels

    run_dir, result = open_run(run, runs_dir)
    config = run_dir.config()
    data = prepare(config.data, seed=config.training.seed)  # the same seeded split the run trained on
    test = data.test[:max_rows] if max_rows else data.test
    if not test:
        raise ConfigError(
            f"Run {run_dir.run_id} has no test rows (data.test_fraction = {config.data.test_fraction}); "
            "a comparison needs held-out rows the model never trained on."
        )
    task = "classification" if data.labels else "generation"
    k = shots if shots is not None else (len(data.labels) if data.labels else 3)
    examples = few_shot_examples(data.train, data.test, k, seed=config.training.seed, labels=data.labels)
    system = system_prompt or default_system_prompt(data.labels)
    references = [e.label if data.labels else e.answer for e in test]
    wanted = _wanted_rungs(rungs, retrieval)
    # A head run's fine-tuned model is a classifier; the other rungs still generate with the causal base model.
    head = config.method.method == "head"
    if head:
        require_labels(config, data.labels, data.format)  # the data file may have changed since training
    models = load_models(run_dir, result, generative=not head, base=wanted != {"finetuned"})
    budget = _budget(models.tokenizer, data, references)

    def answer(variant: str, model, prompts) -> list[str]:
        return generate_answers(
            model,
            models.tokenizer,
            prompts,
            max_new_tokens=budget,
            batch_size=batch_size,
            desc=f"Comparing: {VARIANTS[variant]}",
            progress=progress,
        )

    prompts = {"base": [e.prompt for e in test], "finetuned": [e.prompt for e in test]}
    if "prompted" in wanted:
        prompts["prompted"] = [prompted_messages(e, examples, system) for e in test]
    if "retrieved" in wanted:
        retriever = ShotRetriever(data.train, data.test, k)
        prompts["retrieved"] = [prompted_messages(e, retriever.shots(e), system) for e in test]
    prompts = {key: value for key, value in prompts.items() if key in wanted}
    answers: dict[str, list[str]] = {}
    if wanted != {"finetuned"}:
        with models.base() as base:
            for key in ("base", *PROMPTED):
                if key in prompts:
                    answers[key] = answer(key, base, prompts[key])
    if head:  # the label with the highest logit, scored like a generated label
        answers["finetuned"] = predict_labels(
            models.tuned,
            models.tokenizer,
            test,
            config.training.max_seq_len,
            batch_size=batch_size,
            desc=f"Comparing: {VARIANTS['finetuned']}",
            progress=progress,
        )
    else:
        answers["finetuned"] = answer("finetuned", models.tuned, prompts["finetuned"])
    variants = [key for key in VARIANTS if key in answers]
    scores, per_example = {}, {}
    for key in variants:
        scores[key], per_example[key] = _score(task, data, answers[key], references)
    rows = [
        {
            "input": e.prompt[-1]["content"],
            "reference": ref,
            "answers": {k2: answers[k2][i] for k2 in variants},
            "score": {k2: per_example[k2][i] for k2 in variants},
        }
        for i, (e, ref) in enumerate(zip(test, references, strict=True))
    ]
    metric = "accuracy" if task == "classification" else "rouge_l"
    baselines = [v for v in PROMPTED if v in scores]
    if baselines:
        strongest = max(baselines, key=lambda v: (scores[v][metric], v == "prompted"))
        text, beats = verdict(metric, scores[strongest][metric], scores["finetuned"][metric], VARIANTS[strongest])
    else:
        text, beats = "no prompted baseline was scored (rungs left it out)", False
    scored = {
        "dataset": config.data.dataset,
        "split_seed": config.training.seed,
        "split": "test",
        "fingerprint": fingerprint(test),
        "rows": len(test),
    }
    tokens = {key: prompt_tokens(models.tokenizer, prompts[key]) for key in variants}
    comparison = Comparison(
        run_dir.run_id, task, metric, len(test), len(examples), system, scores, rows, text, beats, scored, tokens
    )
    if save:
        save_result(run_dir, "comparison", comparison.to_json())
    return comparison
