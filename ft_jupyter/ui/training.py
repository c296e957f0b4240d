"""Start a run from a notebook and watch it, or re-open a run folder and watch that.

`train(config)` picks the view at the one switch (`frontend.display_mode`): a live dashboard with training on a
background thread (the kernel stays free, so Stop and other cells work), or text progress and a static figure.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.frontend import display_mode
from ft_jupyter.train.background import start_training
from ft_jupyter.train.events import event_from_json
from ft_jupyter.train.store import END_STATES, RunDir
from ft_jupyter.ui.series import RunCurves


def _normalise(event: dict[str, Any]) -> dict[str, Any]:
    # Events written by an older version lack newer fields; the typed event fills in their defaults.
    return event_from_json(event).to_json()


def read_curves(run_dir: RunDir) -> RunCurves:
    """Everything a run folder's events.jsonl holds so far, as curves."""
    return RunCurves.from_events([_normalise(e) for e in run_dir.read_events(0)[0]])


def as_run_dir(run: Any) -> RunDir:
    """A RunDir from a run folder path, a RunDir, a RunResult or a TrainingView."""
    from ft_jupyter.train.loop import RunResult

    if isinstance(run, RunDir):
        return run
    if isinstance(run, (RunResult, TrainingView)):
        return run.run_dir
    if isinstance(run, (str, Path)):
        path = Path(run)
        if not (path / "config.yaml").is_file():
            raise ConfigError(f"{str(path)!r} is not a run folder (no config.yaml); runs live under runs/<run-id>/.")
        return RunDir(path)
    raise ConfigError(f"Expected a run folder, a RunDir or a run you started, got a {type(run).__name__}.")


class TrainingView:
    """A run started from the notebook (a `train.background.TrainingHandle` with its view): `.stop()`, `.wait()`,
    `.done`, `.result`, `.run_dir`, and its `.dashboard`."""

    def __init__(self, handle: Any, dashboard: Any = None):
        self.handle = handle
        self.dashboard = dashboard

    @property
    def run_dir(self) -> RunDir:
        return self.handle.run_dir

    @property
    def done(self) -> bool:
        return self.handle.done

    @property
    def result(self):
        return self.handle.result

    def stop(self) -> None:
        """Ask the run to stop after the current step; what it learned so far is saved."""
        if self.dashboard is not None:
            self.dashboard.request_stop()
        else:
            self.handle.stop()

    def wait(self, timeout: float | None = None):
        """Block until the run ends; returns its RunResult (None if `timeout` passed first); raises what the run
        raised."""
        return self.handle.wait(timeout)

    def __repr__(self) -> str:
        # Text only: train() has displayed the dashboard already, and a second copy would only repeat it.
        return f"<run {self.run_dir.run_id}: {self.run_dir.status()['state']}>"


def train(config: RunConfig, *, display: str | None = None, dashboard_title: str | None = None) -> TrainingView:
    """Start training `config` with the right live view for this front-end; returns at once with widgets.

    In a console, or with display="static", training runs in the foreground with text progress and the call returns
    when it ends (with "static", a figure of the curves is shown at the end).
    """
    mode = display_mode(display)
    if mode == "widgets":
        from IPython.display import display as show

        from ft_jupyter.ui.dashboard import Dashboard

        dashboard = Dashboard(title=dashboard_title or f"run: {config.name}")
        show(dashboard)
        handle = start_training(config, [dashboard])
        dashboard.add_export(lambda: handle.run_dir)
        dashboard.on_stop = handle.stop
        dashboard.stop_button.disabled = False
        return TrainingView(handle, dashboard)
    return TrainingView(_train_in_foreground(config, static=mode == "static"))


