"""What `pip install ft-jupyter` gives: the wheel, installed into an empty venv on a machine without Node, is the
whole kit — the sidebar listed and enabled, the server extension on, the CLI, the lessons and a real tiny run.

This is the check the JupyterLab extension template runs in its CI, done here with the project's lock, so a fresh
clone resolves the same versions (pip's cache makes the second resolution quick).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ft_jupyter

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: int = 900) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    output = ANSI.sub("", proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PIP_CONSTRAINT"] = str(ROOT / "constraints.txt")
    # The sidebar was built by the editable install: package the build instead of running npm again.
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(ROOT)],
        {**env, "HATCH_JUPYTER_BUILDER_SKIP_NPM": "1"},
        work,
    )
    wheel = next((work / "dist").glob("ft_jupyter-*.whl"))
    venv = work / "venv"
    _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], env, work)
    # Only the venv on PATH: no node, npm or jupyter from elsewhere can help.
    bare = {
        **env,
        "PATH": str(venv / "bin"),
        "HOME": str(Path.home()),
        "HF_HUB_OFFLINE": "1",
        "FT_JUPYTER_HOME": str(work / "home"),
    }
    assert shutil.which("node", path=bare["PATH"]) is None
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    torch = re.search(r"^TORCH_INSTALL \?= (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    _run(pip + torch, bare, work)  # as the Makefile does: the CPU torch first, so nothing pulls a CUDA build
    _run(pip + [str(wheel)], bare, work)
    return {"venv": venv, "env": bare, "cwd": work}


def _in_venv(installed: dict, *args: str, timeout: int = 300) -> str:
    return _run([str(installed["venv"] / "bin" / args[0]), *args[1:]], installed["env"], installed["cwd"], timeout)


def test_the_sidebar_is_listed_enabled(installed):
    lines = [
        ln.strip()
        for ln in _in_venv(installed, "jupyter", "labextension", "list").splitlines()
        if ln.strip().startswith("ft-jupyter")
    ]
    assert lines and all(ln.startswith(f"ft-jupyter v{ft_jupyter.__version__} enabled OK") for ln in lines), lines


def test_the_server_extension_is_enabled(installed):
    output = _in_venv(installed, "jupyter", "server", "extension", "list")
    assert "ft_jupyter enabled" in output and f"ft_jupyter {ft_jupyter.__version__} OK" in output, output


def test_the_cli_and_the_lessons_come_with_it(installed):
    assert "tiny-random" in _in_venv(installed, "ft-jupyter", "models")
    code = "import ft_jupyter.lessons as l; print(l.lessons_dir()); print(*[x['file'] for x in l.list_lessons()])"
    output = _in_venv(installed, "python", "-c", code)
    assert f"{installed['venv']}" in output.splitlines()[0] and "site-packages/ft_jupyter/notebooks" in output
    assert "00_quickstart.ipynb" in output


def test_a_tiny_demo_trains_end_to_end(installed):
    output = _in_venv(
        installed,
        "ft-jupyter",
        "demo",
        "--model",
        "tiny-random",
        "--runs-dir",
        str(installed["cwd"] / "runs"),
        timeout=600,
    )
    assert re.search(r"fine-tuned \(LoRA\)\s+\d+\.\d%", output), output[-2000:]
    assert list((installed["cwd"] / "runs").glob("*/adapter/adapter_model.safetensors"))
