"""A real JupyterLab and a real Chromium for browser tests (shared by the notebook-UI and the sidebar tests).

Chromium comes from the system (`apt-get install -y chromium`, which `make test` does); Playwright drives it through
`executable_path` and never downloads a browser. Without Chromium the tests skip, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Settings that keep a fresh JupyterLab quiet: no news or update pop-ups over the page under test.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def chromium_path() -> str | None:
    found = (
        os.environ.get("FT_JUPYTER_CHROMIUM")
        or next((p for p in CHROMIUM_CANDIDATES if os.path.exists(p)), None)
        or shutil.which("chromium")
    )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    base_url: str
    token: str
    root_dir: Path
    process: subprocess.Popen
    log_path: Path

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]


def _wait_until_up(lab: Lab, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {lab.process.returncode}:\n{lab.log_tail()}")
        try:
            with urllib.request.urlopen(lab.url("/api/status"), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{lab.log_tail()}")


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A JupyterLab server on a free port, with a token, serving an empty temporary root folder."""
    if chromium_path() is None:
        pytest.skip(
            "Chromium is not installed (apt-get install -y chromium; `make test` does this): "
            "browser tests need a real browser"
        )
    home = tmp_path_factory.mktemp("lab")
    root, settings, workspaces = home / "root", home / "settings", home / "workspaces"
    for folder in (root, settings, workspaces):
        folder.mkdir()
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    port, token = free_port(), "ft-jupyter-test-token"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(workspaces),
        "TOKENIZERS_PARALLELISM": "false",
    }
    log_path = home / "lab.log"
    with open(log_path, "w", encoding="utf-8") as log:  # the server writes to its own copy of the descriptor
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                f"--port={port}",
                "--ip=127.0.0.1",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                "--allow-root",
            ],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Lab(f"http://127.0.0.1:{port}", token, root, process, log_path)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


FAILED_KEY = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[FAILED_KEY] = report.failed
    return report


@pytest.fixture()
def page(browser, lab, request):
    """A fresh browser page. When the test fails, the page is saved as test-artifacts/<test>-failure.png and the
    lab's log tail and the browser console are printed, so a failure far away (CI) can be read."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    yield page
    if request.node.stash.get(FAILED_KEY, False):
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-failure.png"))
        except Exception as exc:  # noqa: BLE001 - diagnostics must not mask the failure
            print(f"no failure screenshot: {exc}")
        print("---- browser console (last 40) ----\n" + "\n".join(console[-40:]))
        print("---- lab log (tail) ----\n" + lab.log_tail())
    context.close()
    _shut_down_sessions(lab)


def _kernel_idle(lab: Lab, notebook: str, timeout: float = 180.0) -> None:
    """Wait until the notebook's kernel exists and is idle, as the server sees it. The toolbar is there before a
    kernel is attached, and a Shift+Enter pressed then can be dropped without a trace."""
    deadline, seen = time.monotonic() + timeout, "no session"
    while time.monotonic() < deadline:
        with urllib.request.urlopen(lab.url("/api/sessions"), timeout=5) as response:
            sessions = json.loads(response.read())
        mine = [s for s in sessions if s.get("path", "").endswith(notebook) and s.get("kernel")]
        if mine:
            seen = mine[0]["kernel"].get("execution_state", "unknown")
            if seen == "idle":
                return
        time.sleep(0.5)
    raise AssertionError(
        f"the kernel of {notebook} was not idle within {timeout:.0f} s (last state: {seen})\n{lab.log_tail()}"
    )


def _run_cell(page, cell, timeout: float = 30.0) -> None:
    """Run one cell with Shift+Enter and make sure it was queued (its prompt leaves '[ ]'). A key press the
    notebook dropped (its kernel connection not ready yet) is repeated; a dialog in the way is reported."""
    prompt = cell.locator(".jp-InputPrompt").first
    for _attempt in range(3):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + timeout / 3
        while time.monotonic() < deadline:
            if prompt.inner_text().strip() not in ("[ ]:", ""):
                return
            if page.locator(".jp-Dialog").count():
                raise AssertionError(
                    "a dialog opened instead of running the cell: " + page.locator(".jp-Dialog").inner_text()
                )
            time.sleep(0.25)
    raise AssertionError(f"the cell was not queued within {timeout:.0f} s (prompt {prompt.inner_text()!r})")


def _shut_down_sessions(lab: Lab) -> None:
    """Each browser test starts with no kernels: one test's idle kernel must not pass for the next test's."""
    with urllib.request.urlopen(lab.url("/api/sessions"), timeout=10) as response:
        sessions = json.loads(response.read())
    for session in sessions:
        request = urllib.request.Request(lab.url(f"/api/sessions/{session['id']}"), method="DELETE")
        try:
            urllib.request.urlopen(request, timeout=30).close()
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # already gone is fine
                raise


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (git-ignored); CI keeps them as test artefacts."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def write_notebook():
    """Factory: write_notebook(path, [cell sources]) writes a notebook of code cells for a test to open."""
    return _write_notebook


def _write_notebook(path: Path, cells: list[str]) -> None:
    """A notebook of code cells, for a test to open and run."""
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")


@pytest.fixture(scope="session")
def kernel_idle(lab):
    """kernel_idle(notebook_name): wait until that notebook's kernel is up and idle."""
    return lambda notebook, timeout=180.0: _kernel_idle(lab, notebook, timeout)


@pytest.fixture(scope="session")
def run_cell():
    """run_cell(page, cell_locator): Shift+Enter on the cell, checked to have queued it."""
    return _run_cell