def launch(
    config: RunConfig, *, processes: int = 2, strategy: str = "ddp", offload: bool = False, display: str | None = None
):
    """Train on several processes (accelerate DDP / DeepSpeed ZeRO) with the same live dashboard and Stop as
    `train`; returns the LaunchHandle (`.run_dir`, `.stop()`, `.wait()`)."""
    from ft_jupyter.train.launch import start_launch

    handle = start_launch(config, processes=processes, strategy=strategy, offload=offload)
    if display_mode(display) == "widgets":
        from IPython.display import display as show

        handle.dashboard = _following_dashboard(
            handle.run_dir, f"run: {config.name} · {processes} processes, {strategy}", handle.stop
        )
        show(handle.dashboard)
    return handle


def _show_static(curves: RunCurves) -> None:
    """One plain figure (Plotly's own mime bundle, which non-widget front-ends render) and the final status."""
    from IPython.display import display

    from ft_jupyter.ui.dashboard import static_figure, status_text

    display(static_figure(curves))
    state, message = status_text(curves)
    print(f"{state}: {message}")


def _train_in_foreground(config: RunConfig, static: bool):
    from ft_jupyter.train.console import ConsoleProgress

    curves = RunCurves()
    handle = start_training(config, [ConsoleProgress(), lambda event: curves.apply(event.to_json())])
    try:
        handle.wait()
    except KeyboardInterrupt:
        handle.stop()
        handle.wait()
    finally:
        if static and curves.loss:
            _show_static(curves)
    return handle


class RunFollower:
    """Feeds a run folder's events to a view: everything so far at once, then new lines while the run is live."""

    def __init__(self, run_dir: RunDir, view: Any, poll_s: float = 0.5):
        self.run_dir = run_dir
        self.view = view
        self.poll_s = poll_s
        self.offset = 0
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def catch_up(self) -> bool:
        """Read what is new; returns True once the run has ended (a terminal event, or its process is gone)."""
        # Status first: the trainer appends its last event before it writes a final status, so once the status
        # says the run ended, the read below is sure to include that event.
        status = self.run_dir.status()
        events, self.offset = self.run_dir.read_events(self.offset)
        if events:
            self.view.replay([_normalise(e) for e in events])
        if self.view.curves.end is not None:
            return True
        if status["state"] in END_STATES:
            # Ended without a final event, e.g. the kernel died mid-run (status() then says so).
            self.view.mark_ended(status["state"], status.get("message", ""))
            return True
        return False

    def start(self) -> None:
        if self.catch_up():
            return
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"follow {self.run_dir.run_id}")
        self._thread.start()

    def _loop(self) -> None:
        while not self._halt.wait(self.poll_s):
            if self.catch_up():
                return

    def close(self) -> None:
        self._halt.set()


def open_run(path: Any, *, display: str | None = None):
    """Draw the dashboard of a finished or running run from its folder; a live run keeps updating and can be
    stopped from here (Stop writes the run's STOP file)."""
    run_dir = as_run_dir(path)
    mode = display_mode(display)
    if mode != "widgets":
        curves = read_curves(run_dir)
        if mode == "static" and curves.loss:
            _show_static(curves)
        return curves
    from ft_jupyter.train.store import current_user

    if run_dir.write_refusal(current_user()):
        # Another participant's run on a class's shared root: its curves, without Stop or Export.
        return _following_dashboard(run_dir, f"run: {run_dir.run_id} (by {run_dir.owner()})", None, export=False)
    return _following_dashboard(
        run_dir, f"run: {run_dir.run_id}", lambda: run_dir.request_stop("stop requested from a notebook dashboard")
    )


def _following_dashboard(run_dir: RunDir, title: str, on_stop, *, export: bool = True) -> Any:
    """A dashboard fed from the run folder (a re-opened or launched run), with Stop and the Export section."""
    from ft_jupyter.ui.dashboard import Dashboard

    dashboard = Dashboard(title=title, on_stop=on_stop)
    if export:
        dashboard.add_export(lambda: run_dir)
    dashboard.follower = RunFollower(run_dir, dashboard)
    dashboard.follower.start()
    return dashboard
