"""The sidebar's TypeScript logic (form from the schema, pre-flight, run list, poller) under jest, so `make test`
covers it. Needs Node and the npm packages `pip install -e .` installed; without Node it skips, saying so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_jest_suites_pass():
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("Node/npm is not installed: the TypeScript unit tests need Node 20 (see README set-up)")
    if not (REPO / "node_modules" / ".bin" / "jest").exists():
        pytest.fail("jest is missing from node_modules: run `npm install` (pip install -e . runs it) in the repo")
    env = {**os.environ, "FT_JUPYTER_PYTHON": sys.executable, "CI": "true"}
    result = subprocess.run([npm, "test", "--", "--ci"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Tests:" in output and " failed" not in output.split("Tests:")[1].splitlines()[0], output[-3000:]
