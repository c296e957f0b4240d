"""`make demo` / `ft-jupyter demo`: three accuracies on the same held-out rows, from a real (tiny) training run."""

import pytest

from ft_jupyter.demo import quickstart_config, run_demo

pytestmark = pytest.mark.integration


def test_demo_measures_zero_shot_prompted_and_fine_tuned(tmp_path):
    lines = []
    result = run_demo(quickstart_config("tiny-random", runs_dir=str(tmp_path)), say=lines.append)
    # A random 1M-parameter model almost never writes a label, prompted or not (measured: 0 % both); fine-tuned it
    # reaches ~50 %, so the margins below are wide.
    assert result.baseline_accuracy <= 0.05 and result.prompted_accuracy <= 0.05
    assert result.finetuned_accuracy >= result.baseline_accuracy + 0.2
    assert result.last_loss < 0.5 * result.first_loss
    assert result.shots == 5 and result.test_rows == 110
    table = result.table().splitlines()
    assert len(table) == 4 and "zero-shot" in table[1] and "5 examples" in table[2] and "fine-tuned" in table[3]
    assert (result.adapter_path / "adapter_model.safetensors").is_file()
    assert any("with a prompt and 5 worked examples" in line for line in lines)
