"""The leaderboard over real runs: three tiny-random LoRA runs trained on the bundled emails with the same split and
different learning rates, each scored by compare(), and a fourth on another split seed, all in one runs root."""

from __future__ import annotations

import itertools
import json

import pytest

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig
from ft_jupyter.evaluate import compare
from ft_jupyter.train import run_training
from ft_jupyter.workshop.leaderboard import leaderboard


def _config(root, name: str, learning_rate: float, seed: int = 7) -> RunConfig:
    return RunConfig(
        name=name,
        runs_dir=str(root),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=160),
        training=TrainingConfig(
            max_steps=6,
            batch_size=8,
            learning_rate=learning_rate,
            max_seq_len=128,
            warmup_ratio=0.0,
            seed=seed,
            eval_steps=6,
        ),
    )


@pytest.fixture(scope="module")
def class_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("class") / "runs"
    runs = {}
    for name, lr, seed in (("lr-low", 1e-5, 7), ("lr-mid", 1e-3, 7), ("lr-high", 2e-2, 7), ("other-split", 1e-3, 8)):
        result = run_training(_config(root, name, lr, seed))
        compare(result, max_rows=12, shots=1, progress=False)
        runs[name] = result.run_dir
    return root, runs


def test_the_three_runs_on_one_split_are_ranked_by_their_saved_scores(class_root):
    root, runs = class_root
    board = leaderboard(root)
    same_split = next(g for g in board.groups if len(g.entries) == 3)
    ids = {runs[name].run_id for name in ("lr-low", "lr-mid", "lr-high")}
    assert {e.run_id for e in same_split.entries} == ids
    saved = {run_id: json.loads((root / run_id / "evaluation" / "comparison.json").read_text()) for run_id in ids}
    scores = [saved[e.run_id]["scores"]["finetuned"][same_split.metric] for e in same_split.entries]
    assert [e.score for e in same_split.entries] == scores
    assert scores == sorted(scores, reverse=True)
    for earlier, later in itertools.pairwise(same_split.entries):
        assert earlier.rank <= later.rank and (earlier.rank == later.rank) == (earlier.score == later.score)
    assert all(set(e.changed) <= {"training.learning_rate"} for e in same_split.entries)
    assert all(
        e.changed == {"training.learning_rate": e.settings["training.learning_rate"]} for e in same_split.entries
    )
    assert all(e.device == "cpu" and e.elapsed_s and e.elapsed_s > 0 for e in same_split.entries)


def test_a_run_on_another_split_seed_is_never_ranked_with_them(class_root):
    root, runs = class_root
    board = leaderboard(root)
    assert len(board.groups) == 2
    alone = next(g for g in board.groups if len(g.entries) == 1)
    assert [e.run_id for e in alone.entries] == [runs["other-split"].run_id]
    assert alone.split_seed == 8
    fingerprints = {g.fingerprint for g in board.groups}
    assert len(fingerprints) == 2
    assert "not ranked against each other" in board.table()
