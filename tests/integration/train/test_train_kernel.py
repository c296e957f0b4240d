"""In a real Jupyter kernel: a background run leaves the kernel free to run cells and to stop it, and a kernel
interrupt stops a foreground run gracefully (the cell returns a stopped result instead of a traceback)."""

import os
import time

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kernel():
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _run_cell(kc, code: str, timeout: float = 600) -> str:
    out = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


def _steps(run_dir) -> int:
    return max([e["step"] for e in run_dir.read_events(0)[0] if e["type"] == "step"], default=0)


def _latest_run(runs_dir, after: set):
    from ft_jupyter.train.store import RunStore

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        runs = [r for r in RunStore(runs_dir).list_runs() if r.run_id not in after]
        if runs and _steps(runs[0]) >= 2:
            return runs[0]
        time.sleep(0.2)
    raise AssertionError("the run in the kernel never reached step 2")


def test_a_background_run_leaves_the_kernel_free_and_stops_from_another_cell(kernel, tiny):
    _, kc = kernel
    config = tiny(**{"training.max_steps": 400, "name": "kernel-bg"})
    _run_cell(
        kc,
        "from ft_jupyter.config import RunConfig\nfrom ft_jupyter.train import start_training\n"
        f"handle = start_training(RunConfig.from_yaml({config.to_yaml()!r}))",
    )
    run = _latest_run(config.runs_dir, set())
    before = _steps(run)
    assert _run_cell(kc, "print(handle.done, 6 * 7)").split() == ["False", "42"]  # a cell ran mid-training
    out = _run_cell(kc, "handle.stop('stopped from another cell')\nr = handle.wait()\nprint(r.state, r.steps)")
    state, steps = out.split()
    assert state == "stopped" and before <= int(steps) < 400
    assert run.status()["state"] == "stopped" and "another cell" in run.status()["message"]


def test_a_kernel_interrupt_stops_a_foreground_run_gracefully(kernel, tiny):
    from ft_jupyter.train.store import RunStore

    km, kc = kernel
    config = tiny(**{"training.max_steps": 400, "name": "kernel-fg"})
    existing = {r.run_id for r in RunStore(config.runs_dir).list_runs()}
    msg_id = kc.execute(
        f"from ft_jupyter.train import run_training\nr = run_training(RunConfig.from_yaml({config.to_yaml()!r}))"
    )
    run = _latest_run(config.runs_dir, existing)
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=600)
    assert reply["parent_header"]["msg_id"] == msg_id and reply["content"]["status"] == "ok"  # no traceback
    state, steps = _run_cell(kc, "print(r.state, r.steps)").split()
    assert state == "stopped" and int(steps) < 400
    assert "Ctrl-C" in run.status()["message"] and (run.path / "adapter" / "adapter_model.safetensors").is_file()
