"""Run the lesson notebooks under nbval, on the tiny model so they finish in seconds."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

pytestmark = pytest.mark.integration


LESSONS = sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_every_numbered_lesson_is_run_here():
    assert LESSONS[:10] == [
        "00_quickstart.ipynb",
        "01_should_you_fine_tune.ipynb",
        "02_data_decides.ipynb",
        "03_inside_lora_and_qlora.ipynb",
        "04_training_dynamics.ipynb",
        "05_full_freeze_or_lora.ipynb",
        "06_forgetting.ipynb",
        "07_evaluate_and_budget.ipynb",
        "08_ship_it.ipynb",
        "09_scale_out.ipynb",
    ]
    assert [name[:2] for name in LESSONS] == [f"{n:02d}" for n in range(len(LESSONS))]  # one sequence, no gaps


@pytest.mark.parametrize("name", LESSONS)
def test_notebook_runs_under_nbval(name, tmp_path):
    env = {**os.environ, "FT_JUPYTER_MODEL": "tiny-random", "HF_HUB_OFFLINE": "1"}
    # Run a copy so run folders land in a temp dir, not in the repo.
    copy = tmp_path / name
    copy.write_text((NOTEBOOKS / name).read_text(encoding="utf-8"), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider", str(copy)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name} has outputs"
