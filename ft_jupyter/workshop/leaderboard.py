"""The class leaderboard: finished runs ranked by what their saved evaluation measured on held-out rows.

A ranking is only fair between runs scored on the same rows, so runs are grouped by the fingerprint of the rows that
were scored (which fixes the dataset, the cleaning and the split seed) and by the metric, and groups are never mixed.
A run with a saved comparison (`ft_jupyter.evaluate.compare`) is ranked by its fine-tuned accuracy (classification;
macro-F1 shown beside it) or ROUGE-L (generation); a run without one by its last validation loss, in a group of its
own kind. Each entry says what the run changed against the rest of its group (or a given baseline config), how
long it took, on what device and at what cost, so a class can talk about why the top run won.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.train.store import RunDir, RunStore

# Config fields that say where or what a run is called, not how it was trained.
NOT_SETTINGS = ("name", "runs_dir")
METRICS = {"accuracy": ("accuracy", True), "rouge_l": ("ROUGE-L", True), "eval_loss": ("validation loss", False)}


@dataclass
class Entry:
    run_id: str
    owner: str
    name: str
    score: float
    secondary: dict[str, float]  # e.g. macro_f1 next to accuracy
    settings: dict[str, Any]  # flattened config
    changed: dict[str, Any] = field(default_factory=dict)  # settings that differ from the group's baseline
    elapsed_s: float | None = None
    device: str = ""
    cost: float | None = None
    rank: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "run_id": self.run_id,
            "owner": self.owner,
            "name": self.name,
            "score": self.score,
            "secondary": self.secondary,
            "changed": self.changed,
            "elapsed_s": self.elapsed_s,
            "device": self.device,
            "cost": self.cost,
        }


@dataclass
class Group:
    """Runs scored on exactly the same rows with the same metric."""

    metric: str
    dataset: str
    split: str
    split_seed: int | None
    fingerprint: str
    rows: int | None
    entries: list[Entry]

    @property
    def title(self) -> str:
        label, higher = METRICS[self.metric]
        rows = f"{self.rows} rows" if self.rows is not None else "rows"
        return (
            f"{self.dataset}: {self.split} split ({rows}, seed {self.split_seed}, fingerprint {self.fingerprint})"
            f" · ranked by {label}, {'higher' if higher else 'lower'} is better"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "metric": self.metric,
            "higher_is_better": METRICS[self.metric][1],
            "dataset": self.dataset,
            "split": self.split,
            "split_seed": self.split_seed,
            "fingerprint": self.fingerprint,
            "rows": self.rows,
            "entries": [e.to_json() for e in self.entries],
        }


@dataclass
class Leaderboard:
    root: str
    groups: list[Group]
    left_out: list[tuple[str, str]]  # (run id, why it is not ranked)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "groups": [g.to_json() for g in self.groups],
            "left_out": [{"run_id": run_id, "reason": why} for run_id, why in self.left_out],
        }

    def table(self) -> str:
        if not self.groups:
            return f"No ranked runs under {self.root} yet." + self._left_out_text()
        blocks = []
        for group in self.groups:
            lines = [
                group.title,
                f"{'#':>3}  {'score':>8}  {'run':<34} {'owner':<10} {'time':>7}  {'cost':>7}  changed",
            ]
            for e in group.entries:
                score = f"{e.score:.1%}" if METRICS[group.metric][1] else f"{e.score:.4f}"
                lines.append(
                    f"{e.rank:>3}  {score:>8}  {e.run_id:<34} {e.owner:<10} {_duration(e.elapsed_s):>7}  "
                    f"{_cost(e.cost):>7}  {_changes(e.changed)}"
                )
            blocks.append("\n".join(lines))
        if len(self.groups) > 1:
            blocks.append(
                "Runs in different groups were scored on different rows or with different metrics, so they "
                "are not ranked against each other."
            )
        return "\n\n".join(blocks) + self._left_out_text()

    def _left_out_text(self) -> str:
        if not self.left_out:
            return ""
        return "\n\nNot ranked:\n" + "\n".join(f"  {run_id}: {why}" for run_id, why in self.left_out)

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.table())


def leaderboard(
    runs_dir: str | Path = "runs", *, task: str | None = None, baseline: RunConfig | None = None
) -> Leaderboard:
    """Rank the finished runs under `runs_dir` (a class's shared root); `task` keeps runs of that dataset (bundled
    name or file name); `baseline` is the config the changes are shown against (default: per setting, the value
    most runs of the group used)."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise ConfigError(f"No runs folder {root}; give the class's runs root (e.g. --runs-dir /srv/class/runs).")
    groups: dict[tuple, Group] = {}
    left_out: list[tuple[str, str]] = []
    for run in RunStore(root).list_runs():
        try:
            found = _scored(run, task)
        except (ConfigError, OSError, ValueError) as error:
            left_out.append((run.run_id, f"could not be read: {error}"))
            continue
        if isinstance(found, str):
            if found:
                left_out.append((run.run_id, found))
            continue
        key, meta, entry = found
        groups.setdefault(key, Group(entries=[], **meta)).entries.append(entry)
    ranked = sorted(groups.values(), key=lambda g: (-len(g.entries), g.dataset, g.metric))
    for group in ranked:
        _rank(group, baseline)
    return Leaderboard(str(root), ranked, left_out)


