"""A class on one machine, for real: three OS users (two participants and an instructor), a class folder made by
`ft-jupyter workshop init`, one jupyter server per user on loopback, and real training processes started by each
participant as themselves.

Each participant sees the other's runs; neither can stop the other's (403, nothing written); the instructor can, and
the participant's trainer honours the stop and saves its adapter. Needs root (to add users), as CI runs; elsewhere
it skips and says why.
"""

from __future__ import annotations

import grp
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from ft_jupyter.workshop.setup import init_workshop

pytestmark = pytest.mark.integration

TOKEN = "class-test-token"
PREFIX = f"ft{uuid.uuid4().hex[:6]}"
ALICE, BOB, CAROL = f"{PREFIX}alice", f"{PREFIX}bob", f"{PREFIX}carol"
GROUP = f"{PREFIX}class"


def _root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("adding OS users needs root (CI runs as root); run the suite as root to exercise this")
    for tool in ("useradd", "groupadd", "runuser"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def _traversable(path: Path) -> list[tuple[Path, int]]:
    """Give others the search (x) bit on every folder above `path` that lacks it, so another user can reach the
    test's Python environment; returns what to put back."""
    changed = []
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if any(folder == done for done, _ in changed):
            continue
        if not mode & stat.S_IXOTH:
            changed.append((folder, stat.S_IMODE(mode)))
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    return changed


@pytest.fixture(scope="module")
def users():
    _root_only()
    subprocess.run(["groupadd", GROUP], check=True)
    made = []
    try:
        for name in (ALICE, BOB, CAROL):
            subprocess.run(["useradd", "-m", "-G", GROUP, "-s", "/bin/sh", name], check=True)
            made.append(name)
        # The venv, the interpreter it links to (pyenv keeps it under /root) and the checkout (editable install).
        reach = (
            Path(sys.prefix),
            Path(sys.base_prefix),
            Path(sys.executable).resolve().parent,
            Path(__file__).resolve().parents[3],
        )
        restore = [change for path in reach for change in _traversable(path.resolve())]
        try:
            yield
        finally:
            for folder, mode in restore:
                folder.chmod(mode)
    finally:
        for name in made:
            subprocess.run(["pkill", "-u", name], check=False)
            time.sleep(0.2)
            subprocess.run(["userdel", "-r", name], check=False, capture_output=True)
        subprocess.run(["groupdel", GROUP], check=False)


def _as(user: str, *command: str, **kwargs) -> subprocess.Popen:
    env = [
        "HOME=" + str(Path("/home") / user),
        "PATH=" + os.environ.get("PATH", "/usr/bin:/bin"),
        "HF_HUB_OFFLINE=1",
        "OMP_NUM_THREADS=1",
        "TOKENIZERS_PARALLELISM=false",
        "FT_JUPYTER_PROGRESS=0",
    ]
    return subprocess.Popen(
        ["runuser", "-u", user, "--", "/usr/bin/env", "-i", *env, "sh", "-c", 'umask 002 && exec "$@"', "sh", *command],
        **kwargs,
    )


@pytest.fixture(scope="module")
def classroom(users):
    base = Path(tempfile.mkdtemp(prefix="ft-class-", dir="/tmp"))
    base.chmod(0o755)
    folder = init_workshop(base / "class", group=GROUP, instructors=[CAROL])
    servers = {}
    try:
        for user in (ALICE, BOB, CAROL):
            port = _free_port()
            with open(base / f"{user}.log", "w") as log:  # the server writes to its own copy of the descriptor
                process = _as(
                    user,
                    sys.executable,
                    "-m",
                    "jupyter_server",
                    "--no-browser",
                    "--ip=127.0.0.1",
                    f"--port={port}",
                    f"--IdentityProvider.token={TOKEN}",
                    f"--config={folder / 'jupyter_server_config.py'}",
                    f"--ServerApp.root_dir=/home/{user}",
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            servers[user] = (f"http://127.0.0.1:{port}", process, base / f"{user}.log")
        for url, process, log_path in servers.values():
            _wait_up(url, process, log_path)
        yield folder, {user: url for user, (url, _, _) in servers.items()}
    finally:
        for _, process, _ in servers.values():
            process.terminate()
        for _, process, _ in servers.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(base, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"a jupyter server exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            _call(url, "version")
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"a jupyter server did not answer within {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")


def _call(url: str, path: str, method: str = "GET") -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/ft-jupyter/{path}",
        method=method,
        data=b"" if method == "POST" else None,
        headers={"Authorization": f"token {TOKEN}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _train(user: str, folder: Path, name: str, steps: int) -> subprocess.Popen:
    ft = str(Path(sys.executable).with_name("ft-jupyter"))
    return _as(
        user,
        ft,
        "train",
        "--preset",
        "tiny-smoke",
        "--set",
        f"name={name}",
        "--set",
        f"runs_dir={folder / 'runs'}",
        "--set",
        f"training.max_steps={steps}",
        "--set",
        "data.max_rows=80",
        "--set",
        "training.max_seq_len=128",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _run_of(url: str, name: str, scope: str = "class") -> dict | None:
    _, body = _call(url, f"runs?scope={scope}")
    return next((run for run in body["runs"] if run["id"].endswith(f"-{name}")), None)


def test_participants_read_each_other_change_only_their_own_and_the_instructor_stops_anyone(classroom, wait_for):
    folder, urls = classroom
    runs_root = folder / "runs"
    assert runs_root.stat().st_gid == grp.getgrnam(GROUP).gr_gid

    # Bob trains a short run to the end; Alice starts a long one.
    bob = _train(BOB, folder, "bob-short", steps=3)
    assert bob.wait(timeout=300) == 0, bob.stdout.read()
    alice = _train(ALICE, folder, "alice-long", steps=5000)
    try:
        wait_for(
            lambda: ((_run_of(urls[ALICE], "alice-long", "mine") or {}).get("trace") or {}).get("step"),
            timeout=180,
            what="Alice's run to log a step",
        )
        live = _run_of(urls[ALICE], "alice-long", "mine")
        alice_id = live["id"]
        bobs = _run_of(urls[BOB], "bob-short", "mine")
        assert bobs["state"] == "finished" and bobs["owner"] == BOB and live["owner"] == ALICE

        # Each sees the other's run in the class view, and only their own by default.
        assert _run_of(urls[ALICE], "bob-short")["mine"] is False
        assert _run_of(urls[ALICE], "bob-short", "mine") is None
        assert _run_of(urls[BOB], "alice-long")["state"] == "running"
        code, events = _call(urls[BOB], f"runs/{alice_id}/events")
        assert code == 200 and events["events"][0]["type"] == "run_started"

        # Neither may change the other's run: 403, and nothing is written.
        before = sorted(p.name for p in (runs_root / alice_id).iterdir())
        code, body = _call(urls[BOB], f"runs/{alice_id}/stop", "POST")
        assert code == 403 and f"belongs to {ALICE}" in body["message"]
        assert not (runs_root / alice_id / "STOP").exists()
        assert sorted(p.name for p in (runs_root / alice_id).iterdir()) == before
        code, body = _call(urls[ALICE], f"runs/{bobs['id']}/export", "POST")
        assert code == 403 and f"belongs to {BOB}" in body["message"]
        assert not (runs_root / bobs["id"] / "export").exists()

        # The instructor may: the STOP flag lands in Alice's folder and her trainer stops with the adapter saved.
        code, body = _call(urls[CAROL], f"runs/{alice_id}/stop", "POST")
        assert code == 202, body
        assert alice.wait(timeout=180) == 0, alice.stdout.read()
        stopped = _run_of(urls[ALICE], "alice-long", "mine")
        assert stopped["state"] == "stopped" and stopped["artifact"] == "adapter"
        assert f"by {CAROL}" in (runs_root / alice_id / "STOP").read_text()
        assert (runs_root / alice_id).stat().st_uid == _uid(ALICE)
    finally:
        if alice.poll() is None:
            alice.kill()


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid
