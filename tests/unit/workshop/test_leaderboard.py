"""The class leaderboard over run folders written the way training and compare() write them: order, ties, groups that
never mix rows or metrics, what each run changed, and the runs it leaves out with the reason."""

from __future__ import annotations

import json

import pytest

from ft_jupyter.cli import main
from ft_jupyter.config import ConfigError, DataConfig, RunConfig, TrainingConfig
from ft_jupyter.train.events import Evaluation, Finished, RunStarted
from ft_jupyter.train.store import RunStore
from ft_jupyter.workshop.leaderboard import leaderboard


def _run(
    root,
    name,
    *,
    accuracy=None,
    eval_loss=None,
    fingerprint="aaaa11112222",
    seed=42,
    lr=2e-4,
    owner="ada",
    state="finished",
    dataset="support-emails",
    elapsed=60.0,
    task="classification",
):
    config = RunConfig(
        name=name, data=DataConfig(dataset=dataset), training=TrainingConfig(learning_rate=lr, seed=seed)
    )
    run = RunStore(root).create(config)
    run.set_status(state, state, owner=owner)
    run.append_event(
        RunStarted(
            run_id=run.run_id,
            config=config.to_dict(),
            device="cpu",
            precision="fp32",
            precision_reason="",
            params_total=10,
            params_trainable=1,
            train_rows=80,
            eval_rows=10,
            max_steps=12,
            split_fingerprints={"validation": "v" + fingerprint, "test": fingerprint},
        ).to_json()
    )
    if eval_loss is not None:
        run.append_event(Evaluation(step=12, eval_loss=eval_loss).to_json())
    run.append_event(Finished(step=12, train_loss=1.0, elapsed_s=elapsed, artifact_path="adapter", cost=0.01).to_json())
    if accuracy is not None:
        metric = "accuracy" if task == "classification" else "rouge_l"
        (run.path / "evaluation").mkdir()
        (run.path / "evaluation" / "comparison.json").write_text(
            json.dumps(
                {
                    "metric": metric,
                    "task": task,
                    "n": 20,
                    "scores": {"finetuned": {metric: accuracy, "macro_f1": accuracy - 0.05}},
                    "data": {
                        "dataset": dataset,
                        "split_seed": seed,
                        "split": "test",
                        "fingerprint": fingerprint,
                        "rows": 20,
                    },
                }
            )
        )
    return run


def test_runs_rank_by_the_fine_tuned_score_and_equal_scores_share_a_rank(tmp_path):
    low = _run(tmp_path, "low", accuracy=0.55, lr=1e-5, owner="bob")
    top = _run(tmp_path, "top", accuracy=0.80, lr=1e-3, owner="cy")
    mid_slow = _run(tmp_path, "mid-slow", accuracy=0.70, elapsed=90.0)
    mid_fast = _run(tmp_path, "mid-fast", accuracy=0.70, elapsed=30.0)
    board = leaderboard(tmp_path)
    [group] = board.groups
    assert [e.run_id for e in group.entries] == [top.run_id, mid_fast.run_id, mid_slow.run_id, low.run_id]
    assert [e.rank for e in group.entries] == [1, 2, 2, 4]
    assert group.entries[0].owner == "cy" and group.entries[0].secondary["macro_f1"] == pytest.approx(0.75)
    assert group.metric == "accuracy" and group.fingerprint == "aaaa11112222" and group.split_seed == 42


def test_each_entry_names_what_it_changed_against_the_rest_of_the_class(tmp_path):
    for name in ("a", "b", "c"):
        _run(tmp_path, name, accuracy=0.6)
    bold = _run(tmp_path, "bold", accuracy=0.7, lr=1e-3)
    entries = {e.run_id: e for e in leaderboard(tmp_path).groups[0].entries}
    assert entries[bold.run_id].changed == {"training.learning_rate": 1e-3}
    assert all(e.changed == {} for run_id, e in entries.items() if run_id != bold.run_id)
    against = leaderboard(tmp_path, baseline=RunConfig(training=TrainingConfig(learning_rate=1e-3)))
    assert {e.run_id: e.changed for e in against.groups[0].entries}[bold.run_id] == {}


def test_runs_scored_on_different_rows_are_never_ranked_together(tmp_path):
    _run(tmp_path, "seed42", accuracy=0.9)
    other = _run(tmp_path, "seed7", accuracy=0.95, seed=7, fingerprint="bbbb33334444")
    board = leaderboard(tmp_path)
    assert len(board.groups) == 2
    assert {len(g.entries) for g in board.groups} == {1}
    seeds = {g.split_seed: [e.run_id for e in g.entries] for g in board.groups}
    assert seeds[7] == [other.run_id]
    assert "not ranked against each other" in board.table()
    assert "seed 7" in board.table() and "fingerprint bbbb33334444" in board.table()


def test_without_a_saved_evaluation_the_validation_loss_ranks_lower_first_in_a_group_of_its_own(tmp_path):
    worse = _run(tmp_path, "worse", eval_loss=1.9)
    better = _run(tmp_path, "better", eval_loss=1.2)
    _run(tmp_path, "scored", accuracy=0.5)
    board = leaderboard(tmp_path)
    by_metric = {g.metric: g for g in board.groups}
    assert set(by_metric) == {"accuracy", "eval_loss"}
    assert [e.run_id for e in by_metric["eval_loss"].entries] == [better.run_id, worse.run_id]
    assert by_metric["eval_loss"].split == "validation" and "lower is better" in by_metric["eval_loss"].title


def test_unfinished_and_unevaluated_runs_are_listed_with_the_reason(tmp_path):
    running = _run(tmp_path, "running", accuracy=0.9, state="stopped")
    bare = _run(tmp_path, "bare")
    reasons = dict(leaderboard(tmp_path).left_out)
    assert "not finished" in reasons[running.run_id]
    assert "compare()" in reasons[bare.run_id]


def test_task_keeps_the_runs_of_one_dataset(tmp_path):
    emails = _run(tmp_path, "emails", accuracy=0.6)
    _run(tmp_path, "tickets", accuracy=0.9, dataset="tickets.jsonl", fingerprint="cccc")
    board = leaderboard(tmp_path, task="support-emails")
    assert [e.run_id for g in board.groups for e in g.entries] == [emails.run_id]
    assert board.left_out == []


def test_the_cli_prints_the_table_and_json(tmp_path, capsys):
    top = _run(tmp_path, "top", accuracy=0.8)
    _run(tmp_path, "low", accuracy=0.4)
    assert main(["leaderboard", "--runs-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert text.index(top.run_id) < text.index("low") and "80.0%" in text
    assert main(["leaderboard", "--runs-dir", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["groups"][0]["entries"][0]["run_id"] == top.run_id
    assert main(["leaderboard", "--runs-dir", str(tmp_path / "nope")]) == 2
    assert "No runs folder" in capsys.readouterr().err


def test_a_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="runs root"):
        leaderboard(tmp_path / "absent")


def test_a_setting_every_run_chose_differently_shows_on_every_run(tmp_path):
    for name, lr in (("a", 1e-5), ("b", 1e-4), ("c", 1e-3)):
        _run(tmp_path, name, accuracy=0.5, lr=lr)
    entries = leaderboard(tmp_path).groups[0].entries
    assert sorted(e.changed["training.learning_rate"] for e in entries) == [1e-5, 1e-4, 1e-3]
    assert all(set(e.changed) == {"training.learning_rate"} for e in entries)