def _scored(run: RunDir, task: str | None):
    """(group key, group fields, entry) for a rankable run; else why it is left out ("" to skip silently)."""
    config = run.config()
    if task and task not in (config.data.dataset, Path(config.data.dataset).stem, config.name):
        return ""
    status = run.status()
    if status.get("state") != "finished":
        return f"{status.get('state', 'unknown')}, not finished"
    events, _ = run.read_intact_events()  # a line cut by a crash: rank what can be read
    started = next((e for e in events if e.get("type") == "run_started"), {})
    finished = next((e for e in reversed(events) if e.get("type") == "finished"), {})
    comparison = _comparison(run)
    seed = config.training.seed
    if comparison is not None:
        data = comparison.get("data") or {}
        if not data.get("fingerprint"):
            return "its comparison was saved before scored rows were fingerprinted; run compare() on it again"
        metric = comparison["metric"]
        scores = comparison["scores"]["finetuned"]
        secondary = {k: float(scores[k]) for k in ("macro_f1", "exact_match") if k in scores}
        score, split, rows, fp = float(scores[metric]), "test", data.get("rows"), data["fingerprint"]
        seed = data.get("split_seed", seed)
    elif config.method.method == "head":
        return (
            "a classification head's validation loss is over labels, not answer tokens, so it does not rank "
            "against language-model runs: run ft_jupyter.evaluate.compare() on it"
        )
    else:
        losses = [e["eval_loss"] for e in events if e.get("type") == "evaluation" and e.get("eval_loss") is not None]
        fp = (started.get("split_fingerprints") or {}).get("validation")
        if not losses or not fp:
            return "no saved evaluation and no validation loss: run ft_jupyter.evaluate.compare() on it"
        metric, score, split, rows, secondary = (
            "eval_loss",
            float(losses[-1]),
            "validation",
            started.get("eval_rows"),
            {},
        )
    meta = {
        "metric": metric,
        "dataset": config.data.dataset,
        "split": split,
        "split_seed": seed,
        "fingerprint": fp,
        "rows": rows,
    }
    entry = Entry(
        run.run_id,
        run.owner(status),
        config.name,
        score,
        secondary,
        _flat(config),
        elapsed_s=finished.get("elapsed_s"),
        device=started.get("device", ""),
        cost=finished.get("cost"),
    )
    return (metric, fp, seed), meta, entry


def _comparison(run: RunDir) -> dict[str, Any] | None:
    path = run.path / "evaluation" / "comparison.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _flat(config: RunConfig) -> dict[str, Any]:
    out = {}
    for section, values in config.to_dict().items():
        if section in NOT_SETTINGS:
            continue
        for key, value in values.items():
            out[f"{section}.{key}"] = tuple(value) if isinstance(value, list) else value
    return out


def _rank(group: Group, baseline: RunConfig | None) -> None:
    higher = METRICS[group.metric][1]
    group.entries.sort(key=lambda e: (-e.score if higher else e.score, e.elapsed_s or 0.0, e.run_id))
    previous, rank = None, 0
    for position, entry in enumerate(group.entries, start=1):
        rank = rank if entry.score == previous else position  # equal scores share a rank
        entry.rank, previous = rank, entry.score
    reference = _flat(baseline) if baseline is not None else _consensus(group.entries)
    for entry in group.entries:
        entry.changed = {
            key: value for key, value in entry.settings.items() if key not in reference or reference[key] != value
        }


def _consensus(entries: list[Entry]) -> dict[str, Any]:
    """Per setting, the value most runs of the group used (the lesson's default when each changed one thing). A
    setting with no such value (every run chose its own) is left out, so it shows as a change on every run."""
    if len(entries) < 2:
        return dict(entries[0].settings) if entries else {}
    keys = set().union(*(e.settings for e in entries))
    usual = {}
    for key in keys:
        values = [e.settings.get(key) for e in entries]
        counts = Counter(repr(v) for v in values).most_common(2)
        if counts[0][1] > 1 and (len(counts) == 1 or counts[0][1] > counts[1][1]):
            usual[key] = next(v for v in values if repr(v) == counts[0][0])
    return usual


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _cost(cost: float | None) -> str:
    return "-" if not cost else f"{cost:.3g}"


def _changes(changed: dict[str, Any]) -> str:
    return ", ".join(f"{k.split('.', 1)[1]}={v}" for k, v in sorted(changed.items())) or "(the group's usual settings)"
