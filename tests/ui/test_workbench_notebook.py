"""The workbench notebook (configure, train, watch, compare, chat) runs top to bottom in a real kernel."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "workbench.ipynb"

pytestmark = pytest.mark.integration


def test_workbench_notebook_runs_under_nbval(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Few steps are enough to exercise every cell; the notebook itself trains as long as the quickstart does.
    notebook.cells.insert(2, nbformat.v4.new_code_cell('config = config.with_overrides({"training.max_steps": 6})'))
    copy = tmp_path / NOTEBOOK.name  # run folders land in the temp dir, not in the repo
    nbformat.write(notebook, copy)
    env = {**os.environ, "FT_JUPYTER_MODEL": "tiny-random", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider", str(copy)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    runs = sorted((tmp_path / "runs").glob("*/adapter/adapter_config.json"))
    assert len(runs) == 2  # both runs of the notebook trained and saved
