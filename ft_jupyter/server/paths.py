"""Every path the browser names is resolved here and confined to its root: `..`, absolute paths, drive letters
and symlinks that lead out are refused with a message, never followed."""

from __future__ import annotations

from pathlib import Path, PureWindowsPath

from ft_jupyter.train.store import RunDir


class PathRefused(ValueError):
    """A path from the browser that points outside the folder it must stay in (answered with 400)."""


class RunNotFound(LookupError):
    """No run folder of that id under the runs root (answered with 404)."""


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symlink followed, is `root` or lies under it (`root` already resolved)."""
    resolved = path.resolve()
    return resolved == root or root in resolved.parents


def _plain_name(name: str, what: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or PureWindowsPath(name).drive:
        raise PathRefused(f"{name!r} is not a {what}: give the bare folder name as GET /ft-jupyter/runs lists it.")


# The files the server reads from a run folder; a link among them that leads out of the folder is refused.
RUN_FILES = ("config.yaml", "status.json", "events.jsonl")


# _link_out's answer per run folder, until the folder (or its entry in the root) changes: replacing any file of it
# by a link changes the folder's mtime, and turning the folder into a link changes its own lstat.
_CHECKED: dict[Path, tuple[tuple[int, int, int], str | None]] = {}


def _link_out(run_path: Path, runs_root: Path) -> str | None:
    """What of this run folder leads outside where it should stay, if anything (cached while it is unchanged)."""
    try:
        entry, folder = run_path.lstat(), run_path.stat()
    except OSError:
        return _check_links(run_path, runs_root)
    key = (entry.st_ino, entry.st_mtime_ns, folder.st_mtime_ns)
    cached = _CHECKED.get(run_path)
    if cached is None or cached[0] != key:
        cached = _CHECKED[run_path] = (key, _check_links(run_path, runs_root))
    return cached[1]


def _check_links(run_path: Path, runs_root: Path) -> str | None:
    if run_path.is_symlink() and not inside(run_path, runs_root):
        return "the run folder is a link to a folder outside the runs root"
    folder = run_path.resolve()
    for name in RUN_FILES:
        if (run_path / name).exists() and not inside(run_path / name, folder):
            return f"{name} is a link to a file outside the run folder"
    return None


def run_folder(runs_root: Path, run_id: str) -> RunDir:
    """The run folder `run_id` directly under `runs_root`, if it is one and nothing in it leads outside."""
    _plain_name(run_id, "run id")
    path = runs_root / run_id
    if not (path / "config.yaml").is_file():
        raise RunNotFound(f"No run {run_id!r} under {runs_root}; GET /ft-jupyter/runs lists the runs there.")
    problem = _link_out(path, runs_root)
    if problem:
        raise PathRefused(f"Run {run_id!r}: {problem}; refusing it.")
    return RunDir(path)


def listed_runs(runs_root: Path) -> list[RunDir]:
    """Run folders under `runs_root`, newest id first, leaving out any that lead elsewhere through a link."""
    if not runs_root.is_dir():
        return []
    runs = [RunDir(p) for p in runs_root.iterdir() if (p / "config.yaml").is_file() and _link_out(p, runs_root) is None]
    return sorted(runs, key=lambda run: run.run_id, reverse=True)


def server_relative(server_root: Path, path: str) -> Path:
    """A contents-API path such as 'lessons/00_quickstart.ipynb' as a real path under the server root."""
    if (
        not isinstance(path, str)
        or "\0" in path
        or "\\" in path
        or PureWindowsPath(path).drive
        or path.startswith("/")
        or ".." in path.split("/")
    ):
        raise PathRefused(
            f"{path!r} is not a path inside the server root; give the path JupyterLab shows, relative and without '..'."
        )
    full = server_root / path
    if not inside(full, server_root):
        raise PathRefused(f"{path!r} leads outside the server root through a link; refusing it.")
    return full


_BROWSER_PATHS: dict[tuple[Path, Path], tuple[tuple[int, int], str | None]] = {}


def browser_path(server_root: Path, path: Path) -> str | None:
    """`path` as the file browser names it (relative to the server root), or None when it lies outside; cached
    while the entry at `path` is the same (a folder re-linked elsewhere is resolved again)."""
    try:
        entry = path.lstat()
        key = (entry.st_ino, entry.st_mtime_ns if path.is_symlink() else 0)
    except OSError:
        key = (-1, -1)
    cached = _BROWSER_PATHS.get((server_root, path))
    if cached is None or cached[0] != key:
        named = path.resolve().relative_to(server_root).as_posix() if inside(path, server_root) else None
        cached = _BROWSER_PATHS[(server_root, path)] = (key, named)
    return cached[1]
