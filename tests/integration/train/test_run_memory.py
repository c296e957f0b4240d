import itertools

from ft_jupyter.train.callbacks import reset_peak_memory
from ft_jupyter.train.run import run_training


def test_a_run_reports_the_memory_it_started_with_and_a_peak_that_only_grows(tiny, events_of):
    result = run_training(tiny(name="memory", **{"training.max_steps": 4}))
    steps = [e for e in events_of(result.run_dir) if e["type"] == "step"]
    assert result.start_memory_mb > 50  # torch and a loaded model are resident
    if not reset_peak_memory("cpu"):
        assert result.peak_memory_mb is None
        return
    peaks = [s["memory_mb"] for s in steps]
    assert all(b >= a for a, b in itertools.pairwise(peaks)), peaks
    assert result.peak_memory_mb == max(peaks) >= result.start_memory_mb
    # The closing evaluation on the validation split comes back with the result.
    assert [step for step, _ in result.eval_losses] == [result.steps]
