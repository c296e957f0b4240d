"""The linters, with the configuration in the repo, so `make test` fails on what they find: ruff (lint and format)
over the Python and the lesson notebooks (pyproject.toml), eslint and prettier over the sidebar's TypeScript
(eslint.config.mjs, .prettierrc). To fix: `ruff check --fix . && ruff format .` and `npm run lint`. Like the jest
suites, the TypeScript checks need Node and the npm packages `pip install -e .` installs; without Node they skip,
saying so."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    if importlib.util.find_spec("ruff") is None:
        pytest.fail("ruff is not installed: install the test tools with `pip install -e '.[test]'` (make test does)")
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_ruff_covers_the_package_the_tests_the_benchmarks_and_the_lessons():
    listed = {Path(line).resolve() for line in _ruff("check", "--show-files", ".").stdout.splitlines() if line}
    for path in (
        "ft_jupyter/train/trainer.py",
        "tests/unit/test_lint.py",
        "benchmarks/bench_train.py",
        "notebooks/04_training_dynamics.ipynb",
    ):
        assert REPO / path in listed, f"ruff does not check {path}: see [tool.ruff] in pyproject.toml"


def test_ruff_check_finds_nothing():
    result = _ruff("check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, f"`ruff check .` found problems:\n{result.stdout[-6000:]}{result.stderr}"


def test_ruff_format_would_change_nothing():
    result = _ruff("format", "--no-cache", "--diff", ".")
    assert result.returncode == 0, f"`ruff format .` would change:\n{result.stdout[-6000:]}{result.stderr}"


def test_eslint_and_prettier_find_nothing():
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("Node/npm is not installed: the TypeScript checks need Node 20 (see README set-up)")
    for tool in ("eslint", "prettier"):
        if not (REPO / "node_modules" / ".bin" / tool).exists():
            pytest.fail(
                f"{tool} is missing from node_modules: run `npm install` (pip install -e . runs it) in the repo"
            )
    result = subprocess.run([npm, "run", "lint:check"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
