"""`ft-jupyter workshop init`: the class folder a teacher gets, and what a second run may and may not touch."""

from __future__ import annotations

import argparse
import grp
import os
import shutil
import stat

import pytest
from traitlets.config.loader import PyFileConfigLoader

from ft_jupyter.config import ConfigError
from ft_jupyter.lessons import lessons_dir
from ft_jupyter.workshop.setup import add_init_parser, init_workshop


def _other_group() -> grp.struct_group:
    """A group that differs from the one a new folder gets by default, when this process may use one."""
    default = os.getegid()
    candidates = [entry.gr_gid for entry in grp.getgrall()] if os.geteuid() == 0 else os.getgroups()
    for gid in candidates:
        if gid != default:
            try:
                return grp.getgrgid(gid)
            except KeyError:
                continue
    return grp.getgrgid(os.getgid())


def test_folder_holds_every_lesson_a_shared_runs_root_and_a_readme(tmp_path):
    folder = init_workshop(tmp_path / "class")

    assert folder == (tmp_path / "class").resolve()
    shipped = sorted(path.name for path in lessons_dir().glob("*.ipynb"))
    assert "00_quickstart.ipynb" in shipped and "workbench.ipynb" in shipped
    assert sorted(path.name for path in (folder / "notebooks").iterdir()) == shipped
    for name in shipped:
        assert (folder / "notebooks" / name).read_bytes() == (lessons_dir() / name).read_bytes()
    runs = folder / "runs"
    assert stat.S_IMODE(runs.stat().st_mode) == 0o2775
    assert str(runs) in (folder / "README.md").read_text(encoding="utf-8")


def test_server_config_loads_with_the_runs_root_and_instructors(tmp_path):
    # A quote in the path and in a name would break a config built by pasting strings.
    folder = init_workshop(tmp_path / "ml class 'a'", instructors=["alice", "o'brien"])

    config = PyFileConfigLoader("jupyter_server_config.py", path=str(folder)).load_config()
    assert config.FtJupyter.runs_dir == str(folder / "runs")
    assert config.FtJupyter.instructors == ["alice", "o'brien"]
    assert "root_dir" not in config.ServerApp  # participants keep their home


def test_group_is_given_to_the_runs_root_and_setgid_survives(tmp_path):
    group = _other_group()
    folder = init_workshop(tmp_path / "class", group=group.gr_name)

    info = (folder / "runs").stat()
    assert info.st_gid == group.gr_gid
    assert stat.S_IMODE(info.st_mode) == 0o2775


def test_unknown_group_says_how_to_create_it_and_leaves_nothing(tmp_path):
    with pytest.raises(ConfigError, match="groupadd ftj-no-such-class") as caught:
        init_workshop(tmp_path / "class", group="ftj-no-such-class")
    assert "usermod -aG ftj-no-such-class" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_failure_half_way_removes_the_temporary_folder(tmp_path, monkeypatch):
    group = grp.getgrgid(os.getgid()).gr_name

    def refuse(path, user=None, group=None):
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(shutil, "chown", refuse)
    with pytest.raises(ConfigError, match="not a member"):
        init_workshop(tmp_path / "class", group=group)
    assert list(tmp_path.iterdir()) == []


def test_second_run_refuses_without_force_and_only_fills_gaps_with_force(tmp_path):
    folder = init_workshop(tmp_path / "class", instructors=["alice"])
    readme = folder / "README.md"
    readme.write_text("Our class notes.\n", encoding="utf-8")
    os.utime(readme, (1_000_000, 1_000_000))
    deleted = folder / "notebooks" / "00_quickstart.ipynb"
    deleted.unlink()
    config_before = (folder / "jupyter_server_config.py").read_text(encoding="utf-8")

    with pytest.raises(ConfigError, match="--force"):
        init_workshop(folder, instructors=["bob"])
    assert not deleted.exists()
    assert readme.read_text(encoding="utf-8") == "Our class notes.\n"
    assert readme.stat().st_mtime == 1_000_000

    init_workshop(folder, instructors=["bob"], force=True)
    assert deleted.read_bytes() == (lessons_dir() / deleted.name).read_bytes()
    assert readme.read_text(encoding="utf-8") == "Our class notes.\n"
    assert readme.stat().st_mtime == 1_000_000
    assert (folder / "jupyter_server_config.py").read_text(encoding="utf-8") == config_before


def test_cli_init_writes_the_folder_and_prints_the_runs_root(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="ft-jupyter workshop")
    add_init_parser(parser.add_subparsers(dest="action", required=True))
    args = parser.parse_args(["init", str(tmp_path / "class"), "--instructor", "alice"])

    assert args.func(args) == 0
    out = capsys.readouterr().out
    runs = (tmp_path / "class" / "runs").resolve()
    assert str(runs) in out
    assert "2775" in out
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(tmp_path / "class")).load_config()
    assert config.FtJupyter.instructors == ["alice"]
