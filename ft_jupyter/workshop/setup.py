"""``ft-jupyter workshop init DIR``: a class folder (lessons, a shared runs root, server config, README) in one step."""

from __future__ import annotations

import argparse
import getpass
import grp
import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path

from ft_jupyter.config import ConfigError
from ft_jupyter.lessons import lessons_dir

RUNS_MODE = 0o2775  # setgid: runs made inside belong to the class group; group-writable: anyone in it can add one
CONFIG_FILE = "jupyter_server_config.py"

_CONFIG = """\
# jupyter_server settings for a class sharing one runs root, written by `ft-jupyter workshop init`.
# Point every participant's single-user server at this file (see README.md). ServerApp.root_dir is left alone on
# purpose: each participant's file browser stays in their own home.
c = get_config()  # noqa: F821 -- provided by Jupyter when it loads this file

# The shared runs root: every participant's runs are written here and the sidebar lists them from here.
# Absolute, so it does not depend on each participant's root_dir.
c.FtJupyter.runs_dir = {runs}

# User names who may stop any participant's run; everyone else may stop only their own.
c.FtJupyter.instructors = {instructors}
"""

_README = """\
# Class folder

Made by `ft-jupyter workshop init`. Everything a class needs to fine-tune together on one machine.

## What is here

- `notebooks/`: the lesson notebooks. Participants work on copies; this folder stays as it is.
- `runs/`: the class's shared runs root, `{runs}`. Mode 2775: everyone in the class group can start runs here,
  and every run made inside belongs to the group.
- `jupyter_server_config.py`: what each participant's Jupyter server needs: the runs root and the instructors.

Keep this folder where every participant can reach it (under `/srv`, say, not inside a private home folder).

## 1. The class group

As root, once per class (with your participants' user names):

    groupadd {group}
    usermod -aG {group} alice          # once for each participant and each instructor
    ft-jupyter workshop init {folder} --group {group} --instructor NAME

Someone added to the group later must log in again (or stop and restart their server from the Hub's control panel)
before the group applies to them.

## 2. JupyterHub

Install the hub next to JupyterLab and ft-jupyter, in the Python environment the participants' servers run in:

    pip install jupyterhub
    npm install -g configurable-http-proxy
    jupyterhub --generate-config

Then, in `jupyterhub_config.py`:

    c.Spawner.default_url = "/lab"
    c.Spawner.args = ["--config={config}"]

Instead of the `args` line you can copy `jupyter_server_config.py` into `/etc/jupyter/` (merging it with any file
already there); every Jupyter server on the machine reads that folder. Start the hub as root
(`jupyterhub -f jupyterhub_config.py`): participants log in with their system accounts, and each server runs as
its participant, starting in their home folder.

**Group-writable files (umask 002).** In a shared runs root ft-jupyter makes each new run folder group-writable
itself, which is all an instructor's Stop needs (it writes a STOP file into the run). The files a run writes inside
its folder follow the training process's umask: with `umask 002` they are group-writable too, which an instructor
needs to export a run whose owner exported it already. A umask cannot be set through `c.Spawner.environment`;
start the servers through a small wrapper script instead, for example
`/usr/local/bin/class-singleuser` (made executable with `chmod +x`):

    #!/bin/sh
    umask 002
    exec jupyterhub-singleuser "$@"

and set `c.Spawner.cmd = ["/usr/local/bin/class-singleuser"]`. For runs started from a terminal or over ssh, also
put `umask 002` in the system profile (a file in `/etc/profile.d/`).

## 3. In class

- On a new machine, run `ft-jupyter doctor` first (as a participant, in a terminal): one line per check of whether
  the lessons will run here, each with its fix.
- Participants open a lesson from the Lessons section of the Fine-tune sidebar, which copies it into their home,
  or copy one from `{notebooks}` in a terminal.
- Each participant's sidebar shows their own runs, and the whole class's on request. Only a run's owner or an
  instructor ({instructors}) may stop it. Instructors are set in `jupyter_server_config.py`; servers pick up a
  change when they restart.
- `ft-jupyter leaderboard --runs-dir {runs}` ranks the finished runs evaluated on the same held-out split.
"""


def init_workshop(folder, *, group: str | None = None, instructors: Sequence[str] = (), force: bool = False) -> Path:
    """Create the class folder and return its absolute path; with ``force``, only add what is missing."""
    folder = Path(folder).expanduser().resolve()
    names = _instructor_names(instructors)
    if group is not None:
        _check_group(group)
    if folder.exists():
        if not folder.is_dir():
            raise ConfigError(f"{folder} exists and is not a folder; choose another path for the class folder.")
        if any(folder.iterdir()) and not force:
            raise ConfigError(
                f"{folder} is not empty. Pass force=True (--force on the command line) to add the missing pieces; "
                "nothing already there, including anything you changed, is overwritten."
            )
        _build(folder, folder, group, names)
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)  # only a crashed earlier attempt with this pid leaves one
    try:
        temporary.mkdir()
        os.chmod(temporary, 0o755)  # participants read the lessons and reach runs/ whatever the teacher's umask
        _build(temporary, folder, group, names)
        temporary.rename(folder)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return folder


