"""The JupyterLab extension is built, installed and enabled, and its sources follow the house rules.

Needs `pip install -e .` (or `pip install .`) to have run: that builds labextension/ into ft_jupyter/labextension
and installs it as a prebuilt extension, with the server extension switched on.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_core.paths import jupyter_path

import ft_jupyter

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "labextension"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _jupyter(*args: str) -> str:
    """Output (stdout and stderr: both list commands log to stderr) of `jupyter ARGS`, colours removed."""
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", *args], capture_output=True, text=True, timeout=120, check=True
    )
    return ANSI.sub("", result.stdout + result.stderr)


def _lines_with(text: str, word: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if word in line]


def test_labextension_list_shows_enabled_ok():
    lines = _lines_with(_jupyter("labextension", "list"), "ft-jupyter")
    assert lines, "ft-jupyter missing from `jupyter labextension list`: run `pip install -e .`"
    for line in lines:
        assert line.startswith(f"ft-jupyter v{ft_jupyter.__version__} enabled OK"), line


def test_server_extension_list_shows_enabled_ok():
    output = _jupyter("server", "extension", "list")
    assert "ft_jupyter enabled" in _lines_with(output, "ft_jupyter enabled"), output
    assert f"ft_jupyter {ft_jupyter.__version__} OK" in _lines_with(output, "OK"), output


def _installed_extension() -> Path:
    for root in jupyter_path("labextensions"):
        if (Path(root) / "ft-jupyter" / "package.json").is_file():
            return Path(root) / "ft-jupyter"
    pytest.fail("ft-jupyter is not installed as a prebuilt labextension: run `pip install -e .`")


def test_installed_bundle_is_this_version_and_complete():
    folder = _installed_extension()
    built = json.loads((folder / "package.json").read_text())
    assert built["name"] == "ft-jupyter"
    assert built["version"] == ft_jupyter.__version__
    assert (folder / built["jupyterlab"]["_build"]["load"]).is_file()
    installed_schema = json.loads((folder / "schemas" / "ft-jupyter" / "plugin.json").read_text())
    assert installed_schema == json.loads((SOURCES / "schema" / "plugin.json").read_text())


def test_versions_agree():
    package = json.loads((REPO / "package.json").read_text())
    pyproject = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    assert package["version"] == pyproject[1] == ft_jupyter.__version__
    assert package["name"] == "ft-jupyter"
    assert package["jupyterlab"]["outputDir"] == "ft_jupyter/labextension"


def _sources(*patterns: str) -> dict[Path, str]:
    files = [path for pattern in patterns for path in SOURCES.glob(pattern)]
    assert files, f"no {patterns} under {SOURCES}"
    return {path: path.read_text() for path in files}


def test_typescript_follows_house_rules():
    for path, text in _sources("src/**/*.ts", "src/**/*.tsx").items():
        assert "console.log" not in text, path
        assert not re.search(r"(:\s*any\b|<any>|\bas any\b|any\[\])", text), f"{path} uses `any`"
        for command in re.findall(r"'([\w-]+:[\w-]+)'", text):
            # JupyterLab's own commands the sidebar calls (open a file, create a notebook, show a folder).
            if command.startswith(("ft-jupyter:", "docmanager:", "notebook:", "filebrowser:")):
                continue
            pytest.fail(f"{path}: command or id {command!r} outside the ft-jupyter: namespace")
        for classes in re.findall(r'className="([^"]+)"', text):
            assert all(name.startswith("jp-ft-") for name in classes.split()), (path, classes)


def test_css_classes_are_prefixed():
    for path, text in _sources("style/*.css").items():
        for name in re.findall(r"\.([a-zA-Z][\w-]*)", re.sub(r"url\([^)]*\)", "", text)):
            assert name.startswith("jp-ft-"), f"{path}: .{name} lacks the jp-ft- prefix"
