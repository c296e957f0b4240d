"""constraints.txt pins every direct dependency at a version its range in pyproject.toml allows, and make uses it."""

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            pins[canonicalize_name(name)] = Version(version.strip())
    return pins


def _direct() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    specs = (
        project["project"]["dependencies"]
        + [s for group in extras.values() for s in group]
        + project["build-system"]["requires"]
    )
    return [Requirement(s) for s in specs]


def test_every_direct_dependency_is_pinned_within_its_range():
    pins, missing, outside = _lock(), [], []
    for req in _direct():
        name = canonicalize_name(req.name)
        if name == "torch":
            continue  # installed first by the Makefile (see the next test)
        if name not in pins:
            missing.append(req.name)
        elif not req.specifier.contains(pins[name], prereleases=True):
            outside.append(f"{req.name}=={pins[name]} (pyproject asks {req.specifier})")
    assert not missing, f"not in constraints.txt: {missing}; run `make lock`"
    assert not outside, f"pins outside their ranges: {outside}; run `make lock`"


def test_torch_is_left_to_the_makefile_and_its_pin_fits_the_range():
    assert "torch" not in _lock()  # a user's CUDA build must never be replaced by the lock
    makefile = (ROOT / "Makefile").read_text()
    pinned = re.search(r"^TORCH_INSTALL \?= torch==(\S+)", makefile, re.M)
    assert pinned, "the Makefile must install an exact torch first"
    torch_req = next(r for r in _direct() if r.name == "torch")
    assert torch_req.specifier.contains(pinned.group(1))


def test_make_installs_through_the_lock_including_the_build_environment():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^export PIP_CONSTRAINT := \$\(abspath \$\(LOCK\)\)$", makefile, re.M)
    assert re.search(r"^LOCK\s+:= constraints.txt$", makefile, re.M)
    assert "$(LOCK)" in re.search(r"^\$\(STAMP\):.*$", makefile, re.M).group(0)  # a new lock reinstalls