def _build(target: Path, final: Path, group: str | None, instructors: list[str]) -> None:
    """Write the missing pieces into ``target``; paths written into files point at ``final``."""
    runs = target / "runs"
    if not runs.exists():
        runs.mkdir()
        try:
            _share_runs(runs, group)
        except BaseException:
            runs.rmdir()  # else a rerun with --force would keep a runs/ that was never shared
            raise
    notebooks = target / "notebooks"
    if not notebooks.exists():
        notebooks.mkdir()
        os.chmod(notebooks, 0o755)
    for lesson in sorted(lessons_dir().glob("*.ipynb")):
        _write_new(notebooks / lesson.name, lesson.read_bytes())
    config = _CONFIG.format(runs=repr(str(final / "runs")), instructors=repr(instructors))
    _write_new(target / CONFIG_FILE, config.encode("utf-8"))
    readme = _README.format(
        folder=final,
        group=group or "GROUP",
        runs=final / "runs",
        notebooks=final / "notebooks",
        config=final / CONFIG_FILE,
        instructors=", ".join(instructors) or "none named yet",
    )
    _write_new(target / "README.md", readme.encode("utf-8"))


def _share_runs(runs: Path, group: str | None) -> None:
    os.chmod(runs, RUNS_MODE)  # after mkdir: the umask would have stripped the group-write and setgid bits
    if group is not None:
        try:
            shutil.chown(runs, group=group)
        except PermissionError as error:
            raise ConfigError(
                f"Cannot give {runs} to group {group!r} ({error.strerror}): you are not a member. "
                f"Run `usermod -aG {group} {getpass.getuser()}` as root and log in again, or run this command as root."
            ) from error
        os.chmod(runs, RUNS_MODE)  # chown may clear the setgid bit
    mode = stat.S_IMODE(runs.stat().st_mode)
    if mode != RUNS_MODE:
        raise ConfigError(
            f"{runs} has mode {mode:o} after setting {RUNS_MODE:o}: this filesystem does not keep "
            "setgid/group bits. Put the class folder on a local disk (ext4, xfs)."
        )


def _write_new(path: Path, content: bytes) -> None:
    if path.exists():
        return  # the teacher's copy wins
    path.write_bytes(content)
    os.chmod(path, 0o644)


def _check_group(group: str) -> None:
    try:
        grp.getgrnam(group)
    except KeyError:
        raise ConfigError(
            f"Group {group!r} does not exist on this machine. Create it and add each participant, as root: "
            f"`groupadd {group}`, then `usermod -aG {group} <user>` for each participant; then run this again."
        ) from None


def _instructor_names(instructors: Sequence[str]) -> list[str]:
    if isinstance(instructors, str):
        raise ConfigError(f"instructors={instructors!r}: give a list of user names, e.g. [{instructors!r}].")
    names = [str(name).strip() for name in instructors]
    if any(not name or any(c.isspace() for c in name) for name in names):
        raise ConfigError(f"instructors={list(instructors)!r}: each must be a user name, without spaces.")
    return names


def add_init_parser(workshop_sub) -> None:
    """Add ``init`` to the ``workshop`` sub-parsers (handler: ``cmd_init``)."""
    p = workshop_sub.add_parser("init", help="make a class folder: lessons, a shared runs root, server config")
    p.add_argument("folder", help="the class folder to create (must not exist, or be empty)")
    p.add_argument("--group", help="Unix group of the class; runs/ is given to it")
    p.add_argument(
        "--instructor",
        action="append",
        default=[],
        metavar="NAME",
        help="user who may stop anyone's run (repeat for several)",
    )
    p.add_argument("--force", action="store_true", help="add missing pieces to an existing folder, keeping the rest")
    p.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    folder = init_workshop(args.folder, group=args.group, instructors=args.instructor, force=args.force)
    runs = folder / "runs"
    info = runs.stat()
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:  # a gid with no name on this machine
        group = str(info.st_gid)
    print(f"Class folder: {folder}")
    print(f"  {folder / 'notebooks'}  ({len(list((folder / 'notebooks').glob('*.ipynb')))} notebooks)")
    print(f"  {runs}  (shared runs root, mode {stat.S_IMODE(info.st_mode):o}, group {group})")
    print(f"  {folder / CONFIG_FILE}")
    print(f"  {folder / 'README.md'}")
    if args.force:
        print("  (--force: files already there were kept as they were)")
    print("Next:")
    if args.group:
        print(f"  1. add each participant to the group: usermod -aG {args.group} <user>")
    else:
        print(f"  1. make a class group (README.md), then: chgrp GROUP {runs} && chmod 2775 {runs}")
    print(f"  2. point JupyterHub's servers at {folder / CONFIG_FILE} (see README.md)")
    print("  3. run `ft-jupyter doctor` on this machine, then start jupyterhub")
    return 0
