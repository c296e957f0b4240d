"""A cost checklist for a run, in three parts (preparing, training, afterwards). The kit answers each item from what
the run recorded: its config, data, events, estimate and the evaluation results saved beside it. Where only a person
can judge (retrieval, live monitoring), the item says so instead of guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_jupyter.config import RunConfig
from ft_jupyter.evaluate.runs import load_result, open_run
from ft_jupyter.train.store import SAVED_END_STATES, RunDir, RunStore

MET, UNMET, UNKNOWN, ASK = "met", "unmet", "unknown", "ask yourself"
PERMISSIVE = {"apache-2.0", "mit", "bsd-3-clause"}
DUPLICATE_STEPS = ("exact-duplicates", "near-duplicates")
IGNORED_IN_DIFF = {"name", "runs_dir"}


@dataclass(frozen=True)
class Item:
    phase: str  # before | during | after
    question: str
    status: str  # met | unmet | unknown | ask yourself
    evidence: str  # what the kit found
    todo: str = ""  # what to do when not met

    def to_json(self) -> dict[str, str]:
        return dict(vars(self))


@dataclass(frozen=True)
class Checklist:
    run_id: str
    items: tuple[Item, ...]

    @property
    def unmet(self) -> list[Item]:
        return [i for i in self.items if i.status == UNMET]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "items": [i.to_json() for i in self.items],
            "unmet": [i.question for i in self.unmet],
        }

    def __str__(self) -> str:
        marks = {MET: "✓", UNMET: "✗", UNKNOWN: "?", ASK: "·"}
        headings = {"before": "Before the run", "during": "During the run", "after": "After the run"}
        lines = [f"Budget checklist for run {self.run_id}"]
        for phase in ("before", "during", "after"):
            lines.append(headings[phase])
            for item in (i for i in self.items if i.phase == phase):
                lines.append(f"  {marks[item.status]} {item.question}  {item.evidence}")
                if item.todo and item.status != MET:
                    lines.append(f"      → {item.todo}")
        lines.append(f"{len(self.unmet)} unmet.")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the text, not the fields
        printer.text(str(self))


def _with_prompted_rung(comparison: dict[str, Any] | None) -> dict[str, Any] | None:
    """The saved comparison when it scored the prompted base model (a fine-tuned-only one answers nothing here)."""
    return comparison if comparison and "prompted" in comparison.get("scores", {}) else None


def _quantized_item(run: RunDir) -> Item:
    """Met when a smaller copy scored within two test rows of the merged model (export/quantized.json)."""
    question = "Does a quantized (lower-precision, smaller) copy still give good enough answers?"
    path = run.export_path / "quantized.json"
    report = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    rows = (report or {}).get("rows", [])
    if not rows or rows[0]["copy"] != "merged" or len(rows) < 2:
        todo = f"ft-jupyter export {run.run_id} --quantized merged,8bit,4bit scores smaller copies on the test rows"
        return Item("after", question, UNKNOWN, "no quantized copy scored against the merged model", todo)
    merged, n = rows[0]["score"], report["n"]
    detail = ", ".join(f"{r['copy']} {100 * (r['score'] - merged):+.1f} points" for r in rows[1:])
    kept = [r for r in rows[1:] if r["score"] >= merged - 2 / n]
    return Item(
        "after",
        question,
        MET if kept else UNMET,
        f"vs merged on {n} rows: {detail}",
        "Keep the 16-bit model, or score the copies on more rows before deciding (2 rows of the test split "
        "is the margin used here).",
    )


def _before(run: RunDir, config: RunConfig, facts: dict[str, Any]) -> list[Item]:
    comp = facts["comparison"]
    prompted = (
        f"base model with a prompt: {100 * comp['scores']['prompted'][comp['metric']]:.1f} % {comp['metric']}"
        if comp
        else "no comparison with the prompted base model saved for this run"
    )
    todo_compare = f"ft-jupyter compare {run.run_id} (or ft_jupyter.evaluate.compare(run))"
    license_id = facts["license"]
    items = [
        Item(
            "before",
            "Did you first see how far a well-written prompt gets you, with no training at all?",
            MET if comp else UNMET,
            prompted,
            todo_compare,
        ),
        Item(
            "before",
            "If the model is missing information rather than a skill, did you look at retrieval (RAG) first?",
            ASK,
            "the kit cannot tell what your model lacks",
            "When answers depend on facts that change over time or sit in your own documents, looking them up at "
            "answer time costs less than training them in.",
        ),
        Item(
            "before",
            "Have you measured how well the base model does when given your best prompt?",
            MET if comp else UNMET,
            prompted,
            todo_compare,
        ),
        Item(
            "before",
            "Are you allowed, under its license, to use the base model the way you intend?",
            MET if license_id in PERMISSIVE else (ASK if license_id else UNKNOWN),
            f"license: {license_id or 'not in the built-in table'}",
            "Check what it says about using it in a paid product, what uses it forbids, and models made from it.",
        ),
        Item(
            "before",
            "Have you ruled out a smaller base model that might do the job just as well?",
            ASK,
            f"{facts['params'] / 1e6:,.1f} M parameters" if facts["params"] else "size unknown",
            "A model with fewer parameters that reaches the same score after fine-tuning costs less to train and to "
            "run.",
        ),
    ]
    dupes, other = facts["duplicates"], facts["findings"]
    clean = dupes == 0 and not other
    evidence = (f"{dupes} duplicate rows left" if dupes is not None else "cleaning report unavailable") + (
        f"; other findings: {', '.join(other)}" if other else ""
    )
    items.append(
        Item(
            "before",
            "Has the training data been cleaned, with repeated rows removed?",
            MET if clean else (UNKNOWN if dupes is None else UNMET),
            evidence,
            f"Add {', '.join(DUPLICATE_STEPS)} (and the other findings) to data.drop, or fix the file.",
        )
    )
    sizes = facts["sizes"]
    split_ok = bool(sizes.get("validation")) and bool(sizes.get("test"))
    items.append(
        Item(
            "before",
            "Are some rows set aside for validation and others for testing, none of them used in training?",
            MET if split_ok else UNMET,
            f"train {sizes.get('train', 0)}, validation {sizes.get('validation', 0)}, test {sizes.get('test', 0)} rows",
            "Set data.validation_fraction 0.1 and data.test_fraction 0.15.",
        )
    )
    return items


def _during(run: RunDir, config: RunConfig, facts: dict[str, Any]) -> list[Item]:
    t, method = config.training, config.method
    longest = facts["longest_row"]
    capped = None if longest is None else t.max_seq_len <= max(256, 2 * longest)
    hours, cost = facts["device_hours"], facts["cost"]
    checkpoints_ok = (not t.save_steps and not t.load_best_at_end) or t.save_total_limit <= 2
    artifact = run.artifact_path()
    previous = facts["previous_diff"]
    return [
        Item(
            "during",
            "Does the run train a LoRA/QLoRA adapter rather than changing every weight of the model?",
            MET if method.uses_lora else UNMET,
            f"method: {method.method}",
            "Set method.method: lora (or qlora).",
        ),
        Item(
            "during",
            "Is max_seq_len close to what your longest examples need, rather than far above it?",
            UNKNOWN if capped is None else (MET if capped else UNMET),
            f"max_seq_len {t.max_seq_len}" + (f", longest training row {longest} tokens" if longest else ""),
            f"Set training.max_seq_len near {longest or 'the longest row'} (rounded up to a multiple of 32).",
        ),
        Item(
            "during",
            "Do you record how many device-hours each run takes?",
            MET if hours is not None else UNMET,
            (f"{hours:.4f} device-hours" + (f", ${cost:.2f}" if cost else " (set training.price_per_hour for $)"))
            if hours is not None
            else "the run has not finished",
            "Let the run finish or stop it to record them.",
        ),
        Item(
            "during",
            "Does the run keep at most one or two checkpoints rather than piling them up?",
            MET if checkpoints_ok else UNMET,
            f"save_steps {t.save_steps}, save_total_limit {t.save_total_limit}",
            "Set training.save_total_limit: 1-2.",
        ),
        Item(
            "during",
            "Is the trained result saved as a small adapter rather than a whole new model?",
            MET if artifact is not None and artifact.name == "adapter" else UNMET,
            f"saved {artifact.name}/" if artifact else "nothing saved yet",
            "Runs with LoRA or QLoRA write just the adapter.",
        ),
        Item(
            "during",
            "Does each new run differ from the one before it in only one setting?",
            UNKNOWN if previous is None else (MET if len(previous) <= 1 else UNMET),
            "no earlier run to compare with"
            if previous is None
            else f"vs the previous run: {', '.join(previous) or 'no change'}",
            "Alter a single setting per run, so any gain or loss can be traced to it.",
        ),
    ]


def _after(run: RunDir, config: RunConfig, facts: dict[str, Any]) -> list[Item]:
    comp, latency = facts["comparison"], facts["latency"]
    beat = comp["finetuned_beats_prompted"] if comp else None
    items = [
        Item(
            "after",
            "Did training lift the score above what the base model reaches with your best prompt?",
            UNKNOWN if beat is None else (MET if beat else UNMET),
            comp["verdict"] if comp else "not compared yet",
            "Spend effort on cleaner data and a better prompt; scaling up the model comes later, if at all."
            if comp
            else f"ft-jupyter compare {run.run_id}",
        ),
        _retrieval_item(run, comp),
    ]
    if latency:
        base, tuned = latency["base"], latency["finetuned"]
        slower = tuned["p50_s"] > 1.1 * base["p50_s"]
        items.append(
            Item(
                "after",
                "Is the fine-tuned model about as fast, and as cheap to run, as the base model?",
                UNMET if slower else MET,
                f"p50 {1000 * base['p50_s']:.0f} ms → {1000 * tuned['p50_s']:.0f} ms",
                "Fold the adapter into the base weights before serving, or use a quantized copy.",
            )
        )
    else:
        items.append(
            Item(
                "after",
                "Is the fine-tuned model about as fast, and as cheap to run, as the base model?",
                UNKNOWN,
                "latency not measured",
                f"ft-jupyter latency {run.run_id}",
            )
        )
    items.append(_quantized_item(run))
    per_1k = latency["finetuned"].get("cost_per_1k") if latency else None
    items.append(
        Item(
            "after",
            "Have you measured what it costs to answer 1,000 requests?",
            MET if per_1k else UNMET,
            f"${per_1k:.4f} for 1,000 requests" if per_1k else "not measured with a price",
            f"ft-jupyter latency {run.run_id} --price-per-hour <your hourly rate>",
        )
    )
    items.append(
        Item(
            "after",
            "After launch, will you keep watching its quality, and can you quickly go back to the old model?",
            ASK,
            "outside the kit",
            "Keep the old adapter at hand and start logging live quality before you move users over.",
        )
    )
    return items


def _retrieval_item(run: RunDir, comp: dict[str, Any] | None) -> Item:
    question = "Where retrieval (RAG) could also work, does the fine-tuned model do better than it?"
    scores = (comp or {}).get("scores", {})
    if "retrieved" not in scores:
        return Item(
            "after",
            question,
            UNKNOWN,
            "no retrieval rung scored yet",
            f"ft-jupyter compare {run.run_id} scores the base model with the most similar training rows as "
            "its examples, next to the fine-tune.",
        )
    metric = comp["metric"]
    retrieved, tuned = scores["retrieved"][metric], scores["finetuned"][metric]
    return Item(
        "after",
        question,
        MET if tuned > retrieved else UNMET,
        f"{metric}: retrieved examples {100 * retrieved:.1f} %, fine-tuned {100 * tuned:.1f} %",
        "Retrieval already does as well: serve the base model with retrieved examples, or improve the "
        "training data before training again.",
    )


def _previous_diff(run: RunDir, config: RunConfig) -> list[str] | None:
    """Fields that differ from the run just before this one in the same runs folder, or None without one."""
    earlier = [r for r in RunStore(run.path.parent).list_runs() if r.run_id < run.run_id]
    if not earlier:
        return None
    before, now = earlier[0].config().to_dict(), config.to_dict()
    diff = [
        key
        for key in now
        if key not in IGNORED_IN_DIFF and not isinstance(now[key], dict) and now[key] != before.get(key)
    ]
    diff += [
        f"{s}.{k}"
        for s, section in now.items()
        if isinstance(section, dict)
        for k, v in section.items()
        if before.get(s, {}).get(k) != v
    ]
    return diff


def _facts(run: RunDir, config: RunConfig) -> dict[str, Any]:
    from ft_jupyter.config import ConfigError
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.models.architecture import architecture
    from ft_jupyter.models.estimate import row_tokens

    facts: dict[str, Any] = {
        "comparison": _with_prompted_rung(load_result(run, "comparison")),
        "latency": load_result(run, "latency"),
        "previous_diff": _previous_diff(run, config),
    }
    try:
        arch = architecture(config.model.name, config.model.trust_remote_code)
        facts.update(license=arch.license, params=arch.params_total)
    except ConfigError:  # a model whose shape is not available here: those two items stay unknown
        facts.update(license=None, params=None)
    rows = row_tokens(config)
    facts["longest_row"] = rows.longest_row if rows else None
    data = prepare(config.data, seed=config.training.seed)
    facts["sizes"] = data.sizes()
    report = data.report
    facts["duplicates"] = (
        None
        if report is None
        else sum(
            report.findings[s].count for s in DUPLICATE_STEPS if s in report.findings and s not in config.data.drop
        )
    )
    facts["findings"] = (
        []
        if report is None
        else [
            f.step
            for f in report.findings.values()
            if f.count and f.step not in DUPLICATE_STEPS and f.step not in config.data.drop
        ]
    )
    ends = [e for e in run.read_events()[0] if e.get("type") in SAVED_END_STATES]
    facts["device_hours"] = float(ends[-1].get("device_hours") or 0.0) if ends else None
    facts["cost"] = float(ends[-1].get("cost") or 0.0) if ends else None
    return facts


def budget_checklist(run: Any, *, runs_dir: str | Path = "runs") -> Checklist:
    """Answer every checklist item for one run (a RunResult, RunDir, run folder or run id under runs_dir)."""
    run_dir, _ = open_run(run, runs_dir)
    config = run_dir.config()
    facts = _facts(run_dir, config)
    items = _before(run_dir, config, facts) + _during(run_dir, config, facts) + _after(run_dir, config, facts)
    return Checklist(run_dir.run_id, tuple(items))
