"""Lesson discovery on a temporary folder of small notebooks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ft_jupyter import lessons

REPO = Path(__file__).resolve().parents[2]


def _write(folder: Path, name: str, *cells: tuple[str, object]) -> None:
    notebook = {
        "cells": [{"cell_type": kind, "metadata": {}, "source": source} for kind, source in cells],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / name).write_text(json.dumps(notebook), encoding="utf-8")


@pytest.fixture
def folder(tmp_path) -> Path:
    _write(tmp_path, "10_export_gguf.ipynb", ("markdown", ["Intro without heading\n", "## Export to *GGUF*\n"]))
    _write(tmp_path, "00_quickstart.ipynb", ("code", "# a comment, not a heading"), ("markdown", "# Quickstart\n"))
    _write(tmp_path, "02_qlora-on_cpu.ipynb", ("code", "x = 1"))
    _write(tmp_path, "scratch.ipynb", ("markdown", "# not a lesson"))
    (tmp_path / "03_notes.md").write_text("# not a notebook")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    return tmp_path


def test_list_lessons_sorted_numbered_and_titled(folder):
    assert lessons.list_lessons(folder) == [
        {"file": "00_quickstart.ipynb", "number": 0, "title": "Quickstart"},
        {"file": "02_qlora-on_cpu.ipynb", "number": 2, "title": "Qlora on cpu"},
        {"file": "10_export_gguf.ipynb", "number": 10, "title": "Export to *GGUF*"},
    ]


def test_list_lessons_defaults_to_lessons_dir(folder, monkeypatch):
    monkeypatch.setattr(lessons, "lessons_dir", lambda: folder)
    assert [lesson["file"] for lesson in lessons.list_lessons()] == [
        "00_quickstart.ipynb",
        "02_qlora-on_cpu.ipynb",
        "10_export_gguf.ipynb",
    ]


def test_unreadable_notebook_names_the_file(tmp_path):
    (tmp_path / "00_broken.ipynb").write_text("{not json")
    with pytest.raises(ValueError, match="00_broken.ipynb"):
        lessons.list_lessons(tmp_path)


def test_lessons_dir_prefers_packaged_copy(tmp_path, monkeypatch):
    packaged, repo = tmp_path / "pkg", tmp_path / "repo"
    monkeypatch.setattr(lessons, "PACKAGED_LESSONS", packaged)
    monkeypatch.setattr(lessons, "REPO_LESSONS", repo)
    with pytest.raises(FileNotFoundError, match="No lesson notebooks found"):
        lessons.lessons_dir()
    repo.mkdir()
    assert lessons.lessons_dir() == repo
    packaged.mkdir()
    assert lessons.lessons_dir() == packaged


def test_is_lesson_file():
    assert lessons.is_lesson_file("00_quickstart.ipynb")
    assert not lessons.is_lesson_file("quickstart.ipynb")
    assert not lessons.is_lesson_file("00_quickstart.py")


def test_repository_lessons_are_listed():
    """Every numbered notebook of ./notebooks is a lesson (active once lessons are committed)."""
    committed = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb") if lessons.is_lesson_file(p.name))
    if not committed:
        pytest.skip("no lesson notebooks in ./notebooks yet")
    assert sorted(lesson["file"] for lesson in lessons.list_lessons()) == committed
    assert all(lesson["title"] for lesson in lessons.list_lessons())


def test_import_stays_light():
    code = (
        "import sys, ft_jupyter.lessons; "
        "heavy = [m for m in ('torch', 'transformers', 'jupyter_server', 'tornado') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
