"""Lesson notebooks: where they are and what they are called.

The lessons are the numbered notebooks of the repository's ``notebooks/`` folder (``00_quickstart.ipynb``...).
A wheel ships them as ``ft_jupyter/notebooks``; an editable install reads the repository's folder.
Pure standard library: the server extension and the CLI import this without torch or Jupyter.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_LESSONS = _PACKAGE_DIR / "notebooks"
REPO_LESSONS = _PACKAGE_DIR.parent / "notebooks"

# "00_quickstart.ipynb" -> number "00", stem "quickstart"; other notebooks in the folder are not lessons.
_LESSON_NAME = re.compile(r"^(?P<number>\d+)[_-](?P<stem>.+)\.ipynb$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.+?)\s*#*\s*$")


def lessons_dir() -> Path:
    """The folder of lesson notebooks: the packaged copy, else the repository's (editable install)."""
    for folder in (PACKAGED_LESSONS, REPO_LESSONS):
        if folder.is_dir():
            return folder
    raise FileNotFoundError(
        f"No lesson notebooks found: neither {PACKAGED_LESSONS} (wheel install) nor {REPO_LESSONS} "
        "(editable install) exists. Reinstall ft-jupyter with `pip install ft-jupyter`, "
        "or `pip install -e .` from a full checkout."
    )


def is_lesson_file(name: str) -> bool:
    """True for a numbered notebook file name such as ``00_quickstart.ipynb``."""
    return _LESSON_NAME.match(name) is not None


def list_lessons(folder: Path | None = None) -> list[dict]:
    """Lessons sorted by number: ``{"file", "number", "title"}`` each; ``folder`` defaults to lessons_dir()."""
    folder = lessons_dir() if folder is None else Path(folder)
    lessons = []
    for path in folder.iterdir():
        match = _LESSON_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        title = notebook_title(path) or _prettify(match["stem"])
        lessons.append({"file": path.name, "number": int(match["number"]), "title": title})
    return sorted(lessons, key=lambda lesson: (lesson["number"], lesson["file"]))


def notebook_title(path: Path) -> str | None:
    """Text of the first markdown heading in the notebook at ``path``, or None if it has none."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable notebook ({error}); fix or remove the file.") from error
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        for line in text.splitlines():
            heading = _HEADING.match(line)
            if heading:
                return heading["text"]
    return None


def _prettify(stem: str) -> str:
    words = re.split(r"[_\-\s]+", stem.strip("_- "))
    text = " ".join(word for word in words if word)
    return text[:1].upper() + text[1:]
